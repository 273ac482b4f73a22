"""Org tree use-cases: build the tree from the official divisions, browse and search the
directory, create / rename / move units. `access_unit` is the only way to load a unit for a user."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import User
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import ensure_in_scope, in_scope, not_found
from zhengding.core.errors import Conflict, NotFound, ValidationFailed, field_error
from zhengding.core.ids import new_id
from zhengding.divisions import service as division_service
from zhengding.orgs import moves
from zhengding.orgs import repository as repo
from zhengding.orgs.enums import GRID_LEVEL, UnitKind
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.orgs.schemas import PersonRead, PersonUnit, UnitDetail, UnitHit, UnitRead, UnitRef
from zhengding.privacy.masking import mask_phone

DIRECTORY = "directory.read"


# --- building the tree ---------------------------------------------------------------------


async def build_tree_from_divisions(session: AsyncSession, province: str = division_service.HAINAN) -> int:
    """Create a command for the province, each city/county and town, and a committee for each
    village. Placeholders (省直辖县级行政区划, …直辖村级区划) are skipped: their children hang
    under the nearest real ancestor. Idempotent: existing units keep their ids. Returns units created."""
    rows = division_service.read_province(province)
    by_code = {r.code: r for r in rows}
    existing = dict(
        (
            await session.execute(
                select(OrgUnit.division_code, OrgUnit).where(OrgUnit.division_code.startswith(province))
            )
        ).all()
    )
    known: dict[str, tuple[str, str]] = {
        code: (u.id, u.path) for code, u in existing.items() if code is not None
    }
    created = []
    for row in sorted(rows, key=lambda r: (r.level, r.code)):
        if row.placeholder or row.code in known:
            continue
        parent_code = row.parent_code
        level = row.level
        while parent_code and by_code.get(parent_code) and by_code[parent_code].placeholder:
            if by_code[parent_code].level == 2:
                level = 2  # county-level city directly under the province counts as city level
            parent_code = by_code[parent_code].parent_code
        parent = known.get(parent_code) if parent_code else None
        unit_id = new_id()
        path = (parent[1] if parent else "/") + unit_id + "/"
        known[row.code] = (unit_id, path)
        created.append(
            {
                "id": unit_id,
                "parent_id": parent[0] if parent else None,
                "path": path,
                "name": row.name,
                "kind": str(UnitKind.COMMITTEE if row.level >= 5 else UnitKind.COMMAND),
                "level": level,
                "division_code": row.code,
                "sort_key": row.code,
            }
        )
    for start in range(0, len(created), 2000):
        await session.execute(cast(Table, OrgUnit.__table__).insert(), created[start : start + 2000])
    return len(created)


async def unit_for_division(session: AsyncSession, division_code: str) -> OrgUnit | None:
    return (
        await session.execute(select(OrgUnit).where(OrgUnit.division_code == division_code))
    ).scalar_one_or_none()


# --- loading with scope --------------------------------------------------------------------


async def access_unit(
    session: AsyncSession, actor: Actor, unit_id: str, permission: str = DIRECTORY
) -> OrgUnit:
    unit = await repo.get_unit(session, unit_id)
    if unit is None:
        raise NotFound(kind="org_unit", target_id=unit_id)
    ensure_in_scope(actor, permission, kind="org_unit", target_id=unit.id, path=unit.path)
    return unit


def unit_ids_in_path(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


async def member_user_ids(session: AsyncSession, unit_ids: list[str], *, subtree: bool = True) -> list[str]:
    return await repo.member_user_ids(session, unit_ids, subtree=subtree)


# --- who belongs to a unit's subtree, kept per org version ---------------------------------------

MEMBERS_CACHE_UNITS = 256
_members_cache: OrderedDict[str, tuple[int, tuple[str, ...]]] = OrderedDict()


async def subtree_members(session: AsyncSession, unit_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The members of each unit's subtree (as `member_user_ids(subtree=True)`, per unit).

    In a read-only unit of work an answer is kept and reused while the org version it was read
    at is still the database's (OrgVersion: bumped by triggers on any change to who is in
    which unit), so an event to a city costs one small query instead of a join over its
    subtree, and no node ever delivers by a membership older than the database's. The version
    is read before the members: an answer newer than its version only costs a re-read later.
    In a write transaction nothing is kept (its own uncommitted changes may roll back)."""
    keep = bool(session.info.get("readonly"))
    version = await repo.org_version(session) if keep else None
    out: dict[str, tuple[str, ...]] = {}
    for unit_id in unit_ids:
        hit = _members_cache.get(unit_id) if version is not None else None
        if hit is not None and hit[0] == version:
            _members_cache.move_to_end(unit_id)
            out[unit_id] = hit[1]
            continue
        members = tuple(await repo.member_user_ids(session, [unit_id], subtree=True))
        out[unit_id] = members
        if version is not None:
            _members_cache[unit_id] = (version, members)
            if len(_members_cache) > MEMBERS_CACHE_UNITS:
                _members_cache.popitem(last=False)
    return out


