"""Activation codes: issuing (POST) makes working single-use codes for the pending accounts of a
subtree, a new issue invalidates the previous one, audited; the latest issued set is kept sealed
and downloaded (GET) again as often as needed without issuing anything, each code with its
state; masked phones; within scope only."""

from __future__ import annotations

import asyncio
import io

import xlsxwriter
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, text

from zhengding import demo
from zhengding.accounts.models import ActivationCode, User
from zhengding.audit.models import AuditEntry
from zhengding.orgs.models import OrgUnit
from zhengding.privacy import crypto

PASSWORD = "Qiong-Activate-2026"


def roster(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "手机号", "机构编码", "职务"])
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def read_sheet(content: bytes) -> list[list[str]]:
    return [
        [str(v) for v in row]
        for row in CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).iter_rows()
    ]


async def village(db, index: int, street: str = demo.XIUYING_STREET) -> OrgUnit:
    async with db.unit_of_work() as s:
        parent = (await s.execute(select(OrgUnit).where(OrgUnit.division_code == street))).scalar_one()
        return list(
            (
                await s.execute(
                    select(OrgUnit).where(OrgUnit.parent_id == parent.id).order_by(OrgUnit.sort_key)
                )
            ).scalars()
        )[index]


async def import_people(client, personas, unit: OrgUnit, people: list[tuple[str, str]]) -> None:
    content = roster([[name, phone, unit.division_code, "网格员"] for name, phone in people])
    r = await client.post(
        "/api/accounts/import", headers=personas.sysadmin.headers, files={"file": ("名册.xlsx", content)}
    )
    assert r.status_code == 200 and r.json()["accepted"] == len(people), r.text


