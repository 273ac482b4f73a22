"""Returnees on the mobile app: a signed POST from the health-code system appears on the grid
worker's open page without a reload; the grid worker acknowledges it there."""

from __future__ import annotations

import json
import time

import httpx
import orjson
from playwright.sync_api import expect

from zhengding.returnees import signing

from .conftest import DemoServer, mobile_login, screenshot


def _post_arrival(server: DemoServer, destination: str) -> dict:
    source = json.loads((server.var_dir / "demo-accounts.json").read_text(encoding="utf-8"))[
        "inbound_sources"
    ][0]
    stamp = int(time.time() * 1000)
    item = {
        "registration_id": f"BROWSER-{stamp}",
        "name": "符琼英",
        "id_number": "460105199003071239",
        "phone": "13907561234",
        "origin_province": "广东省",
        "origin_city": "广州市",
        "origin_risk_area": False,
        "port_of_entry": "海口美兰国际机场",
        "arrived_at": "2022-01-25T14:30:00+08:00",
        "transport": "flight",
        "transport_no": "CZ6731",
        "destination": destination,
        "health_code": "green",
    }
    path = "/api/inbound/registrations"
    body = orjson.dumps(item)
    headers = signing.signed_headers(
        source["key_id"], source["secret"], "POST", path, body, timestamp=int(time.time())
    )
    r = httpx.post(server.base_url + path, content=body, headers=headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


class TestLiveArrival:
    def test_arrival_appears_on_grid1s_open_page_without_reload(self, mobile_page, server: DemoServer):
        page = mobile_page
        mobile_login(page, server, "grid1")
        page.goto("/m/#/returnees")
        expect(page.get_by_role("tab", name="待签收")).to_be_visible()
        page.wait_for_timeout(800)  # the list loaded and the socket is open
        page.evaluate("() => { window.__noReload = true }")
        result = _post_arrival(server, "海口市秀英区秀华社区5栋302")
        assert result["dispatch"] == "village"
        item = page.locator(f"[data-testid=returnee-item][data-id='{result['id']}']")
        expect(item).to_be_visible(timeout=5000)
        expect(item).to_contain_text("符*")
        expect(item).to_contain_text("海口美兰国际机场")
        expect(page.get_by_test_id("fresh-banner")).to_contain_text("新到")
        assert page.evaluate("() => window.__noReload === true"), "the page was reloaded"
        assert "13907561234" not in page.content()
        screenshot(page, "mobile-returnees-live")
        item.get_by_test_id("ack").click()
        expect(item).to_contain_text("已签收")
        item.click()
        expect(page.get_by_test_id("returnee-card")).to_contain_text("秀华社区")
        expect(page.get_by_test_id("returnee-phone")).to_contain_text("139****1234")
        screenshot(page, "mobile-returnee-detail")

    def test_a_sibling_villages_arrival_does_not_show(self, mobile_page, server: DemoServer):
        page = mobile_page
        mobile_login(page, server, "grid1")
        page.goto("/m/#/returnees")
        expect(page.get_by_role("tab", name="待签收")).to_be_visible()
        page.wait_for_timeout(800)
        other = _post_arrival(server, "海口市秀英区秀英街道秀海社区居民委员会")
        mine = _post_arrival(server, "海口市秀英区秀华社区8栋")
        expect(page.locator(f"[data-id='{mine['id']}']")).to_be_visible(timeout=5000)
        expect(page.locator(f"[data-id='{other['id']}']")).to_have_count(0)