async def to_reads(session: AsyncSession, units: Sequence[OrgUnit]) -> list[UnitRead]:
    ids = [u.id for u in units]
    kids = await repo.child_counts(session, ids)
    members = await repo.member_counts(session, ids)
    return [
        UnitRead(
            id=u.id,
            name=u.name,
            kind=u.kind,
            level=u.level,
            division_code=u.division_code,
            parent_id=u.parent_id,
            has_children=kids.get(u.id, 0) > 0,
            member_count=members.get(u.id, 0),
        )
        for u in units
    ]


async def root_units(session: AsyncSession, actor: Actor, permission: str = DIRECTORY) -> list[UnitRead]:
    anchors = sorted({g.unit_path: g.unit_id for g in actor.grants_for(permission)}.items())
    roots: list[str] = []
    kept: list[str] = []
    for path, unit_id in anchors:
        if any(path.startswith(p) for p in kept):
            continue
        kept.append(path)
        roots.append(unit_id)
    units = await repo.units_by_ids(session, roots)
    return await to_reads(session, sorted(units, key=lambda u: u.path))


async def list_children(session: AsyncSession, actor: Actor, unit_id: str) -> list[UnitRead]:
    await access_unit(session, actor, unit_id)
    return await to_reads(session, await repo.children(session, unit_id))


async def unit_detail(session: AsyncSession, actor: Actor, unit_id: str) -> UnitDetail:
    unit = await access_unit(session, actor, unit_id)
    (read,) = await to_reads(session, [unit])
    ancestors = await repo.units_by_ids(session, unit_ids_in_path(unit.path)[:-1])
    ancestors.sort(key=lambda u: len(u.path))
    visible = [UnitRef(id=a.id, name=a.name) for a in ancestors if in_scope(actor, DIRECTORY, path=a.path)]
    return UnitDetail(**read.model_dump(), ancestors=visible)


async def people_reads(session: AsyncSession, users: Sequence[User]) -> list[PersonRead]:
    memberships = await repo.memberships_of(session, [u.id for u in users])
    by_user: dict[str, list[PersonUnit]] = {}
    for m, unit in memberships:
        by_user.setdefault(m.user_id, []).append(PersonUnit(id=unit.id, name=unit.name, position=m.position))
    return [
        PersonRead(
            id=u.id,
            name=u.name,
            phone_masked=mask_phone(u.phone),
            units=by_user.get(u.id, []),
            activated=u.activated_at is not None,
        )
        for u in users
    ]


async def list_members(session: AsyncSession, actor: Actor, unit_id: str) -> list[PersonRead]:
    await access_unit(session, actor, unit_id)
    return await people_reads(session, await repo.members(session, unit_id))


async def access_person(
    session: AsyncSession, actor: Actor, user_id: str, permission: str = DIRECTORY
) -> User:
    stmt = repo.people_in_scope(actor, permission).where(User.id == user_id)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise await not_found(session, User, user_id, "person")
    return user


async def person(session: AsyncSession, actor: Actor, user_id: str) -> PersonRead:
    return (await people_reads(session, [await access_person(session, actor, user_id)]))[0]


async def search_directory(
    session: AsyncSession,
    actor: Actor,
    q: str,
    limit: int = 50,
    *,
    under: str | None = None,
    kind: str | None = None,
) -> tuple[list[UnitHit], list[PersonRead]]:
    """Units and people whose name contains `q`, inside the actor's scope; optionally only below
    the unit `under` and only units of one kind (a village picker: kind="committee")."""
    q = q.strip()
    if not q:
        return [], []
    under_unit = await access_unit(session, actor, under) if under else None
    under_path = under_unit.path if under_unit else None
    units = await repo.search_units(session, actor, DIRECTORY, q, limit, under_path=under_path, kind=kind)
    stmt = repo.people_in_scope(actor, DIRECTORY).where(User.name.contains(q, autoescape=True))
    if under_path:
        stmt = stmt.where(
            User.id.in_(
                select(Membership.user_id)
                .join(OrgUnit, OrgUnit.id == Membership.unit_id)
                .where(OrgUnit.path.startswith(under_path, autoescape=False))
            )
        )
    people = list((await session.execute(stmt.order_by(User.name).limit(limit))).scalars())
    return await unit_hits(session, units), await people_reads(session, people)


async def unit_hits(session: AsyncSession, units: Sequence[OrgUnit]) -> list[UnitHit]:
    """Search results carry the names of their ancestors, so that 某某村 can be told apart."""
    ancestor_ids = {uid for u in units for uid in unit_ids_in_path(u.path)[:-1]}
    names = {u.id: u.name for u in await repo.units_by_ids(session, list(ancestor_ids))}
    reads = await to_reads(session, units)
    return [
        UnitHit(**r.model_dump(), path_names=[names.get(i, "") for i in unit_ids_in_path(u.path)[:-1]])
        for r, u in zip(reads, units, strict=True)
    ]


