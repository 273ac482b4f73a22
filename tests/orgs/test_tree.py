"""The org tree built from Hainan's divisions, and administrators managing units through the API."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from tests.conftest import Personas
from zhengding.divisions import service as division_service
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit

PROVINCE = "460000000000"
QIONGHAI = "469002000000"  # 琼海市, under the placeholder 省直辖县级行政区划
LINGSHUI = "469028000000"  # 陵水黎族自治县, same
DANZHOU = "460400000000"  # 儋州市: towns directly under the city
HAITANG = "460202000000"  # 三亚市海棠区: villages of 海棠区直辖村级区划 hang here
XIUYING_STREET = "460105001000"


def _suffix() -> str:
    return uuid.uuid4().hex[:6]


async def _hainan_units(db) -> dict[str, OrgUnit]:
    async with db.new_session(readonly=True) as s:  # closed without rollback: objects stay loaded
        rows = (
            (await s.execute(select(OrgUnit).where(OrgUnit.division_code.startswith("46")))).scalars().all()
        )
    return {u.division_code: u for u in rows}


class TestBuildFromDivisions:
    async def test_hainan_tree_has_one_unit_per_real_division(self, db):
        units = await _hainan_units(db)
        rows = division_service.read_province("46")
        real = {r.code for r in rows if not r.placeholder}
        placeholders = {r.code for r in rows if r.placeholder}
        assert set(units) == real
        assert len(units) == 3571 - 7
        assert not placeholders & set(units)
        assert "469000000000" in placeholders  # 省直辖县级行政区划 has no unit

        province = units[PROVINCE]
        assert (province.kind, province.level, province.parent_id) == ("command", 1, None)
        assert [u for u in units.values() if u.level == 1] == [province]

    async def test_county_level_cities_under_the_placeholder_hang_under_the_province(self, db):
        units = await _hainan_units(db)
        province = units[PROVINCE]
        for code in (QIONGHAI, LINGSHUI):
            unit = units[code]
            assert unit.parent_id == province.id
            assert unit.level == 2 and unit.kind == "command"
        towns_of_qionghai = [u for u in units.values() if u.parent_id == units[QIONGHAI].id]
        assert towns_of_qionghai and all(u.level == 4 and u.kind == "command" for u in towns_of_qionghai)

    async def test_danzhou_towns_hang_directly_under_the_city(self, db):
        units = await _hainan_units(db)
        danzhou = units[DANZHOU]
        assert danzhou.level == 2 and danzhou.parent_id == units[PROVINCE].id
        towns = [u for u in units.values() if u.parent_id == danzhou.id]
        assert len(towns) >= 10
        assert all(u.level == 4 and u.division_code.startswith("4604") for u in towns)
        assert units["460400100000"].parent_id == danzhou.id  # 那大镇

    async def test_villages_of_a_placeholder_town_hang_under_its_county(self, db):
        units = await _hainan_units(db)
        village = units["460202198001"]  # 永宁社区居委会 in 海棠区直辖村级区划
        assert village.parent_id == units[HAITANG].id
        assert village.kind == "committee" and village.level == 5

    async def test_every_village_is_a_committee_and_nothing_else_is(self, db):
        units = await _hainan_units(db)
        committees = [u for u in units.values() if u.kind == "committee"]
        assert len(committees) == 3296
        assert all(u.level == 5 for u in committees)
        assert all(u.kind == "command" for u in units.values() if u.level < 5)

    async def test_paths_are_prefix_consistent(self, db):
        units = await _hainan_units(db)
        by_id = {u.id: u for u in units.values()}
        for unit in units.values():
            if unit.parent_id is None:
                assert unit.path == f"/{unit.id}/"
            else:
                parent = by_id[unit.parent_id]
                assert unit.path == f"{parent.path}{unit.id}/"

    async def test_building_twice_creates_nothing_and_keeps_ids(self, db):
        before = {code: u.id for code, u in (await _hainan_units(db)).items()}
        async with db.unit_of_work() as s:
            await division_service.load_divisions(s, "46")
            created = await org_service.build_tree_from_divisions(s, "46")
        assert created == 0
        after = {code: u.id for code, u in (await _hainan_units(db)).items()}
        assert after == before


async def _create(client, persona, parent_id: str, name: str, kind: str = "department"):
    return await client.post(
        "/api/orgs", json={"parent_id": parent_id, "name": name, "kind": kind}, headers=persona.headers
    )


async def _unit(db, unit_id: str) -> OrgUnit:
    async with db.new_session(readonly=True) as s:
        unit = await s.get(OrgUnit, unit_id)
        assert unit is not None
        return unit


class TestManageUnits:
    async def test_sysadmin_creates_department_and_grid_under_a_village(self, client, db, personas: Personas):
        village = personas.grid1.unit_id
        r = await _create(client, personas.sysadmin, village, f"防控办{_suffix()}")
        assert r.status_code == 201, r.text
        dept = r.json()
        assert dept["kind"] == "department" and dept["parent_id"] == village and dept["level"] == 5
        assert dept["division_code"] is None and dept["has_children"] is False
        r = await _create(client, personas.sysadmin, village, f"第一网格{_suffix()}", "grid")
        assert r.status_code == 201, r.text
        grid = r.json()
        assert grid["kind"] == "grid" and grid["level"] == 6

        parent = await _unit(db, village)
        for made in (dept, grid):
            assert (await _unit(db, made["id"])).path == f"{parent.path}{made['id']}/"
        children = await client.get(f"/api/orgs/{village}/children", headers=personas.grid1.headers)
        assert {dept["id"], grid["id"]} <= {u["id"] for u in children.json()}
        detail = await client.get(f"/api/orgs/{village}", headers=personas.grid1.headers)
        assert detail.json()["has_children"] is True

    async def test_rename_department(self, client, personas: Personas):
        r = await _create(client, personas.sysadmin, personas.grid1.unit_id, f"宣传组{_suffix()}")
        unit_id = r.json()["id"]
        new_name = f"宣传与动员组{_suffix()}"
        r = await client.patch(
            f"/api/orgs/{unit_id}", json={"name": new_name}, headers=personas.sysadmin.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["name"] == new_name
        found = await client.get(
            "/api/directory/search", params={"q": new_name}, headers=personas.grid1.headers
        )
        assert [u["id"] for u in found.json()["units"]] == [unit_id]

    async def test_moving_a_department_moves_its_whole_subtree(self, client, db, personas: Personas):
        admin = personas.sysadmin
        v1, v2 = personas.grid1.unit_id, personas.grid2.unit_id
        dept_name, grid_name = f"后勤组{_suffix()}", f"后勤网格{_suffix()}"
        dept = (await _create(client, admin, v1, dept_name)).json()
        grid = (await _create(client, admin, dept["id"], grid_name, "grid")).json()
        sub = (await _create(client, admin, grid["id"], f"小组{_suffix()}", "department")).json()

        r = await client.post(
            f"/api/orgs/{dept['id']}/move", json={"new_parent_id": v2}, headers=admin.headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["parent_id"] == v2

        village2 = await _unit(db, v2)
        moved = await _unit(db, dept["id"])
        moved_grid = await _unit(db, grid["id"])
        moved_sub = await _unit(db, sub["id"])
        assert moved.path == f"{village2.path}{dept['id']}/"
        assert moved_grid.path == f"{moved.path}{grid['id']}/" and moved_grid.parent_id == dept["id"]
        assert moved_sub.path == f"{moved_grid.path}{sub['id']}/"

        kids2 = await client.get(f"/api/orgs/{v2}/children", headers=admin.headers)
        assert dept["id"] in {u["id"] for u in kids2.json()}
        kids1 = await client.get(f"/api/orgs/{v1}/children", headers=admin.headers)
        assert dept["id"] not in {u["id"] for u in kids1.json()}
        kids = await client.get(f"/api/orgs/{dept['id']}/children", headers=admin.headers)
        assert [u["id"] for u in kids.json()] == [grid["id"]]

        # Scope follows the new place: the second village's grid worker sees it, the first's no longer.
        seen = await client.get(f"/api/orgs/{grid['id']}", headers=personas.grid2.headers)
        assert seen.status_code == 200, seen.text
        assert [a["id"] for a in seen.json()["ancestors"]][-2:] == [v2, dept["id"]]
        hidden = await client.get(f"/api/orgs/{grid['id']}", headers=personas.grid1.headers)
        assert hidden.status_code == 404
        for persona, present in ((personas.grid2, True), (personas.grid1, False)):
            found = await client.get(
                "/api/directory/search", params={"q": grid_name}, headers=persona.headers
            )
            assert (grid["id"] in {u["id"] for u in found.json()["units"]}) is present

    async def test_moved_department_takes_the_level_of_its_new_parent(self, client, db, personas: Personas):
        admin = personas.sysadmin
        dept = (await _create(client, admin, personas.grid1.unit_id, f"物资组{_suffix()}")).json()
        grid = (await _create(client, admin, dept["id"], f"物资网格{_suffix()}", "grid")).json()
        sub_dept = (await _create(client, admin, dept["id"], f"物资采购{_suffix()}")).json()
        grid_dept = (await _create(client, admin, grid["id"], f"网格小组{_suffix()}")).json()
        assert (dept["level"], sub_dept["level"], grid_dept["level"]) == (5, 5, 6)
        r = await client.post(
            f"/api/orgs/{dept['id']}/move",
            json={"new_parent_id": personas.town.unit_id},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["level"] == 4
        assert (await _unit(db, sub_dept["id"])).level == 4
        assert (await _unit(db, grid["id"])).level == 6
        assert (await _unit(db, grid_dept["id"])).level == 6

    async def test_cannot_move_into_own_subtree(self, client, personas: Personas):
        admin = personas.sysadmin
        dept = (await _create(client, admin, personas.grid1.unit_id, f"核查组{_suffix()}")).json()
        grid = (await _create(client, admin, dept["id"], f"核查网格{_suffix()}", "grid")).json()
        for target in (grid["id"], dept["id"]):
            r = await client.post(
                f"/api/orgs/{dept['id']}/move", json={"new_parent_id": target}, headers=admin.headers
            )
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "validation_failed"

    async def test_division_bound_units_cannot_be_renamed_or_moved(self, client, personas: Personas):
        admin = personas.sysadmin
        village = personas.grid1.unit_id
        r = await client.patch(f"/api/orgs/{village}", json={"name": "随便改个名"}, headers=admin.headers)
        assert r.status_code == 422, r.text
        r = await client.post(
            f"/api/orgs/{village}/move",
            json={"new_parent_id": personas.haikou.unit_id},
            headers=admin.headers,
        )
        assert r.status_code == 422, r.text
        after = await client.get(f"/api/orgs/{village}", headers=admin.headers)
        assert after.json()["parent_id"] == personas.town.unit_id and after.json()["name"] != "随便改个名"

    async def test_duplicate_sibling_name_conflicts(self, client, personas: Personas):
        admin = personas.sysadmin
        name = f"综合组{_suffix()}"
        first = await _create(client, admin, personas.grid1.unit_id, name)
        assert first.status_code == 201
        again = await _create(client, admin, personas.grid1.unit_id, name, "grid")
        assert again.status_code == 409, again.text
        assert again.json()["error"]["code"] == "conflict"
        # the same name is fine under another parent ...
        elsewhere = await _create(client, admin, personas.grid2.unit_id, name)
        assert elsewhere.status_code == 201
        # ... but renaming or moving onto a sibling's name is not
        other = (await _create(client, admin, personas.grid1.unit_id, f"其他组{_suffix()}")).json()
        r = await client.patch(f"/api/orgs/{other['id']}", json={"name": name}, headers=admin.headers)
        assert r.status_code == 409, r.text
        r = await client.post(
            f"/api/orgs/{elsewhere.json()['id']}/move",
            json={"new_parent_id": personas.grid1.unit_id},
            headers=admin.headers,
        )
        assert r.status_code == 409, r.text

    async def test_town_officer_cannot_create_units(self, client, personas: Personas):
        r = await _create(client, personas.town, personas.grid1.unit_id, f"擅自组{_suffix()}")
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"

    async def test_town_officer_cannot_rename_or_move(self, client, personas: Personas):
        dept = (await _create(client, personas.sysadmin, personas.grid1.unit_id, f"联络组{_suffix()}")).json()
        r = await client.patch(
            f"/api/orgs/{dept['id']}", json={"name": f"改名{_suffix()}"}, headers=personas.town.headers
        )
        assert r.status_code == 403
        r = await client.post(
            f"/api/orgs/{dept['id']}/move",
            json={"new_parent_id": personas.grid2.unit_id},
            headers=personas.town.headers,
        )
        assert r.status_code == 403

    async def test_cannot_create_under_unit_outside_scope(self, client, db, personas: Personas):
        # sysadmin is anchored at 海南省: a unit of another province's tree is not found
        async with db.unit_of_work() as s:
            await division_service.load_divisions(s, "64")
            await org_service.build_tree_from_divisions(s, "64")
            ningxia = await org_service.unit_for_division(s, "640000000000")
        r = await _create(client, personas.sysadmin, ningxia.id, f"外省组{_suffix()}")
        assert r.status_code == 404, r.text
