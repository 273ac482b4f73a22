"""Directory API: browsing the tree, members, person cards and search, each within the data scope."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Personas
from tests.helpers import assert_list_scope_trio, assert_scope_trio


def _suffix() -> str:
    return uuid.uuid4().hex[:6]


async def _grid(client, personas: Personas, parent_id: str) -> dict:
    r = await client.post(
        "/api/orgs",
        json={"parent_id": parent_id, "name": f"目录网格{_suffix()}", "kind": "grid"},
        headers=personas.sysadmin.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _account(client, personas: Personas, unit_id: str, name: str, phone: str) -> dict:
    r = await client.post(
        "/api/accounts",
        json={"name": name, "phone": phone, "unit_id": unit_id, "position": "网格员"},
        headers=personas.sysadmin.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


class TestScopeTrio:
    async def test_unit_detail(self, client, personas: Personas):
        r = await assert_scope_trio(
            client,
            f"/api/orgs/{personas.grid1.unit_id}",
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
        )
        assert r.json()["kind"] == "committee" and r.json()["level"] == 5

    async def test_unit_children(self, client, personas: Personas):
        grid = await _grid(client, personas, personas.grid1.unit_id)
        url = f"/api/orgs/{personas.grid1.unit_id}/children"
        await assert_list_scope_trio(
            client, url, grid["id"], sees=personas.grid1, blind=personas.grid2, outsider=personas.outsider
        )
        await assert_scope_trio(
            client, url, sees=personas.grid1, blind=personas.grid2, outsider=personas.outsider
        )

    async def test_unit_members(self, client, personas: Personas):
        url = f"/api/orgs/{personas.grid1.unit_id}/members"
        await assert_list_scope_trio(
            client,
            url,
            personas.grid1.user_id,
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
        )
        await assert_scope_trio(
            client, url, sees=personas.grid1, blind=personas.grid2, outsider=personas.outsider
        )

    async def test_person_card(self, client, personas: Personas):
        r = await assert_scope_trio(
            client,
            f"/api/people/{personas.grid1.user_id}",
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
        )
        card = r.json()
        assert card["name"] == "符网格" and card["phone_masked"] == "138****0005"
        assert card["units"] == [
            {"id": personas.grid1.unit_id, "name": personas.grid1.unit_name, "position": "网格员"}
        ]
        assert card["activated"] is True

    @pytest.mark.parametrize("path", ["", "/children", "/members"])
    async def test_town_sees_both_villages(self, client, personas: Personas, path: str):
        for village in (personas.grid1.unit_id, personas.grid2.unit_id):
            r = await client.get(f"/api/orgs/{village}{path}", headers=personas.town.headers)
            assert r.status_code == 200, r.text

    async def test_town_sees_people_of_both_villages(self, client, personas: Personas):
        for worker in (personas.grid1, personas.grid2):
            r = await client.get(f"/api/people/{worker.user_id}", headers=personas.town.headers)
            assert r.status_code == 200, r.text
        # but not its superior, whose only unit is above the town
        r = await client.get(f"/api/people/{personas.haikou.user_id}", headers=personas.town.headers)
        assert r.status_code == 404

    async def test_city_sees_its_street_but_not_another_city(self, client, personas: Personas):
        r = await assert_scope_trio(
            client,
            f"/api/orgs/{personas.town.unit_id}",
            sees=personas.haikou,
            blind=personas.grid1,
            outsider=personas.outsider,
        )
        assert r.json()["name"] == "秀英街道"
        sanya = personas.outsider.unit_id
        for url in (
            f"/api/orgs/{sanya}",
            f"/api/orgs/{sanya}/children",
            f"/api/orgs/{sanya}/members",
            f"/api/people/{personas.outsider.user_id}",
        ):
            r = await client.get(url, headers=personas.haikou.headers)
            assert r.status_code == 404, (url, r.text)
        r = await client.get(f"/api/orgs/{sanya}", headers=personas.province.headers)
        assert r.status_code == 200 and r.json()["name"] == "三亚市"

    async def test_ancestors_are_shown_only_within_scope(self, client, personas: Personas):
        village = personas.grid1.unit_id
        own = await client.get(f"/api/orgs/{village}", headers=personas.grid1.headers)
        assert own.json()["ancestors"] == []
        town = await client.get(f"/api/orgs/{village}", headers=personas.town.headers)
        assert [a["name"] for a in town.json()["ancestors"]] == ["秀英街道"]
        top = await client.get(f"/api/orgs/{village}", headers=personas.province.headers)
        assert [a["name"] for a in top.json()["ancestors"]] == ["海南省", "海口市", "秀英区", "秀英街道"]


class TestRoots:
    @pytest.mark.parametrize(
        "username", ["province", "haikou", "xiuying", "town", "grid1", "grid2", "sysadmin"]
    )
    async def test_roots_are_the_persona_anchor(self, client, personas: Personas, username: str):
        persona = personas[username]
        r = await client.get("/api/orgs/roots", headers=persona.headers)
        assert r.status_code == 200, r.text
        assert [u["id"] for u in r.json()] == [persona.unit_id]

    @pytest.mark.parametrize("username", ["outsider", "auditadmin"])
    async def test_without_directory_permission_roots_are_refused(
        self, client, personas: Personas, username: str
    ):
        r = await client.get("/api/orgs/roots", headers=personas[username].headers)
        assert r.status_code == 403, r.text

    async def test_roots_require_login(self, client):
        r = await client.get("/api/orgs/roots")
        assert r.status_code == 401


class TestSearch:
    async def test_finds_people_and_units_by_name_within_scope(
        self, client, personas: Personas, unique_phone
    ):
        tag = _suffix()
        person = await _account(client, personas, personas.grid2.unit_id, f"冯{tag}", unique_phone())
        r = await client.post(
            "/api/orgs",
            json={"parent_id": personas.grid2.unit_id, "name": f"搜索网格{tag}", "kind": "grid"},
            headers=personas.sysadmin.headers,
        )
        unit = r.json()

        for persona in (personas.grid2, personas.town, personas.haikou, personas.province):
            found = await client.get("/api/directory/search", params={"q": tag}, headers=persona.headers)
            assert found.status_code == 200, found.text
            body = found.json()
            assert [p["id"] for p in body["people"]] == [person["id"]], persona.username
            assert [u["id"] for u in body["units"]] == [unit["id"]], persona.username
            assert body["people"][0]["phone_masked"] == person["phone_masked"]
            assert body["people"][0]["activated"] is False

        blind = await client.get("/api/directory/search", params={"q": tag}, headers=personas.grid1.headers)
        assert blind.status_code == 200
        assert blind.json() == {"units": [], "people": []}
        refused = await client.get(
            "/api/directory/search", params={"q": tag}, headers=personas.outsider.headers
        )
        assert refused.status_code == 403

    async def test_sibling_village_names_are_absent(self, client, personas: Personas):
        mine = await client.get(
            "/api/directory/search", params={"q": personas.grid1.name}, headers=personas.grid1.headers
        )
        assert personas.grid1.user_id in {p["id"] for p in mine.json()["people"]}
        other = await client.get(
            "/api/directory/search", params={"q": personas.grid2.name}, headers=personas.grid1.headers
        )
        assert personas.grid2.user_id not in {p["id"] for p in other.json()["people"]}
        village = await client.get(
            "/api/directory/search", params={"q": personas.grid2.unit_name}, headers=personas.grid1.headers
        )
        assert personas.grid2.unit_id not in {u["id"] for u in village.json()["units"]}
        town = await client.get(
            "/api/directory/search", params={"q": personas.grid2.unit_name}, headers=personas.town.headers
        )
        assert personas.grid2.unit_id in {u["id"] for u in town.json()["units"]}

    async def test_limited_to_a_subtree_and_a_kind_with_ancestor_names(self, client, personas: Personas):
        """A village picker: 社区 under 秀英街道 only, each hit with the names above it."""
        r = await client.get(
            "/api/directory/search",
            params={"q": "社区", "under": personas.town.unit_id, "kind": "committee"},
            headers=personas.haikou.headers,
        )
        assert r.status_code == 200, r.text
        units = r.json()["units"]
        assert units and all(u["kind"] == "committee" for u in units)
        assert {u["id"] for u in units} >= {personas.grid1.unit_id, personas.grid2.unit_id}
        assert all(u["path_names"][-1] == "秀英街道" and u["path_names"][0] == "海南省" for u in units)
        everywhere = await client.get(
            "/api/directory/search",
            params={"q": "社区", "kind": "committee"},
            headers=personas.haikou.headers,
        )
        assert len(everywhere.json()["units"]) > len(units)

    async def test_under_a_unit_outside_scope_is_404(self, client, personas: Personas):
        r = await client.get(
            "/api/directory/search",
            params={"q": "社区", "under": personas.outsider.unit_id},
            headers=personas.haikou.headers,
        )
        assert r.status_code == 404

    async def test_wildcards_are_literal(self, client, personas: Personas):
        for q in ("%", "_"):
            r = await client.get("/api/directory/search", params={"q": q}, headers=personas.town.headers)
            assert r.status_code == 200
            assert r.json()["people"] == [] and r.json()["units"] == []

    async def test_blank_query_finds_nothing(self, client, personas: Personas):
        r = await client.get("/api/directory/search", params={"q": "  "}, headers=personas.town.headers)
        assert r.json() == {"units": [], "people": []}

    async def test_member_list_shows_masked_phones(self, client, personas: Personas, unique_phone):
        phone = unique_phone()
        person = await _account(client, personas, personas.grid1.unit_id, f"褚{_suffix()}", phone)
        r = await client.get(f"/api/orgs/{personas.grid1.unit_id}/members", headers=personas.grid1.headers)
        row = next(p for p in r.json() if p["id"] == person["id"])
        assert row["phone_masked"] == phone[:3] + "****" + phone[-4:]
        assert phone not in r.text
