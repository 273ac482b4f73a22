"""Roster import: valid rows kept, each bad row reported by row and field, the corrected report
re-imported without duplicates; csv and xlsx; bad files and oversized uploads refused."""

from __future__ import annotations

import csv
import io

import pyotp
import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, text

from zhengding import demo
from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import RoleAssignment, RosterImport, User
from zhengding.accounts.passwords import hash_password
from zhengding.accounts.service.users import user_row, validate_new_user
from zhengding.audit.models import AuditEntry
from zhengding.core.clock import clock, now
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.privacy.crypto import blind_index
from zhengding.privacy.idcard import check_digit

STREET = demo.XIUYING_STREET  # 秀英街道
SIBLING_STREET = "460105002000"  # 海秀街道: outside a street administrator's scope
HEADER = ["姓名", "手机号", "机构编码", "职务", "身份证号"]


def id_number(seq: int, born: str = "19900307") -> str:
    first17 = f"460105{born}{seq % 1000:03d}"
    return first17 + check_digit(first17)


def bad_checksum(value: str) -> str:
    return value[:17] + ("0" if value[17] != "0" else "1")


def xlsx(rows: list[list], header: list[str] = HEADER) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, float | int):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def csv_bytes(rows: list[list], header: list[str] = HEADER, encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def read_xlsx(content: bytes) -> list[list[str]]:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0)
    return [[str(v) if not isinstance(v, float) else str(int(v)) for v in row] for row in sheet.iter_rows()]


def write_xlsx(rows: list[list[str]]) -> bytes:
    return xlsx(rows[1:], header=rows[0])


async def upload(client, headers, content: bytes, filename: str = "名册.xlsx"):
    return await client.post("/api/accounts/import", headers=headers, files={"file": (filename, content)})


async def unit_by_code(db, code: str) -> OrgUnit:
    async with db.unit_of_work() as s:
        return (await s.execute(select(OrgUnit).where(OrgUnit.division_code == code))).scalar_one()


async def villages_of(db, code: str) -> list[OrgUnit]:
    street = await unit_by_code(db, code)
    async with db.unit_of_work() as s:
        return list(
            (
                await s.execute(
                    select(OrgUnit).where(OrgUnit.parent_id == street.id).order_by(OrgUnit.sort_key)
                )
            ).scalars()
        )


async def accounts_by_phone(db, phones: list[str]) -> list[User]:
    async with db.unit_of_work() as s:
        bidx = [blind_index("phone", p) for p in phones]
        return list((await s.execute(select(User).where(User.phone_bidx.in_(bidx)))).scalars())


