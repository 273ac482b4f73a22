"""No personal data in clear at rest, blobs included: the error reports of the three imports
(roster, verification, nucleic-acid results), reply photos and attached files are sealed with
SM4-GCM (the key id travels with them); every stored blob — each binary column and each file
under the attachment store, unzipped when it is an xlsx — holds no ID number or phone in clear,
and each still opens for whoever may download it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import LargeBinary, select, text

from tests.conftest import SETTINGS, Personas
from tests.verification.support import import_rows, new_id_number
from zhengding.accounts.models import RosterImport
from zhengding.core import files
from zhengding.core.models import Base
from zhengding.privacy import crypto
from zhengding.privacy.types import EncryptedBlob

DEMO_KEY = "demo:emhlbmdkaW5nLWRlbW8taw=="
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def _cells(content: bytes) -> list[list[str]]:
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).iter_rows()
    return [[str(v) for v in row] for row in rows]


def _readable(blob: bytes) -> bytes:
    """The bytes as a reader of the disk would see them: an xlsx/zip is unzipped."""
    if blob[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            return blob + b"".join(archive.read(name) for name in archive.namelist())
    return blob


def _binary_columns() -> list[tuple[str, str]]:
    return [
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary | EncryptedBlob)
    ]


async def _stored_blobs(db) -> dict[str, list[bytes]]:
    """Every stored blob, raw: each binary column of each table, and each file on disk."""
    found: dict[str, list[bytes]] = {}
    async with db.write_engine.connect() as conn:
        for table, column in _binary_columns():
            rows = (
                await conn.execute(text(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL'))
            ).scalars()
            found[f"{table}.{column}"] = [bytes(v) for v in rows]
        await conn.rollback()
    root = files.storage_root()
    found["attachments"] = [p.read_bytes() for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return found


def _write_legacy(content: bytes) -> str:
    """A file as it was stored before encryption: in clear, under a SHA-256 address."""
    address = "ab" + "0" * 62
    path: Path = files.storage_root() / address[:2] / address
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return address


class TestNothingInClearInBlobs:
    async def test_reports_photos_and_files_hold_no_id_number_or_phone_in_clear(
        self, client, db, personas: Personas, unique_phone
    ):
        p = personas
        roster_id, roster_phone, task_id, task_phone, nat_id, file_id, file_phone = (
            new_id_number(),
            unique_phone(),
            new_id_number(),
            unique_phone(),
            new_id_number(),
            new_id_number(),
            unique_phone(),
        )
        needles = [roster_id, roster_phone, task_id, task_phone, nat_id, file_id, file_phone]

        # Roster: a bad phone (the ID number is kept in the report), an unknown org code (the phone is).
        roster = _xlsx(
            [
                ["姓名", "手机号", "机构编码", "职务", "身份证号"],
                ["林南", "1234", p.grid1.unit_id, "网格员", roster_id],
                ["王明", roster_phone, "469999999999", "网格员", ""],
            ]
        )
        r = await client.post(
            "/api/accounts/import", headers=p.sysadmin.headers, files={"file": ("名册.xlsx", roster)}
        )
        assert (r.status_code, r.json()["rejected"]) == (200, 2), r.text
        roster_import = r.json()["import_id"]

        # Verification: no name, so the row (ID number and phone) goes to the report.
        batch = await import_rows(client, p.province, [["", task_id, task_phone, "海口市", "", ""]])
        assert batch["rejected"] == 1

        nat = _xlsx(
            [
                ["身份证号", "姓名", "采样时间", "检测结果", "检测机构"],
                [nat_id, "符某", "2022-01-20 08:30", "不明", "海口市人民医院"],
            ]
        )
        r = await client.post(
            "/api/verification/nat-results/import",
            headers=p.province.headers,
            files={"file": ("核酸.xlsx", nat)},
        )
        assert (r.status_code, r.json()["rejected"]) == (200, 1), r.text
        nat_import = r.json()["import_id"]

        attachment = _xlsx([["身份证号", "手机号"], [file_id, file_phone]])
        r = await client.post(
            "/api/files", headers=p.haikou.headers, files={"file": ("名单.xlsx", attachment, XLSX)}
        )
        assert r.status_code == 201, r.text
        stored_file = r.json()["id"]

        blobs = await _stored_blobs(db)
        assert {
            "roster_imports.report",
            "verification_batches.report",
            "nat_imports.report",
            "verification_photos.data",
            "attachments",
        } <= set(blobs)
        hits = [
            f"{where}: {needle}"
            for where, values in blobs.items()
            for blob in values
            for needle in needles
            if needle.encode() in _readable(blob)
        ]
        assert hits == []

        # Each one still opens for whoever may download it, and says what it held.
        report = await client.get(f"/api/accounts/import/{roster_import}/report", headers=p.sysadmin.headers)
        assert report.status_code == 200
        assert [row[4] for row in _cells(report.content)[1:]] == [roster_id, ""]
        report = await client.get(
            f"/api/verification/batches/{batch['batch_id']}/report", headers=p.province.headers
        )
        assert report.status_code == 200 and _cells(report.content)[1][1:3] == [task_id, task_phone]
        report = await client.get(
            f"/api/verification/nat-results/imports/{nat_import}/report", headers=p.province.headers
        )
        assert report.status_code == 200 and _cells(report.content)[1][0] == nat_id
        download = await client.get(f"/api/files/{stored_file}", headers=p.haikou.headers)
        assert download.status_code == 200 and download.content == attachment

    def test_every_binary_column_is_sealed(self):
        """A new binary column must be an EncryptedBlob (or be argued for here)."""
        plain = [
            f"{table.name}.{column.name}"
            for table in Base.metadata.sorted_tables
            for column in table.columns
            if isinstance(column.type, LargeBinary)
        ]
        assert plain == []


class TestSealedBlobs:
    def test_sealed_under_the_current_key_bound_to_its_column(self, keys):
        keys(DEMO_KEY)
        old = crypto.seal(b"PK\x03\x04 report", "roster_imports.report")
        assert crypto.sealed_key_id(old) == "demo" and b"report" not in old
        keys(SETTINGS.data_keys)  # rotated: k2 is current, demo still configured
        assert crypto.unseal(old, "roster_imports.report") == b"PK\x03\x04 report"
        new = crypto.seal(b"PK\x03\x04 report", "roster_imports.report")
        assert crypto.sealed_key_id(new) == "k2" and new != old
        with pytest.raises(ValueError, match="failed authentication"):
            crypto.unseal(new, "nat_imports.report")
        keys("k3:" + "MTIzNDU2Nzg5MGFiY2RlZg==")
        with pytest.raises(crypto.KeyError_, match="'k2'"):
            crypto.unseal(new, "roster_imports.report")

    async def test_a_report_stored_in_clear_before_still_downloads(self, client, db, personas: Personas):
        p = personas
        r = await client.post(
            "/api/accounts/import",
            headers=p.sysadmin.headers,
            files={
                "file": (
                    "旧名册.xlsx",
                    _xlsx(
                        [["姓名", "手机号", "机构编码", "职务"], ["林南", "1234", p.grid1.unit_id, "网格员"]]
                    ),
                )
            },
        )
        import_id = r.json()["import_id"]
        legacy = _xlsx([["姓名", "行号", "错误原因"], ["林南", "2", "手机号：格式不正确"]])
        async with db.unit_of_work() as s:
            await s.execute(
                text("UPDATE roster_imports SET report = :r WHERE id = :id"), {"r": legacy, "id": import_id}
            )
        report = await client.get(f"/api/accounts/import/{import_id}/report", headers=p.sysadmin.headers)
        assert report.status_code == 200 and report.content == legacy
        async with db.new_session(readonly=True) as s:
            assert (
                await s.execute(select(RosterImport.report).where(RosterImport.id == import_id))
            ).scalar() == legacy

    async def test_a_file_stored_in_clear_before_still_downloads(self, client, db, personas: Personas):
        p = personas
        r = await client.post(
            "/api/files",
            headers=p.haikou.headers,
            files={"file": ("纪要.bin", b"\x00meeting notes", "application/octet-stream")},
        )
        row_id = r.json()["id"]
        async with db.unit_of_work() as s:
            row = await s.get(files.StoredFile, row_id)
            assert row is not None
            sealed = files.file_path(row).read_bytes()
            assert crypto.is_sealed(sealed) and b"meeting" not in sealed
            row.address = _write_legacy(b"\x00old notes")
        download = await client.get(f"/api/files/{row_id}", headers=p.haikou.headers)
        assert download.status_code == 200 and download.content == b"\x00old notes"
