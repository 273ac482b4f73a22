"""Key-person verification end to end: the province imports a small batch on the console (one bad
row → error report), the task goes down haikou → xiuying → town (API hops) and the town officer
assigns it to grid1 on the console; grid1's open phone page shows it live, grid1 replies with a
photo; the town officer accepts on the console and the history shows every hop."""

from __future__ import annotations

import io
import random
import struct
import time
import zlib

import httpx
import xlsxwriter
from playwright.sync_api import expect

from zhengding.core import spreadsheets

from .conftest import DemoServer, console_login, mobile_login, screenshot

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECK = "10X98765432"


def _id_number(rng: random.Random) -> str:
    body = f"460105{rng.randint(1960, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(100, 999)}"
    return body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def _batch_xlsx(rng: random.Random) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet("名单")
    sheet.write_row(0, 0, ["姓名", "身份证号", "手机号", "线索地址", "来源", "备注"])
    good = _id_number(rng)
    rows = [
        [
            "符海英",
            good,
            f"139{rng.randint(10_000_000, 99_999_999)}",
            "海口市秀英区秀英街道秀华社区5栋302",
            "省大数据局",
            "密接",
        ],
        ["王明", _id_number(rng), "", "海口市秀英区秀华社区8栋", "机场筛查", ""],
        [
            "陈错行",
            good[:-1] + ("0" if good[-1] != "0" else "1"),
            "13800001111",
            "海口市秀英区",
            "省大数据局",
            "校验位错",
        ],
    ]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def _png(width: int = 64, height: int = 48) -> bytes:
    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 5 % 256, 160)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _client(server: DemoServer, username: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url + "/api",
        timeout=30,
        headers={"Authorization": f"Bearer {server.login_token(username)}"},
    )


def _field(page, testid: str):  # type: ignore[no-untyped-def]
    """The text box of a form field, whether the test id lands on the box or on its wrapper."""
    t = f"[data-testid={testid}]"
    return page.locator(f"input{t}, textarea{t}, {t} input, {t} textarea").first


def _unit_id(server: DemoServer, username: str) -> str:
    return server.me(username)["units"][0]["id"]