# --- managing the tree ---------------------------------------------------------------------


async def create_unit(session: AsyncSession, actor: Actor, parent_id: str, name: str, kind: str) -> UnitRead:
    parent = await access_unit(session, actor, parent_id, "orgs.manage")
    name = name.strip()
    await _ensure_unique_sibling_name(session, parent.id, name)
    unit_id = new_id()
    level = GRID_LEVEL if kind == UnitKind.GRID else parent.level
    unit = OrgUnit(
        id=unit_id,
        parent_id=parent.id,
        path=f"{parent.path}{unit_id}/",
        name=name,
        kind=kind,
        level=level,
        sort_key="~" + name,
    )
    session.add(unit)
    await session.flush()
    audit.record(
        session,
        actor,
        "orgs.unit.created",
        target_type="org_unit",
        target_id=unit.id,
        detail={"name": name, "kind": kind, "parent_id": parent.id},
    )
    return (await to_reads(session, [unit]))[0]


async def _ensure_unique_sibling_name(
    session: AsyncSession, parent_id: str | None, name: str, exclude: str | None = None
) -> None:
    stmt = (
        select(func.count()).select_from(OrgUnit).where(OrgUnit.parent_id == parent_id, OrgUnit.name == name)
    )
    if exclude:
        stmt = stmt.where(OrgUnit.id != exclude)
    if (await session.execute(stmt)).scalar_one():
        raise Conflict(f"同一上级下已有名为「{name}」的机构", [field_error("name", "名称重复")])


async def rename_unit(session: AsyncSession, actor: Actor, unit_id: str, name: str) -> UnitRead:
    unit = await access_unit(session, actor, unit_id, "orgs.manage")
    if unit.division_code:
        raise ValidationFailed(
            "按行政区划建立的机构名称随官方区划代码，不能手工修改",
            [field_error("name", "行政区划机构不能改名")],
        )
    old = unit.name
    await _ensure_unique_sibling_name(session, unit.parent_id, name.strip(), exclude=unit.id)
    unit.name = name.strip()
    audit.record(
        session,
        actor,
        "orgs.unit.renamed",
        target_type="org_unit",
        target_id=unit.id,
        detail={"from": old, "to": unit.name},
    )
    return (await to_reads(session, [unit]))[0]


async def move_unit(session: AsyncSession, actor: Actor, unit_id: str, new_parent_id: str) -> UnitRead:
    """Move a department or grid with its whole subtree, in one transaction: one UPDATE rewrites
    the tree's path prefix, one per registered column every domain's copy of it, then each
    domain's follow-up runs (`orgs.moves`); the org version moves by trigger."""
    unit = await access_unit(session, actor, unit_id, "orgs.manage")
    target = await access_unit(session, actor, new_parent_id, "orgs.manage")
    if unit.division_code:
        raise ValidationFailed(
            "按行政区划建立的机构不能移动", [field_error("new_parent_id", "行政区划机构不能移动")]
        )
    if target.path.startswith(unit.path):
        raise ValidationFailed(
            "不能移动到自身或其下级机构之下", [field_error("new_parent_id", "目标是本机构的下级")]
        )
    await _ensure_unique_sibling_name(session, target.id, unit.name, exclude=unit.id)
    old_path, new_path = unit.path, f"{target.path}{unit.id}/"
    old_parent = unit.parent_id
    await session.execute(
        update(OrgUnit)
        .where(moves.under(OrgUnit.path, old_path))
        .values(path=new_path + func.substr(OrgUnit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(OrgUnit)
        .where(OrgUnit.id == unit.id)
        .values(parent_id=target.id)
        .execution_options(synchronize_session=False)
    )
    if unit.kind == UnitKind.DEPARTMENT and unit.level != target.level:
        # A department sits at its parent's level (as at creation); so do departments below it
        # up to the first grid.
        subtree = (
            (
                await session.execute(
                    select(OrgUnit)
                    .where(OrgUnit.path.startswith(new_path))
                    .order_by(func.length(OrgUnit.path))
                    .execution_options(populate_existing=True)
                )
            )
            .scalars()
            .all()
        )
        level_of: dict[str | None, int] = {target.id: target.level}
        for node in subtree:
            if node.kind == UnitKind.DEPARTMENT:
                node.level = level_of.get(node.parent_id, node.level)
            level_of[node.id] = node.level
        await session.flush()
    moved = moves.UnitMoved(unit.id, old_path, new_path)
    copies = await moves.rewrite_paths(session, moved)
    for follow in moves.move_followers():
        await follow(session, moved)
    await session.refresh(unit)
    audit.record(
        session,
        actor,
        "orgs.unit.moved",
        target_type="org_unit",
        target_id=unit.id,
        detail={
            "from_parent": old_parent,
            "to_parent": target.id,
            "copies": {name: n for name, n in copies.items() if n},
        },
    )
    return (await to_reads(session, [unit]))[0]
