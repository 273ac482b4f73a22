"""PC console (1440×900): login with TOTP, permission-filtered menu, org tree, roster import,
activation statistics, audit log."""

from __future__ import annotations

import io
import os
import re

import xlsxwriter
from playwright.sync_api import expect
from python_calamine import CalamineWorkbook

from .conftest import DemoServer, console_login, screenshot, watermark_text


def read_xlsx(path) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [
        [str(v) for v in row]
        for row in CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows()
    ]


def roster_xlsx(unit_code: str) -> bytes:
    """Three good rows and two bad ones (a malformed phone, an unknown org code)."""
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet("花名册")
    rows = [
        ["姓名", "手机号", "机构编码", "职务"],
        ["王小一", "13700000101", unit_code, "网格员"],
        ["王小二", "13700000102", unit_code, "网格员"],
        ["王小三", "1370000", unit_code, "网格员"],
        ["王小四", "13700000104", "469999999999", "网格员"],
        ["王小五", "13700000105", unit_code, "网格员"],
    ]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return buf.getvalue()


class TestConsoleLogin:
    def test_administrator_needs_totp_and_sees_only_permitted_menu(self, console_page, server: DemoServer):
        page = console_page
        page.goto("/console/#/login")
        screenshot(page, "console-login")
        console_login(page, server, "sysadmin")
        assert server.me("sysadmin")["phone_last4"] in (watermark_text(page) or "")
        expect(page.get_by_test_id("menu-accounts")).to_be_visible()
        expect(page.get_by_test_id("menu-orgs")).to_be_visible()
        expect(page.get_by_test_id("menu-stats-activation")).to_be_visible()
        expect(page.get_by_test_id("menu-audit")).to_have_count(0)
        screenshot(page, "console-dashboard")
        page.goto("/console/#/audit")
        expect(page.locator(".el-result")).to_contain_text("无权访问")

    def test_wrong_totp_code_shows_readable_message(self, console_page, server: DemoServer):
        page = console_page
        page.goto("/console/#/login")
        page.locator("input[name=login]").fill("secadmin")
        page.locator("input[name=password]").fill(server.password)
        page.get_by_role("button", name="登录").click()
        page.locator("input[name=totp]").fill("000000")
        page.get_by_role("button", name="验证").click()
        message = page.locator(".el-message--error")
        expect(message).to_be_visible()
        assert "{" not in message.inner_text() and re.search(r"[\u4e00-\u9fff]", message.inner_text())

    def test_lockout_message_stays_on_the_page_until_another_account_is_typed(
        self, console_page, server: DemoServer
    ):
        page = console_page
        page.goto("/console/#/login")
        name = f"nobody-{os.urandom(3).hex()}"  # an unknown name locks like an account (no enumeration)
        page.locator("input[name=login]").fill(name)
        locked = page.get_by_test_id("login-locked")
        for _ in range(5):
            expect(locked).to_have_count(0)
            page.locator("input[name=password]").fill("not-the-password")
            with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as answer:
                page.get_by_role("button", name="登录").click()
            assert answer.value.status == 401
        expect(locked).to_contain_text("锁定")
        screenshot(page, "console-login-locked")
        with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as answer:
            page.get_by_role("button", name="登录").click()
        assert answer.value.status == 423
        expect(locked).to_contain_text("分钟后再试")
        page.locator("input[name=login]").fill("sysadmin")
        expect(locked).to_have_count(0)


class TestOrgTree:
    def test_create_and_rename_department(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "sysadmin")
        page.get_by_test_id("menu-orgs").click()
        tree = page.get_by_test_id("org-tree")
        tree.locator(".node-name", has_text="海南省").first.click()
        expect(page.get_by_test_id("unit-detail")).to_contain_text("海南省")
        page.get_by_role("button", name="新建部门").click()
        dialog = page.locator(".el-dialog")
        dialog.locator("input").fill("疫情防控专班")
        dialog.get_by_test_id("unit-form-submit").click()
        expect(tree.get_by_text("疫情防控专班")).to_be_visible()
        tree.locator(".node-name", has_text="疫情防控专班").click()
        expect(page.get_by_test_id("unit-detail")).to_contain_text("部门")
        page.get_by_role("button", name="重命名").click()
        dialog = page.locator(".el-dialog").filter(has_text="重命名单位")
        dialog.locator("input").fill("疫情防控工作专班")
        dialog.get_by_test_id("unit-form-submit").click()
        expect(tree.get_by_text("疫情防控工作专班")).to_be_visible()
        expect(page.locator(".el-overlay-dialog:visible")).to_have_count(0)
        expect(page.locator(".el-message")).to_have_count(0, timeout=10_000)
        screenshot(page, "console-orgs")


