"""Built-in roles, separation of duties (三权分立) and the one scope filter (restrict / in_scope)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.accounts import create_account, new_account
from zhengding.accounts.models import RoleAssignment, User
from zhengding.authz.actor import Actor, Grant
from zhengding.authz.roles import ADMIN_ROLES, ROLES, DataScope
from zhengding.authz.scope import ensure_in_scope, in_scope, restrict
from zhengding.core.errors import NotFound
from zhengding.orgs.models import OrgUnit

READ = "directory.read"


class TestBuiltInRoles:
    def test_each_built_in_role_exists_with_its_scope(self):
        expected = {
            "province_command": DataScope.SUBTREE,
            "city_command": DataScope.SUBTREE,
            "county_command": DataScope.SUBTREE,
            "town_command": DataScope.SUBTREE,
            "village_staff": DataScope.SUBTREE,
            "grid_worker": DataScope.SUBTREE,
            "system_admin": DataScope.SUBTREE,
            "security_admin": DataScope.SUBTREE,
            "audit_admin": DataScope.SUBTREE,
        }
        assert {name: ROLES[name].scope for name in expected} == expected
        assert ADMIN_ROLES == {"system_admin", "security_admin", "audit_admin"}
        assert all(isinstance(p, str) and "." in p for role in ROLES.values() for p in role.permissions)

    def test_administrators_powers_are_separated(self):
        system, security, audit = (
            ROLES[r].permissions for r in ("system_admin", "security_admin", "audit_admin")
        )
        assert "accounts.manage" in system and "roles.assign" not in system and "audit.read" not in system
        assert (
            "roles.assign" in security and "accounts.manage" not in security and "audit.read" not in security
        )
        assert {"audit.read", "audit.verify"} <= audit and not audit & {"accounts.manage", "roles.assign"}

    async def test_roles_endpoint_lists_them(self, client, personas):
        r = await client.get("/api/roles", headers=personas.town.headers)
        assert r.status_code == 200
        listed = {row["role"]: row for row in r.json()}
        assert set(listed) == set(ROLES)
        assert listed["grid_worker"]["scope"] == "subtree" and listed["audit_admin"]["admin"] is True


class TestSeparationOfDuties:
    async def _assign(self, client, personas, user_id: str, role: str, unit_id: str | None = None):  # type: ignore[no-untyped-def]
        return await client.post(
            f"/api/accounts/{user_id}/roles",
            json={"role": role, "unit_id": unit_id or personas.province.unit_id},
            headers=personas.secadmin.headers,
        )

    async def _roles(self, db, user_id: str) -> list[str]:  # type: ignore[no-untyped-def]
        async with db.unit_of_work(readonly=True) as session:
            return sorted(
                (
                    await session.execute(
                        select(RoleAssignment.role).where(RoleAssignment.user_id == user_id)
                    )
                ).scalars()
            )

    async def test_no_account_may_hold_two_administrator_roles(self, client, db, personas, unique_phone):
        account = await create_account(client, personas, unique_phone(), unit_id=personas.province.unit_id)
        assert (await self._assign(client, personas, account["id"], "system_admin")).status_code == 200
        for other in ("security_admin", "audit_admin"):
            r = await self._assign(client, personas, account["id"], other)
            assert r.status_code == 409, r.text
            assert r.json()["error"]["code"] == "conflict" and "三权分立" in r.json()["error"]["message"]
        # the same administrator role elsewhere is not a second administrator role; a staff role
        # beside it is refused too (every pair: tests/accounts/test_separation_of_duties.py)
        assert (
            await self._assign(client, personas, account["id"], "system_admin", personas.haikou.unit_id)
        ).status_code == 200
        assert (
            await self._assign(client, personas, account["id"], "town_command", personas.town.unit_id)
        ).status_code == 409
        assert await self._roles(db, account["id"]) == ["system_admin", "system_admin"]

    async def test_security_admin_cannot_make_themselves_administrator(self, client, db, personas):
        before = await self._roles(db, personas.secadmin.user_id)
        for role, unit in (
            ("security_admin", personas.haikou.unit_id),
            ("system_admin", None),
            ("audit_admin", None),
        ):
            r = await self._assign(client, personas, personas.secadmin.user_id, role, unit)
            assert r.status_code == 409, r.text
        r = await self._assign(
            client, personas, personas.secadmin.user_id, "security_admin", personas.haikou.unit_id
        )
        assert "自己" in r.json()["error"]["message"]
        assert await self._roles(db, personas.secadmin.user_id) == before

    async def test_only_the_security_admin_assigns_roles(self, client, personas, unique_phone):
        account = await create_account(client, personas, unique_phone())
        for who in (personas.sysadmin, personas.auditadmin, personas.province):
            r = await client.post(
                f"/api/accounts/{account['id']}/roles",
                json={"role": "town_command", "unit_id": personas.town.unit_id},
                headers=who.headers,
            )
            assert r.status_code == 403, (who.username, r.text)

    async def test_unknown_role_is_refused(self, client, personas, unique_phone):
        account = await create_account(client, personas, unique_phone())
        r = await self._assign(client, personas, account["id"], "super_admin")
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "role"

    async def test_removing_a_role_shrinks_permissions_at_once(self, client, db, personas, unique_phone):
        account = await new_account(client, db, personas, unique_phone(), role="town_command")
        me = (await client.get("/api/auth/me", headers=account.headers)).json()
        assert "accounts.read" in me["permissions"]
        assignment = me["roles"][0]["id"]
        r = await client.delete(
            f"/api/accounts/{account.id}/roles/{assignment}", headers=personas.secadmin.headers
        )
        assert r.status_code == 200 and r.json()["roles"] == []
        assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 401


class TestOutsider:
    @pytest.mark.parametrize(
        "url",
        [
            "/api/orgs/roots",
            "/api/directory/search?q=秀英",
            "/api/orgs/{town}",
            "/api/orgs/{town}/children",
            "/api/orgs/{town}/members",
            "/api/people/{grid1}",
        ],
    )
    async def test_outsider_without_a_role_is_refused_the_directory(self, client, personas, url):
        url = url.format(town=personas.town.unit_id, grid1=personas.grid1.user_id)
        r = await client.get(url, headers=personas.outsider.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"

    async def test_grid_worker_sees_own_village_not_the_sibling(self, client, personas):
        from tests.helpers import assert_scope_trio

        await assert_scope_trio(
            client,
            f"/api/people/{personas.grid1.user_id}",
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
        )


# --- the scope filter, as pure functions --------------------------------------------------


def actor_with(*grants: Grant, user_id: str = "U-SELF") -> Actor:
    return Actor(user_id=user_id, name="测试", grants=list(grants))


TOWN = Grant("town_command", DataScope.SUBTREE, "B", "/A/B/")


class TestInScope:
    def test_subtree_is_a_prefix_match_on_whole_segments(self):
        actor = actor_with(TOWN)
        assert in_scope(actor, READ, path="/A/B/")
        assert in_scope(actor, READ, path="/A/B/C/D/")
        assert not in_scope(actor, READ, path="/A/")
        assert not in_scope(actor, READ, path="/A/BC/")
        assert not in_scope(actor, READ, path="/X/A/B/")

    def test_unit_scope_is_the_unit_alone(self):
        actor = actor_with(Grant("grid_worker", DataScope.UNIT, "B", "/A/B/"))
        assert in_scope(actor, READ, unit_id="B") and not in_scope(actor, READ, unit_id="C")
        assert in_scope(actor, READ, path="/A/B/")
        assert not in_scope(actor, READ, path="/A/B/C/")

    def test_self_scope_is_the_actor_own_rows(self):
        actor = actor_with(Grant("grid_worker", DataScope.SELF, "B", "/A/B/"))
        assert in_scope(actor, READ, owner_id="U-SELF")
        assert not in_scope(actor, READ, owner_id="U-OTHER")
        assert not in_scope(actor, READ, path="/A/B/")

    def test_all_scope_sees_everything(self):
        actor = actor_with(Grant("province_command", DataScope.ALL, "A", "/A/"))
        assert in_scope(actor, READ, path="/Z/") and in_scope(actor, READ, owner_id="anyone")

    def test_no_grant_for_the_permission_sees_nothing(self):
        assert not in_scope(actor_with(), READ, path="/A/B/")
        assert not in_scope(actor_with(TOWN), "audit.read", path="/A/B/")  # town command lacks it
        with pytest.raises(NotFound) as refused:
            ensure_in_scope(actor_with(TOWN), "audit.read", kind="org_unit", target_id="B", path="/A/B/")
        # answered as for an absent unit; known internally to exist (audited as a scope refusal)
        assert refused.value.body() == NotFound(kind="org_unit").body()
        assert (refused.value.target_id, refused.value.exists) == ("B", True)

    def test_several_grants_add_up(self):
        actor = actor_with(TOWN, Grant("grid_worker", DataScope.SUBTREE, "Q", "/P/Q/"))
        assert in_scope(actor, READ, path="/A/B/x/") and in_scope(actor, READ, path="/P/Q/y/")
        assert not in_scope(actor, READ, path="/P/")


class TestRestrictOnTheDatabase:
    """restrict() must select exactly the rows in_scope() accepts, on SQLite and PostgreSQL."""

    async def _units(self, db, actor: Actor, permission: str = READ, **columns) -> set[str]:  # type: ignore[no-untyped-def]
        async with db.unit_of_work(readonly=True) as session:
            stmt = restrict(
                select(OrgUnit.id), actor, permission, **{k: getattr(OrgUnit, v) for k, v in columns.items()}
            )
            return set((await session.execute(stmt)).scalars())

    async def _tree(self, db) -> dict[str, str]:  # type: ignore[no-untyped-def]
        async with db.unit_of_work(readonly=True) as session:
            return dict((await session.execute(select(OrgUnit.id, OrgUnit.path))).all())

    async def _grant(self, db, unit_id: str, scope: DataScope, role: str = "town_command") -> Grant:  # type: ignore[no-untyped-def]
        return Grant(role, scope, unit_id, (await self._tree(db))[unit_id])

    async def test_subtree_matches_in_scope(self, db, personas):
        tree = await self._tree(db)
        actor = actor_with(await self._grant(db, personas.town.unit_id, DataScope.SUBTREE))
        got = await self._units(db, actor, path="path")
        assert got == {uid for uid, path in tree.items() if in_scope(actor, READ, path=path)}
        assert (
            personas.town.unit_id in got and personas.grid1.unit_id in got and personas.grid2.unit_id in got
        )
        assert personas.haikou.unit_id not in got and personas.outsider.unit_id not in got
        assert len(got) > 2

    async def test_village_subtree_excludes_the_sibling_village(self, db, personas):
        actor = actor_with(await self._grant(db, personas.grid1.unit_id, DataScope.SUBTREE, "grid_worker"))
        got = await self._units(db, actor, path="path")
        assert personas.grid1.unit_id in got and personas.grid2.unit_id not in got

    async def test_unit_scope_with_a_path_or_unit_column(self, db, personas):
        actor = actor_with(await self._grant(db, personas.town.unit_id, DataScope.UNIT))
        assert await self._units(db, actor, path="path") == {personas.town.unit_id}
        assert await self._units(db, actor, unit_id="id") == {personas.town.unit_id}

    async def test_all_scope_and_no_grant(self, db, personas):
        tree = await self._tree(db)
        everything = actor_with(await self._grant(db, personas.province.unit_id, DataScope.ALL))
        assert await self._units(db, everything, path="path") == set(tree)
        assert await self._units(db, actor_with(), path="path") == set()
        town = actor_with(await self._grant(db, personas.town.unit_id, DataScope.SUBTREE))
        assert await self._units(db, town, "audit.read", path="path") == set()

    async def test_self_scope_on_owner_column(self, db, personas):
        actor = actor_with(
            Grant("grid_worker", DataScope.SELF, personas.grid1.unit_id, "/"), user_id=personas.grid1.user_id
        )
        async with db.unit_of_work(readonly=True) as session:
            ids = set(
                (await session.execute(restrict(select(User.id), actor, READ, owner_id=User.id))).scalars()
            )
        assert ids == {personas.grid1.user_id}
