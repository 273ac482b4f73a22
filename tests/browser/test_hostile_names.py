"""No script injection anywhere in the web apps, under the platform's Content-Security-Policy.

Units, people, supervised items, a DING, a verification batch and arrivals are given hostile
names through the API; every console page with charts and lists and the phone's lists are
opened, each chart is swept with the mouse until its tooltip shows a hostile name (as text),
and nothing may have run (`window.__xss`), no policy violation may have been reported, no page
error thrown, and no page may be blank. The server runs outside demo mode, as in production,
with a database of its own (the hostile rows stay out of the other browser tests), so the API
docs' login rule is checked here as well: the docs page sends a visitor without a session to
the console login and back, and then renders the schema under the same policy.
"""

from __future__ import annotations

import base64
import io
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
import xlsxwriter
from playwright.sync_api import Page, expect

from zhengding.privacy.idcard import check_digit
from zhengding.returnees import signing

from .conftest import DemoServer, console_login, demo_server, mobile_login, screenshot

IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
TEMPLATE = "{{7*7}}"
HOSTILE = (IMG, SVG, TEMPLATE)
SHORT = "<svg onload=__xss=1>"  # for the 20-character fields

# Recorded in every page before its own scripts run (an init script is not subject to the
# page's policy): policy violations, and whether a hostile payload got to run.
WATCH = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""