class TestAccounts:
    def test_sysadmin_imports_roster_with_two_bad_rows_and_downloads_report(
        self, console_page, server: DemoServer
    ):
        page = console_page
        grid1_unit = server.me("grid1")["units"][0]["id"]
        with server.api() as c:
            token = server.login_token("province")
            unit = c.get(f"/orgs/{grid1_unit}", headers={"Authorization": f"Bearer {token}"}).json()
        console_login(page, server, "sysadmin")
        page.get_by_test_id("menu-accounts").click()
        expect(page.get_by_test_id("accounts-table")).to_contain_text("网格员")
        screenshot(page, "console-accounts")

        page.get_by_test_id("open-import").click()
        page.get_by_test_id("import-file").set_input_files(
            files=[
                {
                    "name": "花名册.xlsx",
                    "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "buffer": roster_xlsx(unit["division_code"]),
                }
            ]
        )
        page.get_by_test_id("import-submit").click()
        result = page.get_by_test_id("import-result")
        expect(result).to_contain_text("成功导入 3 人")
        expect(result).to_contain_text("2 行有错误")
        errors = page.get_by_test_id("import-errors")
        expect(errors).to_contain_text("手机号")
        expect(errors).to_contain_text("469999999999")
        screenshot(page, "console-import-errors")

        with page.expect_request(
            lambda r: r.url.endswith("/api/downloads/log") and r.method == "POST"
        ) as logged:
            with page.expect_download() as info:
                page.get_by_test_id("import-report").click()
        download = info.value
        assert download.suggested_filename.endswith(".xlsx")
        assert logged.value.post_data_json["kind"] == "import_report"
        book = CalamineWorkbook.from_path(download.path())
        rows = book.get_sheet_by_index(0).to_python()
        header = [str(h) for h in rows[0]]
        assert "错误原因" in header
        body = [r for r in rows[1:] if any(str(v).strip() for v in r)]
        assert len(body) == 2, rows
        assert {str(r[header.index("姓名")]) for r in body} == {"王小三", "王小四"}

        page.keyboard.press("Escape")
        page.locator("input[name=q]").fill("王小一")
        page.get_by_role("button", name="查询").click()
        expect(page.get_by_test_id("accounts-table")).to_contain_text("待激活")

    def test_export_activation_codes_downloads_xlsx(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "sysadmin")
        page.get_by_test_id("menu-accounts").click()
        page.get_by_test_id("open-export-codes").click()
        dialog = page.locator(".el-dialog").filter(has_text="导出激活码")
        dialog.locator(".el-select").click()
        # expand 海南省 and pick 三亚市 (a small subtree)
        page.locator(".el-tree-node__content:visible", has_text="海南省").locator(
            ".el-tree-node__expand-icon"
        ).click()
        page.locator(".el-tree-node__content:visible", has_text="三亚市").click()
        expect(dialog.locator(".el-select")).to_contain_text("三亚市")
        with (
            page.expect_response(
                lambda r: r.request.method == "POST" and r.url.endswith("/activation-codes")
            ) as issued,
            page.expect_download() as info,
        ):
            dialog.get_by_test_id("export-codes-submit").click()
        assert issued.value.status == 201
        assert info.value.suggested_filename.endswith(".xlsx")
        first = read_xlsx(info.value.path())
        assert first[0] == ["单位", "姓名", "手机号", "职务", "激活码", "有效期至", "状态"]
        assert len(first) - 1 == issued.value.json()["count"]

        # 重新下载 fetches the same set again and issues nothing (a GET, no POST).
        page.get_by_test_id("open-export-codes").click()
        dialog = page.locator(".el-dialog").filter(has_text="导出激活码")
        dialog.locator(".el-select").click()
        page.locator(".el-tree-node__content:visible", has_text="海南省").locator(
            ".el-tree-node__expand-icon"
        ).click()
        page.locator(".el-tree-node__content:visible", has_text="三亚市").click()
        posts: list[str] = []
        page.on(
            "request",
            lambda r: posts.append(r.url) if r.method == "POST" and "activation-codes" in r.url else None,
        )
        with page.expect_download() as again:
            dialog.get_by_test_id("download-latest-codes").click()
        assert read_xlsx(again.value.path()) == first
        assert posts == []

    def test_personal_data_page_cannot_be_copied(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "sysadmin")
        page.get_by_test_id("menu-accounts").click()
        table = page.get_by_test_id("accounts-table")
        expect(table).to_contain_text("网格员")
        prevented = page.evaluate("""() => { const dt = new DataTransfer();
            const e = new ClipboardEvent('copy', { bubbles: true, cancelable: true, clipboardData: dt });
            document.querySelector('[data-testid=accounts-table]').dispatchEvent(e);
            return [e.defaultPrevented, dt.getData('text/plain')] }""")
        assert prevented == [True, ""]
        page.emulate_media(media="print")
        assert page.evaluate("() => getComputedStyle(document.getElementById('app')).display") == "none"
        page.emulate_media(media="screen")


