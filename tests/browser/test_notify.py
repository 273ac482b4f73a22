"""Real-time push and notifications (issue #4): the town officer sends a DING from the console;
grid1's already-open mobile page shows it full-screen without a reload; grid1 confirms; the
sender's open DING detail moves grid1 to 已读 with the time, live; the inbox badge follows."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .conftest import DemoServer, console_login, mobile_login, screenshot

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _badge(locator) -> int:  # type: ignore[no-untyped-def]
    """The number on a badge ('' or hidden → 0)."""
    if not locator.count() or not locator.first.is_visible():
        return 0
    text = locator.first.inner_text().strip()
    return int(text) if text.isdigit() else 0


def _no_reload_marker(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate("() => { window.__noReload = true }")


def _not_reloaded(page) -> bool:  # type: ignore[no-untyped-def]
    return bool(page.evaluate("() => window.__noReload === true"))


class TestLiveDing:
    def test_town_dings_grid1_who_sees_it_live_and_the_read_receipt_comes_back(
        self, mobile_page, console_page, server: DemoServer
    ):
        town_me = server.me("town")
        grid1_me = server.me("grid1")
        assert "notify.ding.send" in town_me["permissions"]
        assert "notify.ding.send" not in grid1_me["permissions"]
        content = "紧急：今晚 20:00 前上报辖区返乡人员核酸检测情况（浏览器测试）"

        # grid1 is on the workbench of the mobile app, socket open
        phone = mobile_page
        mobile_login(phone, server, "grid1")
        mobile_badge = phone.get_by_test_id("tab-inbox").locator(".van-badge")
        phone.wait_for_timeout(800)
        before = _badge(mobile_badge)
        _no_reload_marker(phone)
        # no "发 DING" for a grid worker
        phone.get_by_test_id("tab-inbox").click()
        expect(phone.get_by_test_id("inbox-list")).to_be_attached()
        expect(phone.get_by_test_id("ding-new")).to_have_count(0)
        phone.locator(".van-tabbar-item", has_text="工作台").click()
        phone.get_by_text("待办事项").wait_for()

        # the town officer composes the DING in the console
        pc = console_page
        console_login(pc, server, "town")
        pc.get_by_test_id("menu-ding").click()
        pc.get_by_test_id("ding-new").click()
        expect(pc).to_have_url(re.compile(r"#/ding/new$"))
        pc.locator("textarea[name=ding-content]").fill(content)
        people = pc.get_by_test_id("ding-people")
        people.click()
        people.locator("input").fill(grid1_me["name"])
        pc.get_by_test_id(f"option-{grid1_me['id']}").click()
        pc.keyboard.press("Escape")
        expect(people).to_contain_text(grid1_me["name"])
        pc.locator("input[name=ding-delay]").fill("15")
        pc.locator("textarea[name=ding-content]").click()  # close the dropdown, commit the number
        screenshot(pc, "console-ding-compose")
        pc.get_by_test_id("ding-send").click()

        expect(pc).to_have_url(re.compile(r"#/ding/[0-9A-Z]{26}$"))
        ding_id = pc.url.rsplit("/", 1)[-1]
        expect(pc.get_by_test_id("ding-content")).to_have_text(content)
        unread = pc.get_by_test_id("ding-unread-list")
        read = pc.get_by_test_id("ding-read-list")
        expect(unread).to_contain_text(grid1_me["name"])
        expect(read).not_to_contain_text(grid1_me["name"])
        expect(pc.get_by_test_id("ding-read-count")).to_have_text("0")
        expect(pc.get_by_test_id("ding-unread-count")).to_have_text("1")
        expect(pc.get_by_test_id("ding-remind")).to_be_enabled()
        _no_reload_marker(pc)
        screenshot(pc, "console-ding-detail-unread")

        # grid1's open page shows the DING full-screen, no reload; the badge went up
        prompt = phone.get_by_test_id("ding-prompt")
        expect(prompt).to_be_visible(timeout=10_000)
        expect(prompt).to_contain_text(content)
        expect(phone.get_by_test_id("ding-prompt-sender")).to_contain_text(town_me["name"])
        expect(mobile_badge).to_have_text(str(before + 1))
        box = prompt.bounding_box()
        assert box and box["width"] >= 389 and box["height"] >= 843, box  # covers the screen
        assert _not_reloaded(phone), "the mobile page was reloaded"
        screenshot(phone, "mobile-ding-prompt")

        phone.get_by_test_id("ding-confirm").click()
        expect(prompt).to_be_hidden()
        # confirming read the DING's inbox entry: the badge comes back down, live
        if before:
            expect(mobile_badge).to_have_text(str(before))
        else:
            expect(mobile_badge).to_be_hidden()
        assert _not_reloaded(phone), "the mobile page was reloaded"

        # the sender's open detail moves grid1 to 已读 with the time, live
        row = read.locator("tr", has_text=grid1_me["name"])
        expect(row).to_be_visible(timeout=10_000)
        expect(row).to_contain_text(TIME)
        expect(unread).not_to_contain_text(grid1_me["name"])
        expect(pc.get_by_test_id("ding-read-count")).to_have_text("1")
        expect(pc.get_by_test_id("ding-unread-count")).to_have_text("0")
        expect(pc.get_by_test_id("ding-remind")).to_be_disabled()
        assert _not_reloaded(pc), "the console page was reloaded"
        screenshot(pc, "console-ding-detail-read")

        # grid1's inbox lists the DING; its page shows the confirmation
        phone.get_by_test_id("tab-inbox").click()
        phone.get_by_test_id("inbox-list").get_by_text(f"{town_me['name']}发来DING消息").first.wait_for()
        screenshot(phone, "mobile-ding-inbox")
        phone.get_by_test_id("inbox-list").get_by_text(content).first.click()
        expect(phone).to_have_url(re.compile(rf"#/ding/{ding_id}$"))
        expect(phone.get_by_test_id("ding-my-state")).to_contain_text("确认已读")
        expect(phone.get_by_test_id("ding-my-state")).to_contain_text(TIME)
        screenshot(phone, "mobile-ding-detail")

    def test_console_badge_counts_live_and_read_all_clears_it(self, console_page, server: DemoServer):
        """A DING to the town officer (from the county) raises the console header badge live;
        the prompt shows on the console too; 全部已读 in the inbox brings it back to 0."""
        town_me = server.me("town")
        pc = console_page
        console_login(pc, server, "town")
        badge = pc.get_by_test_id("inbox-badge").locator(".el-badge__content")
        pc.wait_for_timeout(800)
        before = _badge(badge)
        _no_reload_marker(pc)

        token = server.login_token("xiuying")
        with server.api() as c:
            r = c.post("/ding", json={"content": "区指挥部：请立即核对街道值班表", "user_ids": [town_me["id"]],
                                      "unit_ids": [], "sms": False},
                       headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201, r.text

        prompt = pc.get_by_test_id("ding-prompt")
        expect(prompt).to_be_visible(timeout=10_000)
        expect(prompt).to_contain_text("请立即核对街道值班表")
        expect(badge).to_have_text(str(before + 1))
        screenshot(pc, "console-ding-prompt")
        pc.get_by_test_id("ding-confirm").click()
        expect(prompt).to_be_hidden()
        assert _not_reloaded(pc)

        pc.get_by_test_id("inbox-bell").click()
        expect(pc).to_have_url(re.compile(r"#/inbox$"))
        expect(pc.get_by_test_id("inbox-table")).to_contain_text("陈区指发来DING消息")
        read_all = pc.get_by_test_id("read-all")
        if _badge(badge) and read_all.is_enabled():
            read_all.click()
        # 全部已读 clears every entry except DINGs still waiting for their own confirmation (other
        # tests may have left some for the town officer): the badge ends at exactly that number.
        town_token = server.login_token("town")
        with server.api() as c:
            r = c.get("/notifications", params={"unread": "true", "kind": "ding", "limit": 100},
                      headers={"Authorization": f"Bearer {town_token}"})
            assert r.status_code == 200, r.text
            unconfirmed = len(r.json()["items"])
        if unconfirmed:
            expect(badge).to_have_text(str(unconfirmed))
        else:
            expect(badge).to_be_hidden()
        screenshot(pc, "console-inbox")
