"""Returnees on the console: the town officer watches the dashboard change live after a signed
POST from the health-code system, drills down to a village, routes an arrival the resolver could
not place from the manual-routing queue, follows it in the list and its history, and resolves an
anomaly reported by the grid worker; the province drills down from the province to a village."""

from __future__ import annotations

import json
import re
import time

import httpx
import orjson
from playwright.sync_api import expect

from zhengding.returnees import signing

from .conftest import DemoServer, console_login, screenshot
from .test_returnees import _post_arrival

TOWN_ONLY = "海口市秀英区秀英街道"  # resolves to the street only: waits in its routing queue


def _post_batch(server: DemoServer, items: list[dict]) -> dict:
    source = json.loads((server.var_dir / "demo-accounts.json").read_text(encoding="utf-8"))[
        "inbound_sources"
    ][0]
    path = "/api/inbound/registrations/batch"
    body = orjson.dumps({"items": items})
    headers = signing.signed_headers(
        source["key_id"], source["secret"], "POST", path, body, timestamp=int(time.time())
    )
    r = httpx.post(server.base_url + path, content=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def _varied_arrivals(count: int) -> list[dict]:
    """Arrivals across cities, ports and origins (valid ID numbers: the check digit computed)."""
    from zhengding.privacy.idcard import check_digit

    places = [
        "海口市秀英区秀华社区2栋",
        "海口市秀英区秀海社区",
        "海口市龙华区",
        "三亚市吉阳区",
        "海口市秀英区秀英街道",
    ]
    ports = ["海口美兰国际机场", "三亚凤凰国际机场", "海口新海港", "海口火车站"]
    origins = [("广东省", "深圳市"), ("北京市", "北京市"), ("湖南省", "长沙市"), ("四川省", "成都市")]
    stamp = int(time.time() * 1000)
    out = []
    for i in range(count):
        body17 = f"4601051985{(i % 12) + 1:02d}{(i % 27) + 1:02d}{i % 1000:03d}"
        province, city = origins[i % len(origins)]
        out.append(
            {
                "registration_id": f"CONSOLE-{stamp}-{i}",
                "name": "王海" + "明华国建文"[i % 5],
                "id_number": body17 + check_digit(body17),
                "phone": f"139{i:08d}",
                "origin_province": province,
                "origin_city": city,
                "origin_risk_area": i % 4 == 0,
                "port_of_entry": ports[i % len(ports)],
                "arrived_at": f"2022-01-{20 + i % 6}T1{i % 10}:30:00+08:00",
                "transport": "flight",
                "transport_no": f"HU{7000 + i}",
                "destination": places[i % len(places)],
                "health_code": "green",
            }
        )
    return out


def _kpi(page, key: str) -> int:  # type: ignore[no-untyped-def]
    return int(page.get_by_test_id(f"rstats-kpi-{key}").inner_text().strip())


def _village(server: DemoServer) -> str:
    return server.accounts["grid1"]["unit_name"]


class TestTownCommand:
    def test_live_dashboard_drill_down_and_manual_routing(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "town")
        page.goto("/console/#/returnees/stats")
        expect(page.get_by_test_id("rstats-current")).to_have_text("秀英街道")
        expect(page.get_by_test_id("rstats-live")).to_be_visible(timeout=10_000)  # the socket is open
        arrivals, routing = _kpi(page, "arrivals"), int(page.get_by_test_id("rstats-routing").inner_text())
        page.evaluate("() => { window.__noReload = true }")

        result = _post_arrival(server, TOWN_ONLY)
        assert result["dispatch"] == "routing", result
        expect(page.get_by_test_id("rstats-kpi-arrivals")).to_have_text(str(arrivals + 1), timeout=5000)
        expect(page.get_by_test_id("rstats-routing")).to_have_text(str(routing + 1))
        assert page.evaluate("() => window.__noReload === true"), "the page was reloaded"
        screenshot(page, "console-returnees-dashboard")

        # drill down to grid1's village (table row; the bars do the same), then back up
        village = _village(server)
        page.get_by_test_id("rstats-table").locator(f"[data-unit='{village}']").click()
        expect(page.get_by_test_id("rstats-current")).to_have_text(village)
        expect(page.get_by_test_id("rstats-breadcrumb")).to_contain_text("秀英街道")
        expect(page.get_by_test_id("rstats-village-table")).to_be_visible()
        village_arrivals = _kpi(page, "arrivals")
        page.get_by_test_id("rstats-crumb-0").click()
        expect(page.get_by_test_id("rstats-current")).to_have_text("秀英街道")

        # the queue: pick the village in the street's subtree
        page.goto("/console/#/returnees/routing")
        row = page.get_by_test_id("routing-table").locator(
            "tr", has=page.get_by_test_id(f"routing-dest-{result['id']}")
        )
        expect(row).to_contain_text("符*")
        expect(row).to_contain_text("秀英街道")
        page.get_by_test_id(f"route-open-{result['id']}").click()
        dialog = page.get_by_test_id("route-dialog")
        tree = dialog.get_by_test_id("village-tree")
        tree.locator("[data-unit='秀英街道']").click()  # the root: expand it
        tree.locator(f"[data-unit='{village}']").click()
        expect(dialog.get_by_test_id("village-chosen")).to_contain_text(village)
        # the search keeps to the street's subtree: a village elsewhere in Haikou is not offered
        dialog.get_by_test_id("village-search").fill(village[:2])
        expect(dialog.get_by_test_id("village-result").first).to_be_visible()
        dialog.get_by_test_id("village-result").filter(has_text=village).first.click()
        dialog.get_by_test_id("route-note").fill("电话核实住址在该社区")
        screenshot(page, "console-returnees-routing")
        dialog.get_by_test_id("route-submit").click()
        expect(page.get_by_text(f"已分派到{village}")).to_be_visible()
        expect(page.get_by_test_id(f"routing-dest-{result['id']}")).to_have_count(0)

        # the village's numbers moved with it
        page.goto("/console/#/returnees/stats")
        page.get_by_test_id("rstats-table").locator(f"[data-unit='{village}']").click()
        expect(page.get_by_test_id("rstats-kpi-arrivals")).to_have_text(str(village_arrivals + 1))
        expect(page.get_by_test_id("rstats-village-table")).to_contain_text("待签收")
        expect(page.locator(".el-loading-mask")).to_have_count(0)
        screenshot(page, "console-returnees-village")

        # the list: masked data, the drawer with the history timeline
        page.goto(f"/console/#/returnees/{result['id']}")
        drawer = page.get_by_test_id("returnee-drawer")
        expect(drawer.get_by_test_id("drawer-unit")).to_have_text(village)
        history = drawer.get_by_test_id("drawer-history")
        expect(history).to_contain_text("进入人工分派队列")
        expect(history).to_contain_text("人工分派到村")
        expect(history).to_contain_text("电话核实住址在该社区")
        expect(drawer.get_by_test_id("drawer-info")).to_contain_text("139****1234")
        content = page.content()
        assert "13907561234" not in content and "460105199003071239" not in content
        screenshot(page, "console-returnees-detail")

    def test_anomaly_board_live_and_resolve(self, console_page, server: DemoServer):
        page = console_page
        arrival = _post_arrival(server, "海口市秀英区秀华社区3栋")
        assert arrival["dispatch"] == "village"
        console_login(page, server, "town")
        page.goto("/console/#/returnees/anomalies")
        expect(page.get_by_test_id("anomaly-table")).to_be_visible()
        page.wait_for_timeout(800)  # the socket is open
        token = server.login_token("grid1")
        with httpx.Client(
            base_url=server.base_url + "/api", timeout=30, headers={"Authorization": f"Bearer {token}"}
        ) as c:
            r = c.post(
                f"/returnees/{arrival['id']}/anomalies", json={"kind": "fever", "description": "体温38.2℃"}
            )
            assert r.status_code == 201, r.text
            anomaly = r.json()
        row = page.get_by_test_id("anomaly-table").locator("tr", has_text="体温38.2℃")
        expect(row).to_be_visible(timeout=5000)
        expect(row).to_contain_text("发热")
        expect(page.get_by_test_id("anomaly-fresh")).to_be_visible()
        # escalated with a DING to the town command: the prompt is confirmed first
        prompt = page.get_by_test_id("ding-prompt")
        expect(prompt.get_by_test_id("ding-prompt-content")).to_contain_text("异常上报", timeout=5000)
        expect(prompt).to_contain_text("发热")
        screenshot(page, "console-returnees-anomaly-ding")
        prompt.get_by_test_id("ding-confirm").click()
        expect(prompt).to_have_count(0)
        page.get_by_test_id(f"resolve-{anomaly['id']}").click()
        page.get_by_test_id("resolve-note").fill("已送发热门诊，核酸阴性，居家监测")
        screenshot(page, "console-returnees-anomalies")
        page.get_by_test_id("resolve-submit").click()
        expect(row).to_have_count(0)
        page.get_by_role("tab", name="已处置").click()
        expect(page.get_by_test_id("anomaly-table")).to_contain_text("已送发热门诊")


class TestProvince:
    def test_drill_down_from_province_to_village(self, console_page, server: DemoServer):
        page = console_page
        answer = _post_batch(server, _varied_arrivals(24))
        assert answer["accepted"] == 24, answer
        console_login(page, server, "province")
        page.goto("/console/#/returnees/stats")
        expect(page.get_by_test_id("rstats-current")).to_have_text("海南省")
        expect(page.get_by_test_id("rstats-port-chart")).to_be_visible()
        page.wait_for_timeout(500)  # the charts' animation
        screenshot(page, "console-returnees-province")
        for name in ("海口市", "秀英区", "秀英街道", _village(server)):
            page.get_by_test_id("rstats-table").locator(f"[data-unit='{name}']").click()
            expect(page.get_by_test_id("rstats-current")).to_have_text(name)
        expect(page.get_by_test_id("rstats-breadcrumb")).to_have_text(
            re.compile("海南省.*海口市.*秀英区.*秀英街道")
        )
        expect(page.get_by_test_id("rstats-village-table")).to_be_visible()
        page.wait_for_timeout(500)  # the charts' animation
        screenshot(page, "console-returnees-province-village")
        page.get_by_test_id("rstats-crumb-0").click()
        expect(page.get_by_test_id("rstats-current")).to_have_text("海南省")


def _arrivals_at(port: str, places: list[tuple[str, str]]) -> list[dict]:
    """Arrivals at one port: (destination, arrival day in January 2022) each."""
    from zhengding.privacy.idcard import check_digit

    stamp = int(time.time() * 1000)
    out = []
    for i, (dest, day) in enumerate(places):
        body17 = f"4601051986{(i % 12) + 1:02d}{(i % 27) + 1:02d}{(stamp + i) % 1000:03d}"
        out.append(
            {
                "registration_id": f"PORT-{stamp}-{i}",
                "name": "林海" + "明华国建文"[i % 5],
                "id_number": body17 + check_digit(body17),
                "phone": f"137{(stamp + i) % 10**8:08d}",
                "origin_province": "广东省",
                "origin_city": "广州市",
                "origin_risk_area": False,
                "port_of_entry": port,
                "arrived_at": f"2022-01-{day}T09:30:00+08:00",
                "transport": "ship",
                "transport_no": "",
                "destination": dest,
                "health_code": "green",
            }
        )
    return out


class TestLiveOversight:
    def test_the_province_dashboard_follows_an_arrival_in_a_village_live(
        self, console_page, server: DemoServer
    ):
        page = console_page
        console_login(page, server, "province")
        page.goto("/console/#/returnees/stats")
        expect(page.get_by_test_id("rstats-current")).to_have_text("海南省")
        expect(page.get_by_test_id("rstats-live")).to_be_visible(timeout=10_000)
        page.wait_for_timeout(500)  # the first load's answer is in
        arrivals = _kpi(page, "arrivals")
        page.evaluate("() => { window.__noReload = true }")
        result = _post_arrival(server, "海口市秀英区秀华社区7栋")
        assert result["dispatch"] == "village"
        # pushed to the province command (not polled: the poll runs once a minute without a socket only)
        expect(page.get_by_test_id("rstats-kpi-arrivals")).to_have_text(str(arrivals + 1), timeout=6000)
        assert page.evaluate("() => window.__noReload === true"), "the page was reloaded"


class TestRoutingQueueLive:
    def test_an_item_routed_elsewhere_leaves_the_open_queue(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "town")
        page.goto("/console/#/returnees/routing")
        expect(page.get_by_test_id("routing-table")).to_be_visible()
        page.wait_for_timeout(800)  # the queue loaded and the socket is open
        before = int(page.get_by_test_id("routing-total").inner_text())
        result = _post_arrival(server, TOWN_ONLY)
        assert result["dispatch"] == "routing"
        dest = page.get_by_test_id(f"routing-dest-{result['id']}")
        expect(dest).to_be_visible(timeout=5000)
        expect(page.get_by_test_id("routing-total")).to_have_text(str(before + 1))
        page.evaluate("() => { window.__noReload = true }")
        # the city command above routes it (a colleague of the street could as well)
        village_id = server.me("grid1")["units"][0]["id"]
        with httpx.Client(
            base_url=server.base_url + "/api",
            timeout=30,
            headers={"Authorization": f"Bearer {server.login_token('haikou')}"},
        ) as c:
            r = c.post(
                f"/returnees/{result['id']}/route", json={"village_id": village_id, "note": "市指挥部分派"}
            )
            assert r.status_code == 200, r.text
        expect(dest).to_have_count(0, timeout=5000)
        expect(page.get_by_test_id("routing-total")).to_have_text(str(before))
        assert page.evaluate("() => window.__noReload === true"), "the page was reloaded"


class TestListAndExport:
    def test_port_and_day_filters_total_pages_and_the_watermarked_export(
        self, console_page, server: DemoServer, tmp_path
    ):
        import io

        from python_calamine import CalamineWorkbook

        from zhengding.config import DEMO_SECRET_KEY
        from zhengding.core.spreadsheets import trace_xlsx

        port = f"测试港{int(time.time() * 1000) % 10**8}"
        places = (
            [("海口市秀英区秀华社区3栋", "21")] * 20
            + [("海口市秀英区秀海社区", "22")] * 14
            + [("海口市秀英区秀华社区1栋", "20")] * 3
            + [("三亚市吉阳区", "21")] * 2
        )
        answer = _post_batch(server, _arrivals_at(port, places))
        assert answer["accepted"] == len(places), answer
        page = console_page
        console_login(page, server, "town")
        page.goto(f"/console/#/returnees?port={port}&from=2022-01-21&to=2022-01-22")
        # 34 of the street's arrivals on those days; Sanya's two and the 20th's three are not counted
        expect(page.get_by_test_id("rlist-total")).to_have_text("34")
        rows = page.get_by_test_id("rlist-table").locator("tbody tr")
        expect(rows).to_have_count(30)
        page.get_by_test_id("rlist-pager").locator(".btn-next").click()
        expect(rows).to_have_count(4)
        screenshot(page, "console-returnees-list-filtered")

        with page.expect_download() as info:
            page.get_by_test_id("rlist-export").click()
        download = info.value
        assert download.suggested_filename.endswith(".xlsx")
        path = tmp_path / download.suggested_filename
        download.save_as(path)
        content = path.read_bytes()
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
        assert "林镇干" in sheet[0][0] and len(sheet[2:]) == 34
        assert {row[sheet[1].index("入琼口岸")] for row in sheet[2:]} == {port}
        assert all("*" in str(row[1]) and "*" in str(row[2]) for row in sheet[2:])
        mark, _ = trace_xlsx(content, DEMO_SECRET_KEY)
        assert mark is not None and mark.user_id == server.me("town")["id"] and mark.kind == "returnees.list"