async def make_admin(db, client, unit_code: str, username: str, phone: str) -> dict[str, str]:
    """A system administrator anchored at a unit (so with that subtree as scope), logged in."""
    unit = await unit_by_code(db, unit_code)
    secret = pyotp.random_base32()
    async with db.unit_of_work() as s:
        row = user_row(
            validate_new_user("管理员" + username[-2:], phone, unit.id, "系统管理员", username=username)
        )
        row.update(
            status=str(UserStatus.ACTIVE),
            password_hash=hash_password(demo.DEMO_PASSWORD),
            activated_at=now(),
            password_changed_at=now(),
            totp_secret=secret,
            totp_enabled=True,
        )
        s.add(User(**row))
        await s.flush()
        s.add(Membership(user_id=row["id"], unit_id=unit.id, position="系统管理员"))
        s.add(RoleAssignment(user_id=row["id"], role="system_admin", unit_id=unit.id))
    r = await client.post("/api/auth/login", json={"login": username, "password": demo.DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    v = await client.post(
        "/api/auth/totp/verify", json={"code": pyotp.TOTP(secret).at(clock.now())}, headers=headers
    )
    assert v.status_code == 200, v.text
    return headers


@pytest.fixture(scope="session")
async def street_admin(db, client, personas):
    import os

    return await make_admin(db, client, STREET, f"street_admin_{os.getpid()}", f"17{os.getpid() % 10**9:09d}")


class TestImportRoster:
    async def test_keeps_valid_rows_reports_bad_ones_and_reimports_the_corrected_report(
        self, client, db, personas, street_admin, unique_phone
    ):
        villages = await villages_of(db, STREET)
        v0, v1 = villages[0], villages[1]
        good_a, good_b = unique_phone(), unique_phone()
        phones = {k: unique_phone() for k in ("bad_id", "unknown", "outside", "no_name")}
        id_b, id_bad = id_number(101), bad_checksum(id_number(102))
        rows = [
            ["符海", good_a, v0.division_code, "网格员", ""],  # 2 ok
            ["吴琼", float(good_b), v1.id, "网格员", id_b],  # 3 ok: float phone, unit id
            ["陈椰", "1234", v0.division_code, "网格员", ""],  # 4 bad phone
            ["林南", phones["bad_id"], v0.division_code, "网格员", id_bad],  # 5 bad ID checksum
            ["王明", phones["unknown"], "469999999999", "网格员", ""],  # 6 unknown org code
            ["李华", phones["outside"], SIBLING_STREET, "干部", ""],  # 7 outside scope
            ["张国", good_a, v1.division_code, "网格员", ""],  # 8 duplicate of row 2
            ["刘建", personas.town.phone, v0.division_code, "网格员", ""],  # 9 already registered
            ["", phones["no_name"], v0.division_code, "网格员", ""],  # 10 missing name
        ]
        r = await upload(client, street_admin, xlsx(rows))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["accepted"], body["rejected"]) == (2, 7)
        assert {(e["row"], e["field"]) for e in body["errors"]} == {
            (4, "phone"),
            (5, "id_number"),
            (6, "org_code"),
            (7, "org_code"),
            (8, "phone"),
            (9, "phone"),
            (10, "name"),
        }
        assert all(e["reason"] for e in body["errors"])

        created = {u.phone: u for u in await accounts_by_phone(db, [good_a, good_b])}
        assert set(created) == {good_a, good_b}
        assert created[good_b].id_number == id_b and created[good_a].status == UserStatus.PENDING
        async with db.unit_of_work() as s:
            units = dict(
                (
                    await s.execute(
                        select(Membership.user_id, Membership.unit_id).where(
                            Membership.user_id.in_([u.id for u in created.values()])
                        )
                    )
                ).all()
            )
        assert units == {created[good_a].id: v0.id, created[good_b].id: v1.id}

        report = await client.get(f"/api/accounts/import/{body['import_id']}/report", headers=street_admin)
        assert report.status_code == 200
        assert report.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "filename*=UTF-8''" in report.headers["content-disposition"]
        sheet = read_xlsx(report.content)
        assert sheet[0] == [*HEADER, "行号", "错误原因"]
        assert [int(row[5]) for row in sheet[1:]] == [4, 5, 6, 7, 8, 9, 10]
        assert all(row[6] for row in sheet[1:])
        assert "手机号" in sheet[1][6] and "身份证号" in sheet[2][6] and "第 2 行" in sheet[5][6]

        # The administrator corrects the report in place and uploads it as it is.
        fixes = {
            4: (1, unique_phone()),
            5: (4, id_number(103)),
            6: (2, v0.division_code),
            7: (2, v1.division_code),
            8: (1, unique_phone()),
            9: (1, unique_phone()),
            10: (0, "郑东"),
        }
        for row in sheet[1:]:
            col, value = fixes[int(row[5])]
            row[col] = value
        corrected = write_xlsx(sheet)
        again = await upload(client, street_admin, corrected, "名册-错误行.xlsx")
        assert again.status_code == 200, again.text
        assert (again.json()["accepted"], again.json()["rejected"]) == (7, 0)

        # Uploading the same corrected file once more creates nobody twice.
        twice = await upload(client, street_admin, corrected, "名册-错误行.xlsx")
        assert (twice.json()["accepted"], twice.json()["rejected"]) == (0, 7)
        assert {e["field"] for e in twice.json()["errors"]} <= {"phone", "id_number"}
        all_phones = [good_a, good_b, *[row[1] for row in sheet[1:]]]
        assert len(await accounts_by_phone(db, all_phones)) == 9

    async def test_stores_phone_and_id_number_as_ciphertext(self, client, db, street_admin, unique_phone):
        v0 = (await villages_of(db, STREET))[0]
        phone, idn = unique_phone(), id_number(201, "19850101")
        r = await upload(client, street_admin, xlsx([["蔡文", phone, v0.division_code, "网格员", idn]]))
        assert r.json()["accepted"] == 1, r.text
        (user,) = await accounts_by_phone(db, [phone])
        async with db.unit_of_work() as s:
            raw_phone, raw_id, last4 = (
                await s.execute(
                    text("SELECT phone, id_number, phone_last4 FROM users WHERE id = :id"), {"id": user.id}
                )
            ).one()
        assert raw_phone.startswith("v1:") and phone not in raw_phone
        assert raw_id.startswith("v1:") and idn not in raw_id
        assert last4 == phone[-4:] and user.phone == phone and user.id_number == idn

    @pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030"])
    async def test_reads_csv_in_utf8_with_or_without_bom_and_gb18030(
        self, client, db, street_admin, unique_phone, encoding
    ):
        v0 = (await villages_of(db, STREET))[0]
        phones = [unique_phone(), unique_phone()]
        content = csv_bytes(
            [
                ["黄秀英", phones[0], v0.division_code, "网格员", ""],
                ["许镕", phones[1] + ".0", v0.division_code, "村干部", ""],
            ],
            encoding=encoding,
        )
        r = await upload(client, street_admin, content, "名册.csv")
        assert r.status_code == 200, r.text
        assert (r.json()["accepted"], r.json()["rejected"]) == (2, 0), r.json()
        assert {u.name for u in await accounts_by_phone(db, phones)} == {"黄秀英", "许镕"}

    async def test_reports_phone_lost_to_scientific_notation(self, client, db, street_admin, unique_phone):
        v0 = (await villages_of(db, STREET))[0]
        exact = unique_phone()
        spelled = f"{exact[0]}.{exact[1:]}E+10"  # every digit present: recoverable
        content = csv_bytes(
            [
                ["羊春", "1.38E+10", v0.division_code, "网格员", ""],
                ["吉兰", spelled, v0.division_code, "网格员", ""],
            ]
        )
        r = await upload(client, street_admin, content, "名册.csv")
        assert (r.json()["accepted"], r.json()["rejected"]) == (1, 1), r.json()
        (error,) = r.json()["errors"]
        assert error["row"] == 2 and error["field"] == "phone" and "科学计数法" in error["reason"]
        assert len(await accounts_by_phone(db, [exact])) == 1

    async def test_header_aliases_optional_columns_and_unknown_columns(
        self, client, db, street_admin, unique_phone
    ):
        v0 = (await villages_of(db, STREET))[0]
        phone = unique_phone()
        header = ["*姓名", "手机号", "机构编码", "职务", "身份证号（可选）", "备注"]
        r = await upload(
            client, street_admin, xlsx([["邢波", phone, v0.division_code, "网格员", "", "新入职"]], header)
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        async with db.unit_of_work() as s:
            detail = (
                await s.execute(
                    select(AuditEntry.detail).where(
                        AuditEntry.action == "accounts.roster.imported",
                        AuditEntry.target_id == r.json()["import_id"],
                    )
                )
            ).scalar_one()
        assert "备注" in detail

    async def test_checks_usernames_like_a_single_account(self, client, db, street_admin, unique_phone):
        v0 = (await villages_of(db, STREET))[0]
        header = [*HEADER, "用户名"]
        rows = [
            ["甲", unique_phone(), v0.division_code, "网格员", "", f"ok_user_{unique_phone()[-6:]}"],
            ["乙", unique_phone(), v0.division_code, "网格员", "", "1bad"],
            ["丙", unique_phone(), v0.division_code, "网格员", "", "province"],
        ]  # a persona's username
        r = await upload(client, street_admin, xlsx(rows, header))
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1
        assert {(e["row"], e["field"]) for e in r.json()["errors"]} == {(3, "username"), (4, "username")}


class TestBadInput:
    async def test_missing_required_headers_are_named(self, client, street_admin):
        r = await upload(
            client, street_admin, csv_bytes([["张三", "13800138000"]], header=["姓名", "手机号"]), "名册.csv"
        )
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "validation_failed"
        assert "机构编码" in error["message"] and "职务" in error["message"]

    @pytest.mark.parametrize(
        "content, filename",
        [
            (b"", "名册.xlsx"),
            (b"\xef\xbb\xbf\r\n\r\n", "名册.csv"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.png"),
            (b"PK\x03\x04 this is not a workbook", "名册.xlsx"),
            (b"%PDF-1.7 ...", "名册.pdf"),
        ],
    )
    async def test_empty_or_unreadable_files_are_refused(self, client, db, street_admin, content, filename):
        async with db.unit_of_work() as s:
            before = (await s.execute(select(func.count()).select_from(RosterImport))).scalar_one()
        r = await upload(client, street_admin, content, filename)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"]
        async with db.unit_of_work() as s:
            assert (await s.execute(select(func.count()).select_from(RosterImport))).scalar_one() == before

    async def test_header_without_rows_is_refused(self, client, street_admin):
        r = await upload(client, street_admin, xlsx([]))
        assert r.status_code == 422 and "没有数据行" in r.json()["error"]["message"]

    async def test_oversized_upload_is_refused_with_413(self, client, settings, street_admin):
        r = await upload(client, street_admin, b"x" * (settings.max_upload_bytes + 1), "名册.csv")
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "payload_too_large"


class TestImportAccess:
    async def test_outsider_and_command_staff_are_refused(self, client, personas):
        for who in (personas.outsider, personas.town, personas.grid1):
            r = await upload(client, who.headers, xlsx([["张三", "13800138000", STREET, "网格员", ""]]))
            assert r.status_code == 403, (who.username, r.text)

    async def test_report_is_only_for_the_importer(self, client, db, personas, street_admin, unique_phone):
        r = await upload(client, street_admin, xlsx([["", unique_phone(), STREET, "网格员", ""]]))
        import_id = r.json()["import_id"]
        assert (
            await client.get(f"/api/accounts/import/{import_id}/report", headers=street_admin)
        ).status_code == 200
        other = await client.get(
            f"/api/accounts/import/{import_id}/report", headers=personas.sysadmin.headers
        )
        assert other.status_code == 404
        refused = await client.get(
            f"/api/accounts/import/{import_id}/report", headers=personas.outsider.headers
        )
        assert refused.status_code == 403

    async def test_import_and_report_download_are_audited(self, client, db, street_admin, unique_phone):
        v0 = (await villages_of(db, STREET))[0]
        r = await upload(
            client,
            street_admin,
            xlsx(
                [
                    ["云辉", unique_phone(), v0.division_code, "网格员", ""],
                    ["云杰", "12", v0.division_code, "网格员", ""],
                ]
            ),
        )
        import_id = r.json()["import_id"]
        await client.get(f"/api/accounts/import/{import_id}/report", headers=street_admin)
        async with db.unit_of_work() as s:
            rows = (
                await s.execute(
                    select(AuditEntry.action, AuditEntry.detail)
                    .where(AuditEntry.target_id == import_id)
                    .order_by(AuditEntry.seq)
                )
            ).all()
        assert [a for a, _ in rows] == ["accounts.roster.imported", "accounts.roster_report.downloaded"]
        assert '"accepted":1' in rows[0][1] and '"rejected":1' in rows[0][1]
