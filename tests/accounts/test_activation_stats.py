"""Activation statistics per unit and per child subtree: counts match the accounts of each
subtree, rate in percent with two decimals, set-based queries, within scope only."""

from __future__ import annotations

import io

import pytest
import xlsxwriter
from sqlalchemy import distinct, event, func, select, update

from zhengding import demo
from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import User
from zhengding.accounts.service.activation import Stat
from zhengding.core.clock import now
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.privacy.crypto import blind_index

TOWN = "469001100000"  # 五指山市通什镇: a subtree of its own for these tests


async def unit(db, code: str) -> OrgUnit:
    async with db.unit_of_work() as s:
        return (await s.execute(select(OrgUnit).where(OrgUnit.division_code == code))).scalar_one()


async def children(db, parent: OrgUnit) -> list[OrgUnit]:
    async with db.unit_of_work() as s:
        return list(
            (
                await s.execute(
                    select(OrgUnit).where(OrgUnit.parent_id == parent.id).order_by(OrgUnit.sort_key)
                )
            ).scalars()
        )


async def import_people(client, personas, target: OrgUnit, phones: list[str]) -> list[str]:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "手机号", "机构编码", "职务"])
    for r, phone in enumerate(phones, start=1):
        sheet.write_row(r, 0, [f"网格员{r}", phone, target.division_code, "网格员"])
    book.close()
    r = await client.post(
        "/api/accounts/import",
        headers=personas.sysadmin.headers,
        files={"file": ("名册.xlsx", out.getvalue())},
    )
    assert r.status_code == 200 and r.json()["accepted"] == len(phones), r.text
    return phones


async def user_ids(db, phones: list[str]) -> list[str]:
    async with db.unit_of_work() as s:
        return list(
            (
                await s.execute(
                    select(User.id).where(User.phone_bidx.in_([blind_index("phone", p) for p in phones]))
                )
            ).scalars()
        )


async def counted(db, root: OrgUnit) -> tuple[int, int]:
    """The expected numbers, counted independently: distinct accounts with a membership in the subtree."""
    async with db.unit_of_work() as s:
        stmt = (
            select(
                func.count(distinct(User.id)),
                func.count(distinct(User.id)).filter(User.activated_at.is_not(None)),
            )
            .join(Membership, Membership.user_id == User.id)
            .join(OrgUnit, OrgUnit.id == Membership.unit_id)
            .where(OrgUnit.path.startswith(root.path))
        )
        total, activated = (await s.execute(stmt)).one()
    return total, activated


async def get_stats(client, headers, unit_id: str | None = None):
    return await client.get(
        "/api/stats/activation", params={"unit_id": unit_id} if unit_id else {}, headers=headers
    )


class TestActivationStats:
    async def test_counts_match_each_child_subtree(self, client, db, personas, unique_phone):
        town = await unit(db, TOWN)
        village_a, village_b = (await children(db, town))[:2]
        before = (await get_stats(client, personas.province.headers, town.id)).json()["unit"]

        phones_a = await import_people(client, personas, village_a, [unique_phone() for _ in range(3)])
        phones_b = await import_people(client, personas, village_b, [unique_phone() for _ in range(2)])
        ids_a, ids_b = await user_ids(db, phones_a), await user_ids(db, phones_b)
        async with db.unit_of_work() as s:
            await s.execute(
                update(User)
                .where(User.id.in_(ids_a[:2] + ids_b[:1]))
                .values(activated_at=now(), status=str(UserStatus.ACTIVE))
            )
            # One person in both villages: counted in each village, once in the town.
            s.add(Membership(user_id=ids_a[0], unit_id=village_b.id, position="兼职网格员", is_primary=False))

        r = await get_stats(client, personas.province.headers, town.id)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["unit"]["id"] == town.id and body["unit"]["name"] == town.name
        assert (body["unit"]["total"], body["unit"]["activated"]) == (
            before["total"] + 5,
            before["activated"] + 3,
        )
        assert (body["unit"]["total"], body["unit"]["activated"]) == await counted(db, town)

        kids = {c["id"]: c for c in body["children"]}
        assert set(kids) == {c.id for c in await children(db, town)}
        for child in (village_a, village_b):
            assert (kids[child.id]["total"], kids[child.id]["activated"]) == await counted(db, child)
        assert kids[village_b.id]["total"] >= 3 and kids[village_b.id]["activated"] >= 2
        for stat in [body["unit"], *body["children"]]:
            expected = round(stat["activated"] * 100 / stat["total"], 2) if stat["total"] else 0.0
            assert stat["rate"] == pytest.approx(expected, abs=0.005)

    async def test_rate_is_a_percentage_with_two_decimals(self):
        assert Stat("x", "全省", 9150, 8996).rate == 98.32
        assert Stat("x", "空", 0, 0).rate == 0.0
        assert Stat("x", "半", 3, 1).rate == 33.33
        assert Stat("x", "满", 7, 7).rate == 100.0

    async def test_without_a_unit_shows_the_actors_root_with_its_children(self, client, db, personas):
        province = await unit(db, demo.PROVINCE)
        body = (await get_stats(client, personas.sysadmin.headers)).json()
        assert body["unit"]["id"] == province.id
        assert {c["id"] for c in body["children"]} == {c.id for c in await children(db, province)}
        assert (body["unit"]["total"], body["unit"]["activated"]) == await counted(db, province)

        town_view = (await get_stats(client, personas.town.headers)).json()
        assert town_view["unit"]["id"] == personas.town.unit_id

    async def test_queries_do_not_grow_with_the_number_of_children(self, client, db, personas):
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            if statement.lstrip().upper().startswith("SELECT") and "auth_sessions" not in statement:
                statements.append(statement)

        engine = db.read_engine.sync_engine
        province = await unit(db, demo.PROVINCE)
        street = await unit(db, demo.XIUYING_STREET)
        event.listen(engine, "before_cursor_execute", count)
        try:
            await get_stats(client, personas.sysadmin.headers, street.id)
            small = len(statements)
            statements.clear()
            await get_stats(client, personas.sysadmin.headers, province.id)
            large = len(statements)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(await children(db, province)) > 2 * len(await children(db, street)) > 0
        assert large == small


class TestActivationStatsScope:
    async def test_town_officer_sees_own_town_not_the_sibling(self, client, db, personas):
        own = await get_stats(client, personas.town.headers, personas.town.unit_id)
        assert own.status_code == 200
        sibling = await unit(db, "460105002000")
        hidden = await get_stats(client, personas.town.headers, sibling.id)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"

    async def test_people_without_the_permission_are_refused(self, client, personas):
        for who in (personas.outsider, personas.grid1):
            r = await get_stats(client, who.headers, personas.town.unit_id)
            assert r.status_code == 403, who.username
