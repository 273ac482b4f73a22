"""Helpers shared by the supervision use-cases: loading with scope, who acts for an owner, who
sees the boards, history rows, progress roll-up, the statistics summary, local days."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import RoleAssignment
from zhengding.authz.actor import Actor
from zhengding.authz.roles import ROLES
from zhengding.authz.scope import in_scope, not_found
from zhengding.config import get_settings
from zhengding.core.clock import local_day, now
from zhengding.core.errors import NotFound
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.supervision import repository as repo
from zhengding.supervision.enums import OwnerKind, OwnerStatus, UpdateKind
from zhengding.supervision.models import (
    SupervisionItem,
    SupervisionOwner,
    SupervisionUnitDay,
    SupervisionUpdate,
)
from zhengding.supervision.permissions import ASSIGN

DEFAULT_REMINDERS = [24 * 60, 120]


def default_sms_after_minutes() -> int:
    return get_settings().supervision_sms_after_minutes


async def access_item(session: AsyncSession, actor: Actor, item_id: str) -> SupervisionItem:
    """The only loader by id for a user: 404 when the actor neither assigns nor takes part."""
    item = await repo.visible_item(session, actor, item_id)
    if item is None:
        raise await not_found(session, SupervisionItem, item_id, "supervision_item")
    return item


def is_assigner(actor: Actor, item: SupervisionItem) -> bool:
    return in_scope(actor, ASSIGN, path=item.unit_path)


def acts_for(actor: Actor, owner: SupervisionOwner) -> bool:
    if owner.kind == OwnerKind.USER:
        return owner.user_id == actor.user_id
    return owner.unit_id in repo.acting_unit_ids(actor)


async def owner_for(session: AsyncSession, item: SupervisionItem, owner_id: str) -> SupervisionOwner:
    owner = await session.get(SupervisionOwner, owner_id)
    if owner is None or owner.item_id != item.id:
        raise NotFound("承办对象不存在")
    return owner


async def recipients(session: AsyncSession, owners: Sequence[SupervisionOwner]) -> dict[str, list[str]]:
    """Per owner row, the people who receive its notices (the person, or those acting for the unit)."""
    by_unit = await repo.acting_user_ids(session, [o.unit_id for o in owners if o.unit_id])
    out: dict[str, list[str]] = {}
    for o in owners:
        out[o.id] = [o.user_id] if o.user_id else list(by_unit.get(o.unit_id or "", []))
    return out


async def board_watchers(session: AsyncSession, item: SupervisionItem) -> list[str]:
    """Who follows the item's board live: its creator and the assigning command's staff."""
    holders = (
        await session.scalars(
            select(RoleAssignment.user_id).where(
                RoleAssignment.unit_id == item.unit_id,
                RoleAssignment.role.in_([r for r, d in ROLES.items() if ASSIGN in d.permissions]),
            )
        )
    ).all()
    return list(dict.fromkeys([item.created_by, *holders]))


async def publish(
    session: AsyncSession,
    item: SupervisionItem,
    type_: str,
    payload: dict[str, Any],
    extra_users: Iterable[str] = (),
) -> None:
    """One event to the board watchers (also those of the parent items) and the given users."""
    users = await board_watchers(session, item)
    parent_id = item.parent_id
    while parent_id:
        parent = await session.get(SupervisionItem, parent_id)
        if parent is None:
            break
        users += await board_watchers(session, parent)
        parent_id = parent.parent_id
    publish_event(
        session,
        type_,
        {"item_id": item.id, "root_id": item.root_id, "title": item.title, **payload},
        users=list(dict.fromkeys([*users, *extra_users])),
    )


def add_update(
    session: AsyncSession,
    item: SupervisionItem,
    kind: UpdateKind,
    actor: Actor | None,
    *,
    owner_id: str | None = None,
    text: str = "",
    percent: int | None = None,
    stage: str | None = None,
    file_ids: Sequence[str] = (),
) -> SupervisionUpdate:
    row = SupervisionUpdate(
        id=new_id(),
        item_id=item.id,
        owner_id=owner_id,
        kind=str(kind),
        actor_id=actor.user_id if actor else None,
        actor_name=actor.name if actor else "系统",
        text=text,
        percent=percent,
        stage=stage,
        file_ids=list(file_ids),
        created_at=now(),
    )
    session.add(row)
    return row


def effective_percent(owner: SupervisionOwner) -> int:
    if owner.status == OwnerStatus.ACCEPTED:
        return 100
    return max(owner.percent or 0, owner.sub_percent or 0)


async def recompute_progress(session: AsyncSession, item: SupervisionItem) -> None:
    """The item's progress is the mean of its owners'; it rolls up into the owner that split it."""
    owners = await repo.owners_of(session, [item.id])
    item.progress = round(sum(effective_percent(o) for o in owners) / len(owners)) if owners else 0
    item.updated_at = now()
    if item.parent_owner_id:
        parent_owner = await session.get(SupervisionOwner, item.parent_owner_id)
        if parent_owner is not None:
            siblings = (
                await session.scalars(
                    select(SupervisionItem.progress).where(
                        SupervisionItem.parent_owner_id == parent_owner.id,
                        SupervisionItem.status != "cancelled",
                    )
                )
            ).all()
            parent_owner.sub_percent = round(sum(siblings) / len(siblings)) if siblings else None
            parent = await session.get(SupervisionItem, parent_owner.item_id)
            if parent is not None:
                await session.flush()
                await recompute_progress(session, parent)


async def bump_stats(session: AsyncSession, owner: SupervisionOwner, **deltas: int) -> None:
    """Add to the owner unit's summary row of the deadline day (upsert, safe under concurrency)."""
    if owner.deadline is None:
        return
    day = local_day(owner.deadline)
    values = {
        "id": new_id(),
        "unit_id": owner.stat_unit_id,
        "unit_path": owner.stat_unit_path,
        "day": day,
        "due": 0,
        "on_time": 0,
        "late": 0,
        "overdue": 0,
        **deltas,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = SupervisionUnitDay.__table__
    stmt = dialect.insert(table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id", "day"],
        set_={k: getattr(table.c, k) + getattr(stmt.excluded, k) for k in deltas},
    )
    await session.execute(stmt)


async def mark_accepted(session: AsyncSession, owner: SupervisionOwner) -> None:
    at = now()
    owner.status, owner.accepted_at = OwnerStatus.ACCEPTED, at
    submitted = owner.submitted_at or at
    on_time = owner.deadline is None or submitted <= owner.deadline
    await bump_stats(session, owner, **({"on_time": 1} if on_time else {"late": 1}))


async def close_if_done(session: AsyncSession, item: SupervisionItem) -> bool:
    owners = await repo.owners_of(session, [item.id])
    if owners and all(o.status == OwnerStatus.ACCEPTED for o in owners) and item.status == "open":
        item.status, item.closed_at = "closed", now()
        return True
    return False


def is_overdue(deadline: datetime | None, status: str, at: datetime | None = None) -> bool:
    return (
        deadline is not None
        and status in ("assigned", "in_progress", "returned")
        and deadline < (at or now())
    )


async def touch_owner_deadlines(session: AsyncSession, item: SupervisionItem) -> None:
    await session.execute(
        update(SupervisionOwner).where(SupervisionOwner.item_id == item.id).values(deadline=item.deadline)
    )


def next_reminder(deadline: datetime | None, offsets: Sequence[int], sent: Sequence[int]) -> datetime | None:
    """When the next automatic reminder is due: the earliest offset not yet sent."""
    if deadline is None:
        return None
    pending = [m for m in offsets if m not in sent]
    if not pending:
        return None
    return deadline - timedelta(minutes=max(pending))


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
