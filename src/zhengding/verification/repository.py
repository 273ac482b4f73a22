"""Every SELECT of the verification domain; lists and loaders go through the scope filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Select, String, any_, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope, restrict, scope_condition
from zhengding.core.errors import NotFound
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.orgs.moves import under
from zhengding.verification.cells import COUNTERS
from zhengding.verification.enums import TaskStatus, TransferStatus
from zhengding.verification.models import (
    StatCell,
    TaskEvent,
    TaskReply,
    TaskTransfer,
    VerificationBatch,
    VerificationTask,
)
from zhengding.verification.permissions import READ


def tasks_in_scope(actor: Actor, permission: str = READ) -> Select[VerificationTask]:
    return restrict(select(VerificationTask), actor, permission, path=VerificationTask.owner_path)


async def access_task(
    session: AsyncSession, actor: Actor, task_id: str, permission: str = READ, *, for_update: bool = False
) -> VerificationTask:
    """The only loader by id for a user: the holder's subtree, or the target of its pending
    transfer (which must see what it is asked to accept); 404 for anyone else."""
    stmt = select(VerificationTask).where(VerificationTask.id == task_id)
    if for_update:
        stmt = stmt.with_for_update()
    task = (await session.execute(stmt)).scalar_one_or_none()
    if task is None:
        raise NotFound(kind="verification_task", target_id=task_id)
    if in_scope(actor, permission, path=task.owner_path):
        return task
    if task.transfer_id and permission == READ:
        transfer = await session.get(TaskTransfer, task.transfer_id)
        if transfer is not None and in_scope(actor, READ, path=transfer.to_path):
            return task
    raise NotFound(kind="verification_task", target_id=task.id, exists=True)


async def tasks_for_update(session: AsyncSession, task_ids: Sequence[str]) -> list[VerificationTask]:
    found: list[VerificationTask] = []
    ids = list(dict.fromkeys(task_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        found += (
            (
                await session.execute(
                    select(VerificationTask).where(VerificationTask.id.in_(chunk)).with_for_update()
                )
            )
            .scalars()
            .all()
        )
    return found


async def units_by_ids(session: AsyncSession, ids: Sequence[str]) -> dict[str, OrgUnit]:
    wanted = list(dict.fromkeys(i for i in ids if i))
    out: dict[str, OrgUnit] = {}
    for start in range(0, len(wanted), 1000):
        rows = (
            await session.execute(select(OrgUnit).where(OrgUnit.id.in_(wanted[start : start + 1000])))
        ).scalars()
        out.update({u.id: u for u in rows})
    return out


async def units_with_codes(session: AsyncSession, path_prefix: str) -> dict[str, tuple[str, str]]:
    """division code → (unit id, path) for the units of a subtree built from divisions."""
    rows = await session.execute(
        select(OrgUnit.division_code, OrgUnit.id, OrgUnit.path).where(
            OrgUnit.path.startswith(path_prefix, autoescape=True), OrgUnit.division_code.is_not(None)
        )
    )
    return {cast(str, code): (unit_id, path) for code, unit_id, path in rows}


async def children(session: AsyncSession, unit_id: str) -> list[OrgUnit]:
    return list(
        (
            await session.execute(
                select(OrgUnit).where(OrgUnit.parent_id == unit_id).order_by(OrgUnit.sort_key, OrgUnit.name)
            )
        ).scalars()
    )


async def membership_unit(session: AsyncSession, user_id: str, under_path: str) -> OrgUnit | None:
    """The unit (in the subtree at `under_path`) the user is a member of; the deepest first."""
    rows = (
        (
            await session.execute(
                select(OrgUnit)
                .join(Membership, Membership.unit_id == OrgUnit.id)
                .where(Membership.user_id == user_id, OrgUnit.path.startswith(under_path, autoescape=True))
                .order_by(func.length(OrgUnit.path).desc())
            )
        )
        .scalars()
        .first()
    )
    return rows


async def open_task_bidx(session: AsyncSession, bidx: Sequence[str]) -> set[str]:
    """The ID blind indexes among `bidx` held by an open task. On PostgreSQL the list travels as
    one array parameter (= ANY), not as thousands of rendered IN parameters."""
    if not bidx:
        return set()
    column = VerificationTask.id_number_bidx
    if session.get_bind().dialect.name == "postgresql":
        match = column == any_(bindparam("bidx", list(bidx), type_=postgresql.ARRAY(String)))
    else:
        match = column.in_(list(bidx))
    rows = await session.execute(select(column).where(match, VerificationTask.status != TaskStatus.CLOSED))
    return set(rows.scalars())


async def history(session: AsyncSession, task_id: str) -> list[TaskEvent]:
    return list(
        (
            await session.execute(
                select(TaskEvent).where(TaskEvent.task_id == task_id).order_by(TaskEvent.seq)
            )
        ).scalars()
    )


async def replies(session: AsyncSession, task_id: str) -> list[TaskReply]:
    return list(
        (
            await session.execute(
                select(TaskReply).where(TaskReply.task_id == task_id).order_by(TaskReply.created_at)
            )
        ).scalars()
    )


async def transfers_of_task(session: AsyncSession, task_id: str) -> list[TaskTransfer]:
    return list(
        (
            await session.execute(
                select(TaskTransfer).where(TaskTransfer.task_id == task_id).order_by(TaskTransfer.created_at)
            )
        ).scalars()
    )


def transfers_in_scope(actor: Actor, permission: str, box: str, status: str | None) -> Select[TaskTransfer]:
    stmt = select(TaskTransfer)
    if box == "in":
        stmt = restrict(stmt, actor, permission, path=TaskTransfer.to_path)
    elif box == "out":
        stmt = restrict(stmt, actor, permission, path=TaskTransfer.from_path)
    else:
        a = scope_condition(actor, permission, path=TaskTransfer.to_path)
        b = scope_condition(actor, permission, path=TaskTransfer.from_path)
        if a is not None and b is not None:
            stmt = stmt.where(or_(a, b))
    if status:
        stmt = stmt.where(TaskTransfer.status == status)
    return stmt.order_by(TaskTransfer.created_at.desc())


def batches_in_scope(actor: Actor, permission: str = READ) -> Select[VerificationBatch]:
    return restrict(select(VerificationBatch), actor, permission, path=VerificationBatch.unit_path)


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    return (
        await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()


async def pending_transfer_count(session: AsyncSession, actor: Actor, permission: str) -> int:
    return await count(session, transfers_in_scope(actor, permission, "in", TransferStatus.PENDING))


# --- following an org move (service/moves.py) -------------------------------------------------


async def cells_of_unit(session: AsyncSession, unit_id: str) -> list[Any]:
    """The summary cells of one unit: (batch_id, day, *COUNTERS) rows."""
    cols = [StatCell.batch_id, StatCell.day, *(getattr(StatCell, c) for c in COUNTERS)]
    return list((await session.execute(select(*cols).where(StatCell.unit_id == unit_id))).mappings())


async def decided_transfers_under(session: AsyncSession, path: str) -> list[Any]:
    """Accepted or refused transfers from or to a unit under `path`, with their task's cell key."""
    t = TaskTransfer
    stmt = (
        select(t.from_path, t.to_path, t.status, VerificationTask.batch_id, VerificationTask.stat_day)
        .join(VerificationTask, VerificationTask.id == t.task_id)
        .where(
            t.status.in_([TransferStatus.ACCEPTED, TransferStatus.REJECTED]),
            or_(under(t.from_path, path), under(t.to_path, path)),
        )
    )
    return list((await session.execute(stmt)).all())


async def chains_under(session: AsyncSession, path: str) -> list[Any]:
    """(id, chain, review_unit_id) of the tasks held under `path`."""
    t = VerificationTask
    return list(
        (
            await session.execute(select(t.id, t.chain, t.review_unit_id).where(under(t.owner_path, path)))
        ).all()
    )
