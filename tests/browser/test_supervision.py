"""Supervision (督办) end to end: a leader assigns an item on the console, the owner's open mobile
to-do page shows it live, the owner replies, and the reply appears on the leader's board."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from .conftest import DemoServer, console_login, mobile_login, screenshot


class TestSupervision:
    def test_assign_live_to_owner_reply_live_to_leader(self, console_page, mobile_page, server: DemoServer):
        leader, owner = server.accounts["haikou"], server.accounts["town"]
        title = f"落实返乡人员排查-{int(time.time())}"

        # the owner's to-do page is open on the phone
        mobile_login(mobile_page, server, "town")
        mobile_page.goto("/m/#/supervision")
        expect(mobile_page.get_by_role("tab", name="抄送我的")).to_be_visible()
        expect(mobile_page.get_by_text(title)).to_have_count(0)

        # the leader assigns on the console
        console = console_page
        console_login(console, server, "haikou")
        console.get_by_test_id("menu-supervision").click()
        console.get_by_test_id("sv-board").wait_for()
        console.get_by_test_id("sv-new").click()
        dialog = console.locator(".el-dialog", has_text="新建督办事项")
        dialog.get_by_test_id("sv-title").fill(title)
        dialog.get_by_test_id("sv-content").fill("请今日内完成辖区返乡人员排查并报送")
        dialog.get_by_test_id("sv-owner-people").locator("input").fill(owner["name"])
        console.locator(".el-select-dropdown__item", has_text=owner["name"]).first.click()
        expect(dialog.get_by_test_id("sv-owner-list")).to_contain_text(owner["name"])
        screenshot(console, "console-supervision-create")
        dialog.get_by_test_id("sv-submit").click()
        drawer = console.locator(".el-drawer")
        expect(drawer).to_contain_text(title)
        expect(drawer.get_by_test_id("sv-owners")).to_contain_text("待办理")

        # live on the phone, without reloading
        card = mobile_page.locator("[data-testid^=sv-todo-]", has_text=title)
        expect(card).to_be_visible(timeout=15_000)
        screenshot(mobile_page, "mobile-supervision-todos")
        card.click()
        expect(mobile_page.get_by_test_id("sv-detail-title")).to_have_text(title)
        mobile_page.get_by_test_id("sv-reply-text").locator("textarea").fill("已排查 3 个村，发现返乡人员 12 人，均已登记")
        screenshot(mobile_page, "mobile-supervision-reply")
        mobile_page.get_by_test_id("sv-reply-submit").click()
        expect(mobile_page.get_by_text("进展已报送")).to_be_visible()

        # the reply reaches the leader's open drawer and board live
        expect(drawer.get_by_test_id("sv-history")).to_contain_text("已排查 3 个村", timeout=15_000)
        expect(drawer.get_by_test_id("sv-owners")).to_contain_text("办理中")
        screenshot(console, "console-supervision-drawer")
        drawer.locator(".el-drawer__close-btn").click()
        row = console.get_by_test_id("sv-board").locator("tr", has_text=title)
        expect(row).to_contain_text(f"{owner['name']}·办理中")
        screenshot(console, "console-supervision-board")

        # statistics page renders its ECharts charts
        console.get_by_test_id("menu-supervision-stats").click()
        console.get_by_test_id("sv-stats-summary").wait_for()
        expect(console.get_by_test_id("sv-days-chart").locator("canvas")).to_have_count(1)
        screenshot(console, "console-supervision-stats")
        assert leader["name"]