class TestRoleAssignment:
    def test_security_admin_assigns_and_revokes_a_role(self, console_page, server: DemoServer):
        page = console_page
        grid2 = server.accounts["grid2"]
        console_login(page, server, "secadmin")
        page.get_by_test_id("menu-accounts").click()
        expect(page.get_by_test_id("open-import")).to_have_count(0)  # not a system administrator
        page.locator("input[name=q]").fill(grid2["name"])
        page.get_by_role("button", name="查询").click()
        row = page.get_by_test_id("accounts-table").locator(".el-table__row", has_text=grid2["name"]).first
        row.get_by_role("button", name="角色").click()
        dialog = page.locator(".el-dialog").filter(has_text="角色分配")
        expect(dialog.get_by_test_id("role-list")).to_contain_text("网格员")
        dialog.get_by_test_id("role-select").click()
        page.locator(".el-select-dropdown__item:visible", has_text="村(社区)").first.click()
        dialog.get_by_role("button", name="添加").click()
        roles = dialog.get_by_test_id("role-list")
        expect(roles).to_contain_text("村(社区)")
        screenshot(page, "console-roles")
        roles.locator(".el-table__row", has_text="村(社区)").get_by_role("button", name="撤销").click()
        page.locator(".el-message-box").get_by_role("button", name="确定").click()
        expect(roles).not_to_contain_text("村(社区)")


class TestActivationStats:
    def test_chart_data_changes_after_an_activation_and_drills_down(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "sysadmin")
        page.get_by_test_id("menu-stats-activation").click()
        expect(page.get_by_test_id("activation-chart").locator("canvas")).to_have_count(1)
        activated = page.get_by_test_id("stats-activated")
        before = int(activated.inner_text())
        expect(page.locator(".el-loading-mask")).to_have_count(0)
        screenshot(page, "console-stats")

        newcomer = server.take_pending()
        with server.api() as c:
            c.post(
                "/accounts/activate",
                json={
                    "name": newcomer["name"],
                    "phone": newcomer["phone"],
                    "code": newcomer["code"],
                    "password": "Stats-Change-2026!",
                },
            ).raise_for_status()
        page.get_by_role("button", name="刷新").click()
        expect(activated).to_have_text(str(before + 1))

        table = page.get_by_test_id("stats-table")
        table.get_by_text("海口市", exact=True).click()
        expect(page.get_by_test_id("stats-breadcrumb")).to_contain_text("海口市")
        expect(table).to_contain_text("秀英区")
        table.get_by_text("秀英区", exact=True).click()
        expect(page.get_by_test_id("stats-breadcrumb")).to_contain_text("秀英区")
        expect(page.locator(".el-loading-mask")).to_have_count(0)
        screenshot(page, "console-stats-drilldown")
        # a click on a bar drills down as well
        box = page.get_by_test_id("activation-chart").bounding_box()
        assert box
        page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] - 60)


class TestAudit:
    def test_audit_admin_views_log_and_verifies_chain(self, console_page, server: DemoServer):
        page = console_page
        console_login(page, server, "auditadmin")
        expect(page.get_by_test_id("menu-accounts")).to_have_count(0)
        page.get_by_test_id("menu-audit").click()
        table = page.get_by_test_id("audit-table")
        expect(table.locator(".el-table__row").first).to_be_visible()
        page.get_by_test_id("verify-chain").click()
        expect(page.get_by_test_id("verify-result")).to_contain_text("日志链完整")
        screenshot(page, "console-audit")