class TestVerificationFlow:
    def test_import_dispatch_reply_review(self, console_page, mobile_page, server: DemoServer, tmp_path):
        rng = random.Random(time.time_ns())
        name = f"核查批次-{int(time.time())}"
        path = tmp_path / "名单.xlsx"
        path.write_bytes(_batch_xlsx(rng))

        # --- the province imports on the console -----------------------------------------------
        console = console_page
        console_login(console, server, "province")
        console.get_by_test_id("menu-verification-batches").click()
        console.get_by_test_id("goto-import").click()
        _field(console, "import-name").fill(name)
        console.get_by_test_id("import-file").set_input_files(str(path))
        console.get_by_test_id("import-submit").click()
        result = console.get_by_test_id("import-result")
        expect(result).to_contain_text("成功导入 2 人，1 行有错误")
        expect(result).to_contain_text("按线索自动派发 2 条")
        expect(console.get_by_test_id("import-errors")).to_contain_text("4")
        expect(console.get_by_test_id("import-errors")).to_contain_text("身份证号")
        expect(console.get_by_test_id("import-progress")).to_contain_text("处理完成")
        screenshot(console, "console-verification-import", full_page=True)
        with console.expect_download() as info:
            console.get_by_test_id("import-report").click()
        assert info.value.suggested_filename == f"{name}-错误行.xlsx"
        rows = [
            [spreadsheets.cell_text(v) for v in r]
            for r in spreadsheets.iter_rows(open(info.value.path(), "rb").read(), "report.xlsx")
        ]
        assert rows[0][-2:] == ["行号", "错误原因"]
        assert len(rows) == 2 and rows[1][0] == "陈错行" and rows[1][-2] == "4", rows

        # the board shows the batch with its counts per status
        console.get_by_test_id("menu-verification-batches").click()
        card = console.locator("[data-testid=batch-card]", has_text=name)
        expect(card.get_by_test_id("batch-count-dispatched")).to_contain_text("2")
        screenshot(console, "console-verification-batches")

        # --- the hops haikou → xiuying → town through the API ---------------------------------
        with _client(server, "province") as c:
            batch = next(b for b in c.get("/verification/batches").json() if b["name"] == name)
            tasks = c.get("/verification/tasks", params={"batch_id": batch["id"]}).json()["items"]
        task = next(t for t in tasks if t["clue"].endswith("5栋302"))
        assert task["name_masked"].startswith("符") and "海英" not in task["name_masked"]
        assert task["owner_unit_name"] == "海口市" or "海口" in task["owner_unit_name"]
        deadline = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.localtime(time.time() + 3 * 86400))
        for username, target in (("haikou", "xiuying"), ("xiuying", "town")):
            with _client(server, username) as c:
                r = c.post(
                    "/verification/tasks/dispatch",
                    json={
                        "task_ids": [task["id"]],
                        "unit_id": _unit_id(server, target),
                        "deadline": deadline,
                    },
                )
                assert r.status_code == 200, r.text
                assert r.json()["dispatched"] == 1, r.text

        # --- grid1's phone page is open before the assignment -----------------------------------
        phone = mobile_page
        mobile_login(phone, server, "grid1")
        phone.goto("/m/#/verification")
        phone.get_by_role("tab", name="我的任务").wait_for()
        phone.wait_for_timeout(800)
        phone.evaluate("() => { window.__noReload = true }")
        item = phone.locator(f"[data-testid=vtask-item][data-id='{task['id']}']")
        expect(item).to_have_count(0)

        # --- the town officer assigns grid1 on the console --------------------------------------
        console.get_by_test_id("user-menu").click()
        console.get_by_test_id("logout").click()
        console.locator(".el-message-box").get_by_role("button", name="确定").click()
        console.wait_for_url("**/login**")
        console_login(console, server, "town")
        console.get_by_test_id("menu-verification-tasks").click()
        console.get_by_role("tab", name="本单位待派发").click()
        row = console.get_by_test_id("task-table").locator("tr.el-table__row", has_text="5栋302")
        expect(row).to_have_count(1)
        row.locator(".el-checkbox").click()
        console.get_by_test_id("dispatch-selected").click()
        dialog = console.get_by_test_id("dispatch-dialog")
        dialog.get_by_text("指派网格员").click()
        dialog.get_by_test_id("dispatch-user").click()
        console.locator(".el-select-dropdown__item:visible", has_text="符网格").first.click()
        console.wait_for_timeout(400)  # the dropdown has faded out
        screenshot(console, "console-verification-dispatch")
        dialog.get_by_test_id("dispatch-submit").click()
        expect(console.locator(".el-message", has_text="已派发 1 条")).to_be_visible()

        # --- live on grid1's phone, without a reload; grid1 replies with a photo -------------------
        expect(item).to_be_visible(timeout=15_000)
        expect(item).to_contain_text("核查中")
        expect(phone.get_by_test_id("fresh-banner")).to_contain_text("新的核查任务")
        assert phone.evaluate("() => window.__noReload === true"), "the page was reloaded"
        screenshot(phone, "mobile-verification-tasks")
        item.get_by_test_id("vtask-reply").click()
        _field(phone, "reply-location").fill("秀华社区5栋302室（本人在家）")
        _field(phone, "reply-note").fill("已上门核实，本人在家，无发热，已告知居家健康监测")
        phone.get_by_test_id("reply-measure").get_by_text("居家健康监测").click()
        photo = tmp_path / "scene.png"
        photo.write_bytes(_png())
        phone.get_by_test_id("reply-photos").locator("input[type=file]").set_input_files(str(photo))
        expect(phone.locator(".van-uploader__preview")).to_have_count(1)
        expect(phone.get_by_test_id("reply-submit")).to_have_text("提交回单")
        screenshot(phone, "mobile-verification-reply", full_page=True)
        phone.get_by_test_id("reply-submit").click()
        expect(phone.get_by_test_id("vtask-status")).to_have_text("已回单")
        expect(phone.get_by_test_id("vtask-reply-card")).to_contain_text("已找到")
        expect(phone.locator("[data-testid=vtask-reply-card] .van-image img")).to_have_count(1)
        screenshot(phone, "mobile-verification-detail", full_page=True)

        # --- the town officer reviews on the console: accepted, the history shows each hop --------
        console.get_by_test_id("menu-verification-review").click()
        review_row = console.get_by_test_id("task-table").locator("tr.el-table__row", has_text="5栋302")
        expect(review_row).to_have_count(1)
        review_row.get_by_test_id("task-link").click()
        expect(console.get_by_test_id("task-status")).to_have_text("已回单")
        expect(console.get_by_test_id("reply")).to_contain_text("秀华社区5栋302室")
        expect(console.locator("[data-testid=reply-photo] img")).to_have_count(1)
        console.get_by_test_id("review-accept").click()
        expect(console.locator(".el-message", has_text="审核通过，已提交上级审核")).to_be_visible()
        history = console.get_by_test_id("task-history")
        expect(history.get_by_test_id("history-item")).to_have_count(7)
        text = history.inner_text()
        for label in ("导入创建", "按线索自动派发", "派发", "指派网格员", "提交回单", "回单审核通过"):
            assert label in text, label
        for unit in ("海口市", "秀英区", "秀英街道", "符网格"):
            assert unit in text, unit
        assert "海英" not in console.content()
        screenshot(console, "console-verification-detail", full_page=True)

        # --- the province's dashboard counts the batch -----------------------------------------
        console.get_by_test_id("user-menu").click()
        console.get_by_test_id("logout").click()
        console.locator(".el-message-box").get_by_role("button", name="确定").click()
        console.wait_for_url("**/login**")
        console_login(console, server, "province")
        console.get_by_test_id("menu-verification-stats").click()
        haikou = console.get_by_test_id("vstats-table").locator("tr.el-table__row", has_text="海口市")
        # 单位, 总数, 待派发, 已派发, 核查中, 已回单: one task dispatched at haikou, one replied below it
        expect(haikou.locator("td").nth(1)).to_have_text("2")
        expect(haikou.locator("td").nth(3)).to_have_text("1")
        expect(haikou.locator("td").nth(5)).to_have_text("1")
        console.get_by_test_id("vstats-unit-chart").locator("canvas").wait_for()
        console.wait_for_timeout(500)
        screenshot(console, "console-verification-stats", full_page=True)
        with console.expect_download() as info:
            console.get_by_test_id("vstats-export").click()
        assert info.value.suggested_filename.endswith(".xlsx")
