"""Who belongs to a unit's subtree, kept per org version (orgs/service.py `subtree_members`):
reused while nothing in the org tree changed, never staler than the database whatever wrote
the change (the service, a bulk insert, hand-run SQL), nothing kept from a write transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, event, insert, text, update

from tests.conftest import Personas
from zhengding.core.ids import new_id
from zhengding.orgs import service as org_service
from zhengding.orgs.models import Membership, OrgUnit


@pytest.fixture
async def subtree(db):
    """A unit with one child unit, both fresh: {"top","child","child_path"}."""
    top, child = new_id(), new_id()
    top_path = f"/{top}/"
    async with db.unit_of_work() as s:
        await s.execute(
            insert(OrgUnit),
            [
                {
                    "id": top,
                    "parent_id": None,
                    "path": top_path,
                    "name": f"缓存测试{top[-6:]}",
                    "kind": "office",
                    "level": 1,
                    "sort_key": "",
                },
                {
                    "id": child,
                    "parent_id": top,
                    "path": f"{top_path}{child}/",
                    "name": f"缓存测试子{child[-6:]}",
                    "kind": "office",
                    "level": 2,
                    "sort_key": "",
                },
            ],
        )
    return {"top": top, "child": child}


class _MembershipQueries:
    """Counts statements that read the memberships table."""

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        self.n = 0
        self.engine = engine.sync_engine

    def __enter__(self):  # type: ignore[no-untyped-def]
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc) -> None:  # type: ignore[no-untyped-def]
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if "memberships" in statement:
            self.n += 1


async def _members(db, unit_id: str) -> set[str]:
    async with db.unit_of_work(readonly=True) as s:
        return set((await org_service.subtree_members(s, [unit_id]))[unit_id])


async def _add(db, user_id: str, unit_id: str) -> None:
    async with db.unit_of_work() as s:
        await s.execute(
            insert(Membership).values(
                id=new_id(), user_id=user_id, unit_id=unit_id, position="", is_primary=False
            )
        )


async def test_reused_until_a_membership_changes_then_read_again(db, subtree, personas: Personas):
    a, b = personas.grid1.user_id, personas.grid2.user_id
    await _add(db, a, subtree["child"])
    assert await _members(db, subtree["top"]) == {a}
    with _MembershipQueries(db.read_engine) as q:
        assert await _members(db, subtree["top"]) == {a}
    assert q.n == 0  # kept: only the version was read

    await _add(db, b, subtree["top"])  # a plain insert: the database's trigger bumps the version
    with _MembershipQueries(db.read_engine) as q:
        assert await _members(db, subtree["top"]) == {a, b}
    assert q.n == 1

    async with db.unit_of_work() as s:
        await s.execute(
            delete(Membership).where(Membership.user_id == a, Membership.unit_id == subtree["child"])
        )
    assert await _members(db, subtree["top"]) == {b}
    assert await _members(db, subtree["child"]) == set()


async def test_a_unit_moved_by_hand_run_sql_moves_its_members(db, subtree, personas: Personas):
    other = {"top": new_id()}
    async with db.unit_of_work() as s:
        await s.execute(
            insert(OrgUnit).values(
                id=other["top"],
                parent_id=None,
                path=f"/{other['top']}/",
                name=f"缓存测试另{other['top'][-6:]}",
                kind="office",
                level=1,
                sort_key="",
            )
        )
    await _add(db, personas.grid1.user_id, subtree["child"])
    assert await _members(db, other["top"]) == set()
    assert await _members(db, subtree["top"]) == {personas.grid1.user_id}
    async with db.unit_of_work() as s:  # re-parent the child by SQL, as an operator might
        await s.execute(
            text("UPDATE org_units SET parent_id = :p, path = :path WHERE id = :id"),
            {"p": other["top"], "path": f"/{other['top']}/{subtree['child']}/", "id": subtree["child"]},
        )
    assert await _members(db, other["top"]) == {personas.grid1.user_id}
    assert await _members(db, subtree["top"]) == set()


async def test_nothing_kept_from_a_write_transaction_that_rolls_back(db, subtree, personas: Personas):
    assert await _members(db, subtree["top"]) == set()
    with pytest.raises(RuntimeError):
        async with db.unit_of_work() as s:
            await s.execute(
                insert(Membership).values(
                    id=new_id(),
                    user_id=personas.grid1.user_id,
                    unit_id=subtree["top"],
                    position="",
                    is_primary=False,
                )
            )
            seen = await org_service.subtree_members(s, [subtree["top"]])
            assert set(seen[subtree["top"]]) == {personas.grid1.user_id}  # its own change, uncommitted
            raise RuntimeError("roll back")
    assert await _members(db, subtree["top"]) == set()
    # and a later real change is seen, not an answer kept from the rolled-back transaction
    await _add(db, personas.grid2.user_id, subtree["top"])
    assert await _members(db, subtree["top"]) == {personas.grid2.user_id}


async def test_version_moves_when_who_is_in_which_unit_changes_and_only_then(db, subtree, personas: Personas):
    from zhengding.orgs import repository as repo

    async def version() -> int:
        async with db.unit_of_work(readonly=True) as s:
            v = await repo.org_version(s)
        assert v is not None
        return v

    user = personas.grid1.user_id
    v0 = await version()
    await _add(db, user, subtree["top"])
    v1 = await version()
    assert v1 > v0
    assert await _members(db, subtree["top"]) == {user}

    # a position edited, a unit renamed: nobody moved, the kept lists stay valid
    async with db.unit_of_work() as s:
        await s.execute(
            update(Membership).where(Membership.unit_id == subtree["top"]).values(position="网格员")
        )
        await s.execute(update(OrgUnit).where(OrgUnit.id == subtree["child"]).values(name="改名"))
    assert await version() == v1
    with _MembershipQueries(db.read_engine) as q:
        assert await _members(db, subtree["top"]) == {user}
    assert q.n == 0

    # the membership moved to the child unit: the version moves, both answers are read again
    assert await _members(db, subtree["child"]) == set()
    async with db.unit_of_work() as s:
        await s.execute(
            update(Membership).where(Membership.unit_id == subtree["top"]).values(unit_id=subtree["child"])
        )
    v2 = await version()
    assert v2 > v1
    assert await _members(db, subtree["child"]) == {user}
    assert await _members(db, subtree["top"]) == {user}  # still in the subtree

    async with db.unit_of_work() as s:
        await s.execute(delete(Membership).where(Membership.unit_id == subtree["child"]))
    assert await version() > v2
    assert await _members(db, subtree["top"]) == set()
