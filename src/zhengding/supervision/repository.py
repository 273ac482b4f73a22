"""Every SELECT of the supervision domain. Who may see an item:

- the assigner side: holders of "supervision.assign" whose subtree contains the item's
  assigning unit (`unit_path`) — the creator, colleagues at that command, commands above;
- participants: a named owner, anyone acting for an owner unit, a copied person.

"Acting for a unit" is precise: holding any non-administrator role anchored at that very unit
(a town's command staff act for the town; a village's staff and grid workers for the village).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import False_

from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import RoleAssignment, User
from zhengding.authz.actor import Actor
from zhengding.authz.roles import ADMIN_ROLES, ROLES
from zhengding.authz.scope import scope_condition
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.supervision.models import (
    SupervisionCopy,
    SupervisionItem,
    SupervisionLeader,
    SupervisionOwner,
    SupervisionUpdate,
)
from zhengding.supervision.permissions import ASSIGN


def acting_unit_ids(actor: Actor) -> list[str]:
    return sorted({g.unit_id for g in actor.grants if not ROLES[g.role].admin})


def owner_condition(actor: Actor) -> ColumnElement[bool]:
    """Owner rows the actor acts for."""
    units = acting_unit_ids(actor)
    cond = SupervisionOwner.user_id == actor.user_id
    if units:
        cond = or_(cond, SupervisionOwner.unit_id.in_(units))
    return cond


def visible_condition(actor: Actor) -> ColumnElement[bool]:
    """Items the actor may see (assigner scope or participation)."""
    owned = select(SupervisionOwner.item_id).where(owner_condition(actor))
    copied = select(SupervisionCopy.item_id).where(SupervisionCopy.user_id == actor.user_id)
    parts: list[ColumnElement[bool]] = [SupervisionItem.id.in_(owned), SupervisionItem.id.in_(copied)]
    assign = scope_condition(actor, ASSIGN, path=SupervisionItem.unit_path)
    if assign is None:
        return SupervisionItem.id.is_not(None)
    if not isinstance(assign, False_):
        parts.append(assign)
    return or_(*parts)


def assigner_condition(actor: Actor) -> ColumnElement[bool]:
    cond = scope_condition(actor, ASSIGN, path=SupervisionItem.unit_path)
    return SupervisionItem.id.is_not(None) if cond is None else cond


async def get_item(session: AsyncSession, item_id: str) -> SupervisionItem | None:
    return await session.get(SupervisionItem, item_id)


async def visible_item(session: AsyncSession, actor: Actor, item_id: str) -> SupervisionItem | None:
    return (
        await session.scalars(
            select(SupervisionItem).where(SupervisionItem.id == item_id, visible_condition(actor))
        )
    ).one_or_none()


async def owners_of(session: AsyncSession, item_ids: Sequence[str]) -> list[SupervisionOwner]:
    if not item_ids:
        return []
    stmt = (
        select(SupervisionOwner)
        .where(SupervisionOwner.item_id.in_(list(item_ids)))
        .order_by(SupervisionOwner.item_id, SupervisionOwner.role.desc(), SupervisionOwner.created_at)
    )
    return list((await session.scalars(stmt)).all())


async def copies_of(session: AsyncSession, item_id: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(User.id, User.name)
        .join(SupervisionCopy, SupervisionCopy.user_id == User.id)
        .where(SupervisionCopy.item_id == item_id)
        .order_by(User.name)
    )
    return [(r.id, r.name) for r in rows]


async def updates_of(session: AsyncSession, item_id: str) -> list[SupervisionUpdate]:
    return list(
        (
            await session.scalars(
                select(SupervisionUpdate)
                .where(SupervisionUpdate.item_id == item_id)
                .order_by(SupervisionUpdate.created_at, SupervisionUpdate.id)
            )
        ).all()
    )


async def children_of(session: AsyncSession, item_id: str) -> list[SupervisionItem]:
    return list(
        (
            await session.scalars(
                select(SupervisionItem)
                .where(SupervisionItem.parent_id == item_id)
                .order_by(SupervisionItem.created_at)
            )
        ).all()
    )


async def instances_of(session: AsyncSession, template_id: str, limit: int = 31) -> list[SupervisionItem]:
    return list(
        (
            await session.scalars(
                select(SupervisionItem)
                .where(SupervisionItem.template_id == template_id)
                .order_by(SupervisionItem.period_key.desc())
                .limit(limit)
            )
        ).all()
    )


async def units_by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, OrgUnit]:
    if not ids:
        return {}
    rows = await session.scalars(select(OrgUnit).where(OrgUnit.id.in_(list(ids))))
    return {u.id: u for u in rows}


async def users_by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, User]:
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(list(ids))))
    return {u.id: u for u in rows}


async def primary_units(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, OrgUnit]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(Membership.user_id, OrgUnit)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .where(Membership.user_id.in_(list(user_ids)))
        .order_by(Membership.is_primary, Membership.created_at.desc())
    )
    out: dict[str, OrgUnit] = {}
    for user_id, unit in rows.all():
        out[user_id] = unit  # the last row wins: primary first in reverse order
    return out


async def users_in_scope(
    session: AsyncSession, actor: Actor, permission: str, user_ids: Sequence[str]
) -> set[str]:
    if not user_ids:
        return set()
    stmt = (
        select(Membership.user_id)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .where(Membership.user_id.in_(list(user_ids)))
    )
    cond = scope_condition(actor, permission, path=OrgUnit.path)
    if cond is not None:
        stmt = stmt.where(cond)
    return set((await session.scalars(stmt.distinct())).all())


async def acting_user_ids(session: AsyncSession, unit_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per unit, the active users who act for it (non-admin role anchored at the unit)."""
    if not unit_ids:
        return {}
    rows = await session.execute(
        select(RoleAssignment.unit_id, RoleAssignment.user_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(
            RoleAssignment.unit_id.in_(list(unit_ids)),
            RoleAssignment.role.not_in(sorted(ADMIN_ROLES)),
            User.status != UserStatus.DISABLED,
        )
    )
    out: dict[str, list[str]] = {}
    for unit_id, user_id in rows.all():
        out.setdefault(unit_id, [])
        if user_id not in out[unit_id]:
            out[unit_id].append(user_id)
    return out


async def leaders_of(session: AsyncSession, unit_ids: Sequence[str]) -> dict[str, list[str]]:
    if not unit_ids:
        return {}
    rows = await session.execute(
        select(SupervisionLeader.unit_id, SupervisionLeader.user_id).where(
            SupervisionLeader.unit_id.in_(list(unit_ids))
        )
    )
    out: dict[str, list[str]] = {}
    for unit_id, user_id in rows.all():
        out.setdefault(unit_id, []).append(user_id)
    return out


def todo_stmt(actor: Actor) -> Select[SupervisionOwner, SupervisionItem]:
    return (
        select(SupervisionOwner, SupervisionItem)
        .join(SupervisionItem, SupervisionItem.id == SupervisionOwner.item_id)
        .where(
            owner_condition(actor), SupervisionItem.status != "recurring", SupervisionItem.status != "stopped"
        )
    )


def copied_stmt(actor: Actor) -> Select[SupervisionItem]:
    return (
        select(SupervisionItem)
        .join(SupervisionCopy, SupervisionCopy.item_id == SupervisionItem.id)
        .where(SupervisionCopy.user_id == actor.user_id)
    )
