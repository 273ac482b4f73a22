"""Real-time push and notifications (issue #4): the town officer sends a DING from the console;
grid1's already-open mobile page shows it full-screen without a reload; grid1 confirms; the
sender's open DING detail moves grid1 to 已读 with the time, live; the inbox badge follows.
Alerts (a returnee's positive NAT result) look urgent in both inboxes and open the returnee;
the badge and the inbox page show one unread count, and 全部已读 leaves unconfirmed DINGs."""

from __future__ import annotations

import json
import os
import re
import time

import httpx
import orjson
from playwright.sync_api import expect

from zhengding.core.clock import now
from zhengding.privacy.idcard import check_digit
from zhengding.returnees import signing

from .conftest import DemoServer, console_login, mobile_login, screenshot

TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _signed_post(server: DemoServer, path: str, item: dict) -> dict:
    """POST as the health-code system (the demo seed's inbound source) signs it."""
    source = json.loads((server.var_dir / "demo-accounts.json").read_text(encoding="utf-8"))[
        "inbound_sources"
    ][0]
    body = orjson.dumps(item)
    headers = signing.signed_headers(
        source["key_id"], source["secret"], "POST", path, body, timestamp=int(time.time())
    )
    r = httpx.post(server.base_url + path, content=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def _positive_returnee(server: DemoServer) -> str:
    """A returnee to grid1's village whose NAT result comes back positive: grid1 (the village) and
    the town command get an inbox entry of kind "alert". Returns the returnee's id."""
    first17 = "460105" + "1990" + "0307" + f"{int.from_bytes(os.urandom(2)) % 1000:03d}"
    id_number = first17 + check_digit(first17)
    returnee = _signed_post(
        server,
        "/api/inbound/registrations",
        {
            "registration_id": f"BROWSER-ALERT-{os.urandom(4).hex()}",
            "name": "符海燕",
            "id_number": id_number,
            "phone": "13907560000",
            "origin_province": "广东省",
            "origin_city": "广州市",
            "origin_risk_area": False,
            "port_of_entry": "海口美兰国际机场",
            "arrived_at": "2022-01-25T14:30:00+08:00",
            "transport": "flight",
            "transport_no": "CZ6731",
            "destination": "海口市秀英区秀华社区5栋302",
            "health_code": "green",
        },
    )
    assert returnee["dispatch"] == "village", returnee
    _signed_post(
        server,
        "/api/inbound/nat-results",
        {
            "id_number": id_number,
            "sampled_at": now().replace(microsecond=0).isoformat(),
            "result": "positive",
            "lab": "海南省疾控中心",
            "sample_id": "S" + os.urandom(6).hex(),
        },
    )
    return str(returnee["id"])


def _api_get(server: DemoServer, username: str, path: str, **params: str | int) -> dict:
    """GET as `username` (a session of its own, logged out after)."""
    token = server.login_token(username)
    with server.api() as c:
        r = c.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        c.post("/auth/logout", headers={"Authorization": f"Bearer {token}"})
    return dict(r.json())


def _notifications(server: DemoServer, username: str, **params: str | int) -> list[dict]:
    return list(_api_get(server, username, "/notifications", limit=100, **params)["items"])


def _settled_badge(badge, server: DemoServer, username: str) -> int:  # type: ignore[no-untyped-def]
    """The server's unread count, once the page's badge shows it (the page loaded its count)."""
    count = int(_api_get(server, username, "/notifications/unread-count")["unread_count"])
    if count:
        expect(badge).to_have_text(str(count) if count <= 99 else "99+")
    else:
        expect(badge).to_be_hidden()
    return count


def _alert_entry(server: DemoServer, username: str, returnee_id: str) -> dict:
    return next(n for n in _notifications(server, username, kind="alert") if n["object_id"] == returnee_id)


def _unconfirmed_dings(server: DemoServer, username: str) -> int:
    return len(_notifications(server, username, unread="true", kind="ding"))


def _send_ding(server: DemoServer, sender: str, user_id: str, content: str) -> None:
    token = server.login_token(sender)
    with server.api() as c:
        r = c.post(
            "/ding",
            json={"content": content, "user_ids": [user_id], "unit_ids": [], "sms": False},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text


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
        before = _settled_badge(mobile_badge, server, "grid1")
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
        before = _settled_badge(badge, server, "town")
        _no_reload_marker(pc)

        _send_ding(server, "xiuying", town_me["id"], "区指挥部：请立即核对街道值班表")

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
        # the confirmation reached the badge (the read event or the refetch after it)
        if _settled_badge(badge, server, "town"):
            read_all = pc.get_by_test_id("read-all")
            expect(read_all).to_be_enabled()
            read_all.click()
        # 全部已读 clears every entry except DINGs still waiting for their own confirmation (other
        # tests may have left some for the town officer): the badge ends at exactly that number.
        # The header badge and the inbox's 未读 tab show that one count.
        unconfirmed = _unconfirmed_dings(server, "town")
        if unconfirmed:
            expect(badge).to_have_text(str(unconfirmed))
            expect(pc.get_by_test_id("inbox-unread-count")).to_have_text(f"（{unconfirmed}）")
        else:
            expect(badge).to_be_hidden()
            expect(pc.get_by_test_id("inbox-unread-count")).to_have_count(0)
        screenshot(pc, "console-inbox")


class TestUrgentAlerts:
    def test_alert_is_urgent_in_both_inboxes_and_opens_the_returnee(
        self, mobile_page, console_page, server: DemoServer
    ):
        returnee_id = _positive_returnee(server)

        # grid1's phone: the alert stands out (警报, red) and opens the returnee; it is read then
        phone = mobile_page
        mobile_login(phone, server, "grid1")
        entry = _alert_entry(server, "grid1", returnee_id)
        assert entry["read"] is False
        phone.get_by_test_id("tab-inbox").click()
        item = phone.get_by_test_id(f"notification-{entry['id']}")
        expect(item).to_be_visible()
        expect(item).to_have_class(re.compile(r"\burgent\b"))
        expect(item).to_have_class(re.compile(r"\bunread\b"))
        expect(phone.get_by_test_id(f"kind-{entry['id']}")).to_have_text("警报")
        expect(item).to_contain_text("核酸阳性预警")
        screenshot(phone, "mobile-inbox-alert")
        item.click()
        expect(phone).to_have_url(re.compile(rf"#/returnees/{returnee_id}$"))
        expect(phone.get_by_test_id("returnee-card")).to_contain_text("秀华社区")
        assert _alert_entry(server, "grid1", returnee_id)["read"] is True

        # the town officer's console: the same alert is a red 警报 row that opens the returnee
        pc = console_page
        console_login(pc, server, "town")
        town_entry = _alert_entry(server, "town", returnee_id)
        pc.get_by_test_id("inbox-bell").click()
        expect(pc).to_have_url(re.compile(r"#/inbox$"))
        tag = pc.get_by_test_id(f"kind-{town_entry['id']}")
        expect(tag).to_have_text("警报")
        expect(tag).to_have_class(re.compile(r"el-tag--danger"))
        row = pc.locator("[data-testid=inbox-table] tr.el-table__row", has=tag)
        expect(row).to_have_class(re.compile(r"\burgent-row\b"))
        screenshot(pc, "console-inbox-alert")
        row.get_by_text("返乡人员核酸阳性预警").click()
        expect(pc).to_have_url(re.compile(rf"#/returnees/{returnee_id}$"))
        assert _alert_entry(server, "town", returnee_id)["read"] is True


class TestUnreadCount:
    def test_mobile_badge_and_inbox_agree_and_read_all_leaves_unconfirmed_dings(
        self, mobile_page, server: DemoServer
    ):
        """A DING sent while grid1 is away stays unread after 全部已读 (it is read by confirming it):
        the tab badge and the inbox's 未读 count show the same number, the server's."""
        grid1_me = server.me("grid1")
        _send_ding(server, "town", grid1_me["id"], "请核对本村今日返乡人员名单（浏览器测试）")
        _positive_returnee(server)  # and an alert: an entry 全部已读 does read

        phone = mobile_page
        mobile_login(phone, server, "grid1")
        badge = phone.get_by_test_id("tab-inbox").locator(".van-badge")
        phone.get_by_test_id("tab-inbox").click()
        before = _settled_badge(badge, server, "grid1")
        count = phone.get_by_test_id("inbox-unread-count")
        expect(count).to_have_text(str(before))
        assert before > _unconfirmed_dings(server, "grid1") >= 1

        phone.get_by_test_id("read-all").click()
        expect(phone.locator(".van-toast")).to_contain_text("DING 需逐条确认")
        unconfirmed = _unconfirmed_dings(server, "grid1")
        expect(badge).to_have_text(str(unconfirmed))
        expect(count).to_have_text(str(unconfirmed))
        # the DING entries are still marked as waiting for their confirmation
        expect(phone.get_by_test_id("inbox-list").locator(".item.unread.urgent").first).to_contain_text(
            "待确认"
        )
        screenshot(phone, "mobile-inbox-read-all")