PRODUCTION_ENV = {
    "ZD_DEMO": "0",
    "ZD_SECRET_KEY": "browser-hostile-names-secret-key-0123456789",
    "ZD_DATA_KEYS": "k1:" + base64.b64encode(b"hostile-names-k1").decode(),
    "ZD_INDEX_KEY": base64.b64encode(b"hostile-names-index-key-32-bytes").decode(),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """This module's own server (overrides the shared one for the page fixtures)."""
    with demo_server(tmp_path_factory.mktemp("zd-hostile"), PRODUCTION_ENV) as started:
        yield started


@dataclass
class Hostile:
    units: list[dict]
    people: list[dict]
    item_title: str
    batch_name: str
    ding_content: str


def _client(server: DemoServer, username: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url + "/api",
        timeout=60,
        headers={"Authorization": f"Bearer {server.login_token(username)}"},
    )


def _ok(response: httpx.Response) -> dict:
    assert response.is_success, (
        f"{response.request.method} {response.request.url.path}: {response.text[:300]}"
    )
    return response.json()


def _id_number(serial: int) -> str:
    body = f"46010519880{serial % 9 + 1}1{serial % 9 + 1}{serial % 1000:03d}"
    return body + check_digit(body)


def _batch_xlsx(names: list[str]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("名单")
    sheet.write_row(0, 0, ["姓名", "身份证号", "手机号", "线索地址", "来源", "备注"])
    for r, name in enumerate(names, start=1):
        sheet.write_row(
            r, 0, [name, _id_number(500 + r), f"1390000{r:04d}", "海口市秀英区秀英街道秀华社区5栋", SVG, IMG]
        )
    book.close()
    return out.getvalue()


def _post_arrivals(server: DemoServer, village: str) -> None:
    """Arrivals for grid1's village with hostile names, origins and ports of entry."""
    source = json.loads((server.var_dir / "demo-accounts.json").read_text(encoding="utf-8"))[
        "inbound_sources"
    ][0]
    stamp = int(time.time() * 1000)
    items = []
    for i, hostile in enumerate(HOSTILE):
        body17 = f"46010519900{i + 1}0{i + 1}12{i}"
        items.append(
            {
                "registration_id": f"HOSTILE-{stamp}-{i}",
                "name": f"符{hostile}",
                "id_number": body17 + check_digit(body17),
                "phone": f"1390756{i:04d}",
                "origin_province": SHORT if i == 0 else f"广东{TEMPLATE}",
                "origin_city": SHORT,
                "origin_risk_area": False,
                "port_of_entry": f"口岸{hostile}",
                "arrived_at": "2022-01-25T14:30:00+08:00",
                "transport": "flight",
                "transport_no": "CZ6731",
                "destination": f"{village}{hostile}",
                "health_code": "green",
            }
        )
    path = "/api/inbound/registrations/batch"
    body = orjson.dumps({"items": items})
    headers = signing.signed_headers(
        source["key_id"], source["secret"], "POST", path, body, timestamp=int(time.time())
    )
    answer = _ok(httpx.post(server.base_url + path, content=body, headers=headers, timeout=60))
    assert answer["accepted"] == len(HOSTILE), answer


@pytest.fixture(scope="module")
def hostile(server: DemoServer) -> Hostile:
    return seed_hostile(server)


def seed_hostile(server: DemoServer) -> Hostile:
    province_unit = server.me("province")["units"][0]["id"]
    with _client(server, "sysadmin") as admin:
        units = [
            _ok(
                admin.post(
                    "/orgs", json={"parent_id": province_unit, "name": f"专班{h}", "kind": "department"}
                )
            )
            for h in HOSTILE
        ]
        # Units made from divisions cannot be renamed through the API; in the database, so that
        # the statistics that list command units only show a hostile name too
        sansha = next(c for c in _ok(admin.get(f"/orgs/{province_unit}/children")) if c["name"] == "三沙市")
        with sqlite3.connect(server.var_dir / "zd.db") as db:
            db.execute("UPDATE org_units SET name = ? WHERE id = ?", (f"三沙市{SVG}", sansha["id"]))
        people = [
            _ok(
                admin.post(
                    "/accounts",
                    json={
                        "name": f"王{h}",
                        "phone": f"1371234{i:04d}",
                        "unit_id": units[i]["id"],
                        "position": h,
                    },
                )
            )
            for i, h in enumerate(HOSTILE)
        ]
    item_title = f"督办{IMG}{SVG}{TEMPLATE}"
    batch_name = f"批次{IMG}{TEMPLATE}"
    ding_content = f"紧急{IMG}{SVG}{TEMPLATE}"
    with _client(server, "province") as province:
        _ok(
            province.post(
                "/supervision/items",
                json={
                    "title": item_title,
                    "content": f"内容{SVG}",
                    "source_ref": IMG,
                    "deadline": time.strftime(
                        "%Y-%m-%dT17:00:00+08:00", time.gmtime(time.time() + 3 * 86400)
                    ),
                    "owners": [{"unit_id": units[0]["id"]}, {"user_id": server.me("haikou")["id"]}],
                },
            )
        )
        _ok(province.post("/ding", json={"content": ding_content, "user_ids": [server.me("haikou")["id"]]}))
        _ok(
            province.post(
                "/verification/imports",
                data={"name": batch_name},
                files={
                    "file": (
                        "名单.xlsx",
                        _batch_xlsx([f"林{h}" for h in HOSTILE]),
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    )
                },
            )
        )
    _post_arrivals(server, server.accounts["grid1"]["unit_name"])
    return Hostile(
        units=units, people=people, item_title=item_title, batch_name=batch_name, ding_content=ding_content
    )


# ---------------------------------------------------------------------------------------------


class Guard:
    """What a page did that it must not: errors thrown, policy violations, hostile code run."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.context.add_init_script(WATCH)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on(
            "console", lambda m: self.errors.append(m.text) if "Content Security Policy" in m.text else None
        )

    def check(self, where: str) -> None:
        page = self.page
        assert page.evaluate("() => window.__xss") is None, f"{where}: a hostile name ran as script"
        assert page.evaluate("() => window.__cspViolations") == [], f"{where}: policy violations"
        assert self.errors == [], f"{where}: {self.errors}"
        assert page.locator("img[src=x], svg[onload]").count() == 0, f"{where}: hostile markup in the DOM"
        assert page.locator("#app").inner_text().strip(), f"{where}: blank page"


def _settled(page: Page) -> None:
    expect(page.locator(".el-loading-mask:visible, .van-loading:visible")).to_have_count(0)


def sweep_tooltip(page: Page, testid: str, wanted: str) -> str:
    """Move the mouse across a chart (both axes: vertical and horizontal bar charts) until its
    tooltip shows `wanted`; the tooltip's text is returned (it must hold the name as text)."""
    chart = page.get_by_test_id(testid)
    expect(chart.locator("canvas")).to_have_count(1)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box, testid
    seen = ""
    # Every 6 px across the whole box, both ways: a category at the very edge of the grid is
    # crossed too. The tooltip is read after two animation frames (ECharts throttles the axis
    # pointer: read at once, the text is still the previous category's).
    across = max(8, int(box["width"] / 6))
    down = max(8, int(box["height"] / 6))
    path = [(box["x"] + box["width"] * f / across, box["y"] + box["height"] * 0.55) for f in range(1, across)]
    path += [(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * f / down) for f in range(1, down)]
    for x, y in path:
        page.mouse.move(x, y)
        text = chart.evaluate(
            "(el) => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() =>"
            " done(Array.from(el.querySelectorAll(':scope > div'))"
            ".filter((d) => !d.querySelector('canvas')).map((d) => d.textContent).join(' ')))))"
        )
        if wanted in text:
            tooltip_markup = chart.evaluate("(el) => el.innerHTML")
            assert "<img" not in tooltip_markup and "<svg" not in tooltip_markup, (
                f"{testid}: markup from data"
            )
            return text
        seen = text or seen
    raise AssertionError(f"{testid}: no tooltip showed {wanted!r} (last: {seen[:200]!r})")


class TestServedAsInProduction:
    def test_zhengding_serve_sends_no_server_banner_and_the_headers(self, server: DemoServer):
        for path in ("/api/health", "/console/", "/m/sw.js", "/api/no-such-thing", "/api/docs/"):
            r = httpx.get(server.base_url + path, timeout=10)
            assert "server" not in r.headers, f"{path}: {r.headers.get('server')}"
            assert "script-src 'self';" in r.headers["content-security-policy"], path
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["referrer-policy"] == "same-origin", path
            assert "date" in r.headers, path


def visit(
    page: Page,
    guard: Guard,
    route: str,
    texts: tuple[str, ...] = (),
    charts: tuple[tuple[str, str], ...] = (),
    shot: str | None = None,
) -> None:
    """Open `route`, wait for its data, see the hostile `texts` shown as text, sweep `charts`
    until their tooltips show the wanted name, and check that nothing ran."""
    page.goto(route)
    page.wait_for_load_state("domcontentloaded")
    _settled(page)
    for text in texts:
        expect(page.locator("body")).to_contain_text(text)
    for testid, wanted in charts:
        tooltip = sweep_tooltip(page, testid, wanted)
        assert wanted in tooltip
    if shot:
        screenshot(page, shot)
    guard.check(route)


class TestConsole:
    def test_activation_statistics_tooltip_shows_hostile_unit_names_as_text(
        self, console_page, server, hostile
    ):
        page = console_page
        guard = Guard(page)
        console_login(page, server, "sysadmin")
        visit(
            page,
            guard,
            "/console/#/stats/activation",
            texts=(f"专班{IMG}",),
            charts=(("activation-chart", f"专班{IMG}"),),
            shot="hostile-activation-tooltip",
        )
        visit(page, guard, "/console/#/orgs", texts=(f"专班{SVG}",))
        tree = page.get_by_test_id("org-tree")
        tree.locator(".el-tree-node__expand-icon").first.click()
        node = tree.locator(".node-name", has_text=f"专班{TEMPLATE}")
        expect(node).to_be_visible()
        _settled(page)
        node.click()
        expect(page.get_by_test_id("unit-detail")).to_contain_text(f"专班{TEMPLATE}")
        expect(page.get_by_test_id("members")).to_contain_text(f"王{TEMPLATE}")
        guard.check("org unit members")
        visit(page, guard, "/console/#/accounts")

    def test_command_pages_lists_and_charts(self, console_page, server, hostile):
        page = console_page
        guard = Guard(page)
        console_login(page, server, "province")
        visit(page, guard, "/console/#/")
        visit(page, guard, "/console/#/ding", texts=(hostile.ding_content,))
        visit(
            page,
            guard,
            "/console/#/supervision",
            texts=(hostile.item_title,),
            shot="hostile-supervision-board",
        )
        page.get_by_test_id("sv-board").get_by_text(hostile.item_title).click()
        expect(page.locator(".el-drawer")).to_contain_text(f"内容{SVG}")
        guard.check("supervised item drawer")
        visit(page, guard, "/console/#/supervision/stats", charts=(("sv-units-chart", f"专班{IMG}"),))
        visit(page, guard, "/console/#/verification/batches", texts=(hostile.batch_name,))
        visit(page, guard, "/console/#/verification/tasks", texts=("海口市秀英区秀英街道秀华社区5栋",))
        visit(
            page,
            guard,
            "/console/#/verification/stats",
            charts=(("vstats-unit-chart", f"专班{SVG}"), ("vstats-batch-chart", hostile.batch_name)),
            shot="hostile-verification-stats",
        )
        visit(
            page,
            guard,
            "/console/#/returnees/stats",
            charts=(
                ("rstats-unit-chart", f"三沙市{SVG}"),
                ("rstats-port-chart", f"口岸{IMG}"),
                ("rstats-origin-chart", SHORT),
            ),
            shot="hostile-returnees-stats",
        )
        visit(page, guard, "/console/#/returnees", texts=(f"口岸{TEMPLATE}", f"口岸{SVG}"))
        page.get_by_test_id("rlist-table").locator(".el-table__row", has_text=f"口岸{IMG}").get_by_test_id(
            "rlist-link"
        ).click()
        expect(page.locator(".el-drawer")).to_contain_text(f"秀华社区居民委员会{IMG}")
        screenshot(page, "hostile-returnee-drawer")
        guard.check("returnee drawer")
        visit(page, guard, "/console/#/returnees/routing")
        visit(page, guard, "/console/#/returnees/anomalies")

    def test_received_ding_and_inbox(self, console_page, server, hostile):
        page = console_page
        guard = Guard(page)
        console_login(page, server, "haikou")
        visit(page, guard, "/console/#/inbox", texts=(hostile.ding_content,), shot="hostile-ding-prompt")
        visit(page, guard, "/console/#/supervision/todos", texts=(hostile.item_title,))


class TestMobile:
    def test_directory(self, mobile_page, server, hostile):
        page = mobile_page
        guard = Guard(page)
        mobile_login(page, server, "province")
        guard.check("workbench")
        visit(
            page,
            guard,
            f"/m/#/directory/unit/{server.me('province')['units'][0]['id']}",
            texts=(f"专班{IMG}",),
        )
        visit(
            page,
            guard,
            f"/m/#/directory/unit/{hostile.units[1]['id']}",
            texts=(f"王{SVG}",),
            shot="hostile-mobile-directory",
        )
        visit(page, guard, f"/m/#/directory/person/{hostile.people[0]['id']}", texts=(f"王{IMG}",))

    def test_supervision_and_ding(self, mobile_page, server, hostile):
        page = mobile_page
        guard = Guard(page)
        mobile_login(page, server, "haikou")
        guard.check("workbench")
        visit(page, guard, "/m/#/supervision", texts=(hostile.item_title,))
        visit(page, guard, "/m/#/inbox", texts=(hostile.ding_content,))

    def test_grid_workers_lists(self, mobile_page, server, hostile):
        page = mobile_page
        guard = Guard(page)
        mobile_login(page, server, "grid1")
        visit(
            page,
            guard,
            "/m/#/returnees",
            texts=(f"口岸{IMG}", f"口岸{SVG}", SHORT),
            shot="hostile-mobile-returnees",
        )
        visit(page, guard, "/m/#/verification")


class TestApiDocs:
    def test_docs_send_a_visitor_to_the_console_login_and_back(self, console_page, server):
        page = console_page
        guard = Guard(page)
        page.goto("/api/docs")
        page.wait_for_url(re.compile(r"/console/#/login"))
        page.locator("input[name=login]").fill("province")
        page.locator("input[name=password]").fill(server.password)
        page.get_by_role("button", name="登录").click()
        if server.accounts["province"].get("totp_secret"):
            page.locator("input[name=totp]").fill(server.totp("province"))
            page.get_by_role("button", name="验证").click()
        page.wait_for_url(re.compile(r"/api/docs/$"))
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("政钉 Zhengding API")
        expect(page.locator(".opblock-tag").first).to_be_visible()
        expect(page.locator("#zd-docs-note")).to_contain_text("登录身份")
        screenshot(page, "hostile-api-docs")
        assert page.evaluate("() => window.__cspViolations") == []
        assert guard.errors == []
        # "Try it out" calls the API as this user
        answer = page.evaluate("""async () => {
            const r = await window.ui.fn.fetch({url: '/api/auth/me', method: 'GET', headers: {}, requestInterceptor: window.ui.getConfigs().requestInterceptor});
            return r.status }""")
        assert answer == 200