async def issue(client, headers, unit_id: str) -> dict:
    r = await client.post(f"/api/orgs/{unit_id}/activation-codes", headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["unit_id"] == unit_id
    return r.json()


async def download(client, headers, unit_id: str) -> list[list[str]]:
    r = await client.get(f"/api/orgs/{unit_id}/activation-codes", headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    return read_sheet(r.content)


async def export(client, headers, unit_id: str) -> list[list[str]]:
    """Issue, then download the set just issued (what the console does)."""
    issued = await issue(client, headers, unit_id)
    sheet = await download(client, headers, unit_id)
    assert issued["count"] == len(sheet) - 1
    return sheet


def row_of(sheet: list[list[str]], name: str, phone: str) -> list[str]:
    masked = phone[:3] + "****" + phone[-4:]
    (row,) = [row for row in sheet[1:] if row[1] == name and row[2] == masked]
    return row


def code_of(sheet: list[list[str]], name: str, phone: str) -> str:
    return row_of(sheet, name, phone)[4]


async def activate(client, name: str, phone: str, code: str):
    return await client.post(
        "/api/accounts/activate", json={"name": name, "phone": phone, "code": code, "password": PASSWORD}
    )


async def stats(client, headers, unit_id: str) -> dict:
    r = await client.get("/api/stats/activation", params={"unit_id": unit_id}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["unit"]


class TestExportCodes:
    async def test_export_contains_working_codes_and_activation_shows_in_stats(
        self, client, db, personas, unique_phone
    ):
        unit = await village(db, 4)
        people = [("符海燕", unique_phone()), ("吴国强", unique_phone()), ("陈秀兰", unique_phone())]
        await import_people(client, personas, unit, people)

        sheet = await export(client, personas.town.headers, unit.id)
        assert sheet[0] == ["单位", "姓名", "手机号", "职务", "激活码", "有效期至", "状态"]
        for name, phone in people:
            assert phone not in "".join("".join(row) for row in sheet)  # phones only masked
            assert len(code_of(sheet, name, phone)) == 8
        assert {row[0] for row in sheet[1:]} == {unit.name}
        assert {row[6] for row in sheet[1:]} == {"有效"}

        before = await stats(client, personas.town.headers, unit.id)
        name, phone = people[0]
        r = await activate(client, name, phone, code_of(sheet, name, phone))
        assert r.status_code == 200, r.text
        after = await stats(client, personas.town.headers, unit.id)
        assert after["total"] == before["total"]
        assert after["activated"] == before["activated"] + 1

        # A code works once; an activated account is no longer exported.
        again = await activate(client, name, phone, code_of(sheet, name, phone))
        assert again.status_code == 422
        names = {row[1] for row in (await export(client, personas.town.headers, unit.id))[1:]}
        assert name not in names and {"吴国强", "陈秀兰"} <= names

    async def test_second_export_invalidates_the_first_codes(self, client, db, personas, unique_phone):
        unit = await village(db, 5)
        name, phone = "郭文静", unique_phone()
        await import_people(client, personas, unit, [(name, phone)])
        first = code_of(await export(client, personas.town.headers, unit.id), name, phone)
        second = code_of(await export(client, personas.sysadmin.headers, unit.id), name, phone)
        assert first != second
        stale = await activate(client, name, phone, first)
        assert stale.status_code == 422
        assert (await activate(client, name, phone, second)).status_code == 200

    async def test_export_of_a_subtree_covers_its_villages_and_is_audited(
        self, client, db, personas, unique_phone
    ):
        units = [await village(db, 6), await village(db, 3)]
        people = [("何春", unique_phone()), ("罗东", unique_phone())]
        for unit, person in zip(units, people, strict=True):
            await import_people(client, personas, unit, [person])
        async with db.unit_of_work() as s:
            street = (await s.execute(select(OrgUnit).where(OrgUnit.id == units[0].parent_id))).scalar_one()
        sheet = await export(client, personas.town.headers, street.id)
        exported = {(row[0], row[1]) for row in sheet[1:]}
        assert {(units[0].name, "何春"), (units[1].name, "罗东")} <= exported
        async with db.unit_of_work() as s:
            entry = (
                await s.execute(
                    select(AuditEntry)
                    .where(
                        AuditEntry.action == "accounts.activation_codes.issued",
                        AuditEntry.target_id == street.id,
                    )
                    .order_by(AuditEntry.seq.desc())
                    .limit(1)
                )
            ).scalar_one()
        assert entry.actor_id == personas.town.user_id
        assert f'"count":{len(sheet) - 1}' in entry.detail
        assert all(row[4] not in entry.detail for row in sheet[1:])  # no plaintext codes in the audit


class TestConcurrentIssues:
    async def test_two_issues_for_one_unit_leave_only_the_kept_set_working(
        self, client, db, personas, unique_phone
    ):
        unit = await village(db, 4)
        people = [("潘志勇", unique_phone()), ("云丽华", unique_phone())]
        await import_people(client, personas, unit, people)
        answers = await asyncio.gather(
            *(
                client.post(f"/api/orgs/{unit.id}/activation-codes", headers=personas.town.headers)
                for _ in range(2)
            )
        )
        assert [r.status_code for r in answers] == [201, 201]
        sheet = await download(client, personas.town.headers, unit.id)
        async with db.unit_of_work() as s:
            for name, phone in people:
                user_id = (
                    await s.execute(select(User.id).where(User.name == name, User.phone_last4 == phone[-4:]))
                ).scalar_one()
                live = (
                    await s.execute(
                        select(func.count())
                        .select_from(ActivationCode)
                        .where(
                            ActivationCode.user_id == user_id,
                            ActivationCode.used_at.is_(None),
                            ActivationCode.revoked_at.is_(None),
                        )
                    )
                ).scalar_one()
                assert live == 1, name  # the other issue's code was voided, not left working
                assert row_of(sheet, name, phone)[6] == "有效"


class TestDownloadIssuedSet:
    async def test_download_before_any_issue_is_a_404_in_chinese(self, client, db, personas):
        async with db.unit_of_work() as s:
            unit = (await s.execute(select(OrgUnit).where(OrgUnit.division_code == demo.SANYA))).scalar_one()
        r = await client.get(f"/api/orgs/{unit.id}/activation-codes", headers=personas.sysadmin.headers)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"
        assert r.json()["error"]["message"] == "该单位尚未生成激活码，请先生成激活码再下载"

    async def test_downloads_repeat_the_set_and_change_no_code(self, client, db, personas, unique_phone):
        unit = await village(db, 1)
        name, phone = "邢玉兰", unique_phone()
        await import_people(client, personas, unit, [(name, phone)])
        await issue(client, personas.town.headers, unit.id)
        async with db.unit_of_work() as s:
            user_id = (
                await s.execute(select(User.id).where(User.name == name, User.phone_last4 == phone[-4:]))
            ).scalar_one()
            codes_before = (
                await s.execute(
                    select(ActivationCode.id, ActivationCode.revoked_at).where(
                        ActivationCode.user_id == user_id
                    )
                )
            ).all()
        first = await download(client, personas.town.headers, unit.id)
        second = await download(client, personas.sysadmin.headers, unit.id)
        assert first == second
        async with db.unit_of_work() as s:
            codes_after = (
                await s.execute(
                    select(ActivationCode.id, ActivationCode.revoked_at).where(
                        ActivationCode.user_id == user_id
                    )
                )
            ).all()
            downloads = (
                (
                    await s.execute(
                        select(AuditEntry.actor_id).where(
                            AuditEntry.action == "accounts.activation_codes.downloaded",
                            AuditEntry.target_id == unit.id,
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert codes_after == codes_before
        assert sorted(downloads) == sorted([personas.town.user_id, personas.sysadmin.user_id])
        assert (await activate(client, name, phone, code_of(second, name, phone))).status_code == 200

    async def test_download_marks_used_codes_and_codes_voided_by_a_later_issue(
        self, client, db, personas, unique_phone
    ):
        unit = await village(db, 2)
        people = [("羊春燕", unique_phone()), ("吉国平", unique_phone())]
        await import_people(client, personas, unit, people)
        sheet = await export(client, personas.town.headers, unit.id)
        (used_name, used_phone), (other_name, other_phone) = people
        assert (
            await activate(client, used_name, used_phone, code_of(sheet, used_name, used_phone))
        ).status_code == 200
        again = await download(client, personas.town.headers, unit.id)
        assert row_of(again, used_name, used_phone)[6] == "已使用"
        assert row_of(again, other_name, other_phone)[6] == "有效"

        # Issuing for the street voids the village's unused codes; the village's set says so.
        await issue(client, personas.town.headers, unit.parent_id)
        voided = await download(client, personas.town.headers, unit.id)
        assert row_of(voided, other_name, other_phone)[4] == code_of(sheet, other_name, other_phone)
        assert row_of(voided, other_name, other_phone)[6] == "已作废"
        assert (
            await activate(client, other_name, other_phone, code_of(sheet, other_name, other_phone))
        ).status_code == 422

    async def test_issued_set_is_sealed_at_rest(self, client, db, personas, unique_phone):
        unit = await village(db, 3)
        name, phone = "蔡海明", unique_phone()
        await import_people(client, personas, unit, [(name, phone)])
        code = code_of(await export(client, personas.town.headers, unit.id), name, phone)
        async with db.unit_of_work() as s:
            (raw,) = (
                await s.execute(
                    text("SELECT content FROM activation_code_sets WHERE unit_id = :u"), {"u": unit.id}
                )
            ).one()
        raw = bytes(raw)
        assert crypto.is_sealed(raw)
        assert code.encode() not in raw and name.encode() not in raw and phone[-4:].encode() not in raw
        assert crypto.unseal(raw, "activation_code_sets.content").count(code.encode()) == 1


class TestExportScope:
    async def test_town_officer_cannot_issue_or_download_outside_the_town(self, client, db, personas):
        async with db.unit_of_work() as s:
            sibling = (
                await s.execute(select(OrgUnit).where(OrgUnit.division_code == "460105002000"))
            ).scalar_one()
        for method in ("POST", "GET"):
            r = await client.request(
                method, f"/api/orgs/{sibling.id}/activation-codes", headers=personas.town.headers
            )
            assert r.status_code == 404, method
            assert r.json()["error"]["code"] == "not_found"

    async def test_people_without_the_permission_are_refused(self, client, db, personas):
        unit = await village(db, 0)
        for who in (personas.outsider, personas.grid1):
            for method in ("POST", "GET"):
                r = await client.request(method, f"/api/orgs/{unit.id}/activation-codes", headers=who.headers)
                assert r.status_code == 403, (who.username, method)
