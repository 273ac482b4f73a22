"""Supervision (督办) end to end: a leader assigns an item on the console, the owner's open mobile
to-do page shows it live, the owner replies, and the reply appears on the leader's board."""

from __future__ import annotations

import re
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
        mobile_page.get_by_test_id("sv-reply-text").locator("textarea").fill(
            "已排查 3 个村，发现返乡人员 12 人，均已登记"
        )
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

    def test_unit_owner_reports_with_attachment_splits_and_leader_cancels(
        self, console_page, browser, server: DemoServer
    ):
        """A unit as owner on the console: the town's staff find the item under 我的督办, report progress
        with an uploaded attachment, split part of it down to a grid worker (sub-item rolls up); the
        leader changes the deadline and cancels; 督办统计 is highlighted on its own page."""
        from datetime import UTC, datetime, timedelta

        from .conftest import DESKTOP, _context

        grid = server.accounts["grid1"]
        title = f"落实农贸市场消杀-{int(time.time())}"
        town_unit = server.me("town")["units"][0]["id"]
        deadline = datetime.now(UTC) + timedelta(days=3)
        with server.api() as c:
            r = c.post(
                "/supervision/items",
                headers={"Authorization": f"Bearer {server.login_token('haikou')}"},
                json={
                    "title": title,
                    "content": "请完成辖区农贸市场消杀并上传台账",
                    "deadline": deadline.isoformat(),
                    "owners": [{"unit_id": town_unit}],
                },
            )
            assert r.status_code == 201, r.text

        # the town's staff act for their unit on the console
        town = console_page
        console_login(town, server, "town")
        town.get_by_test_id("menu-supervision-todos").click()
        row = town.get_by_test_id("sv-todos").locator("tr", has_text=title)
        expect(row).to_contain_text("待办理")
        row.click()
        drawer = town.locator(".el-drawer")
        expect(drawer).to_contain_text(title)
        drawer.locator("[data-testid^=sv-report-]").first.click()
        dialog = town.locator(".el-dialog", has_text="报送落实情况")
        dialog.get_by_test_id("sv-report-text").fill("已完成 6 个农贸市场消杀，台账见附件")
        dialog.locator("input[type=file]").set_input_files(
            files=[
                {
                    "name": "消杀台账.csv",
                    "mimeType": "text/csv",
                    "buffer": "市场,时间\n秀英市场,09:00\n".encode(),
                }
            ]
        )
        expect(dialog.locator(".el-upload-list__item.is-success")).to_contain_text("消杀台账.csv")
        screenshot(town, "console-supervision-report")
        dialog.get_by_test_id("sv-report-submit").click()
        expect(drawer.get_by_test_id("sv-history")).to_contain_text("消杀台账.csv")
        expect(drawer.get_by_test_id("sv-owners")).to_contain_text("办理中")

        # split part of the work down to a grid worker: the sub-item shows in the detail
        drawer.locator("[data-testid^=sv-split-]").first.click()
        split = town.locator(".el-dialog", has_text="分解交办子事项")
        split.get_by_test_id("sv-owner-people").locator("input").fill(grid["name"])
        town.locator(".el-select-dropdown__item", has_text=grid["name"]).first.click()
        split.get_by_test_id("sv-submit").click()
        children = drawer.get_by_test_id("sv-children")
        expect(children).to_contain_text(grid["name"])
        expect(children).to_contain_text("待办理")
        screenshot(town, "console-supervision-split")

        # the leader moves the deadline, then cancels; 督办统计 is highlighted on its own page
        ctx = _context(browser, server, DESKTOP, mobile=False)
        try:
            leader = ctx.new_page()
            console_login(leader, server, "haikou")
            leader.get_by_test_id("menu-supervision-stats").click()
            leader.get_by_test_id("sv-stats-summary").wait_for()
            expect(leader.get_by_test_id("menu-supervision-stats")).to_have_class(re.compile(r"is-active"))
            expect(leader.get_by_test_id("menu-supervision")).not_to_have_class(re.compile(r"is-active"))
            leader.get_by_test_id("menu-supervision").click()
            expect(leader.get_by_test_id("menu-supervision")).to_have_class(re.compile(r"is-active"))
            leader.get_by_test_id("sv-board").locator("tr", has_text=title).filter(
                has_not_text="（分解）"
            ).click()
            ldrawer = leader.locator(".el-drawer")
            expect(ldrawer.get_by_test_id("sv-history")).to_contain_text("消杀台账.csv")
            ldrawer.get_by_test_id("sv-deadline-change").click()
            picker = leader.locator(".el-dialog", has_text="调整办理时限").locator("input").first
            picker.fill(
                (deadline + timedelta(days=2) + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
            )  # Asia/Shanghai
            picker.press("Enter")
            leader.get_by_test_id("sv-deadline-submit").click()
            expect(ldrawer.get_by_test_id("sv-history")).to_contain_text("办理时限由")
            ldrawer.get_by_test_id("sv-cancel").click()
            box = leader.locator(".el-message-box")
            box.locator("input").fill("已由市场监管部门统一组织")
            box.get_by_role("button", name="撤销").click()
            expect(ldrawer.get_by_test_id("sv-item-status")).to_have_text("已撤销")
            screenshot(leader, "console-supervision-cancelled")
        finally:
            ctx.close()
        # the owner's open drawer follows live; the item leaves the to-do list
        expect(drawer.get_by_test_id("sv-item-status")).to_have_text("已撤销", timeout=15_000)
