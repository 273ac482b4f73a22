"""Transfer 转办: a unit holding a task that is not in its jurisdiction hands it to another unit.

Use-cases: `request_transfer` (with a reason), `decide_transfer` (the target accepts — the task
moves to it — or rejects with a reason — the task stays where it was), `list_transfers`,
`transfer_targets` (the picker: units by name under the top unit of the task's chain, outside the
holder's subtree — the directory search only covers the user's own subtree).

Rules: the target is any unit outside the holder's own subtree (inside it, dispatch is the
tool); one pending transfer per task; a replied or closed task is not transferred. On accept
the chain keeps only the units above the target (so the reply climbs the target's line) plus
the target; the grid worker is released. Statistics count accepted transfers in/out and
rejected ones on both sides, per unit subtree (a unit that contains both ends sees neither).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, NotFound, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.verification import repository as repo
from zhengding.verification.cells import Deltas, path_units
from zhengding.verification.enums import EventKind, TaskStatus, TransferStatus
from zhengding.verification.models import TaskTransfer, VerificationTask
from zhengding.verification.permissions import TRANSFER
from zhengding.verification.service.common import event_row, insert_events


def _exclusive(a: str, b: str) -> list[str]:
    """Units on path a that are not on path b."""
    other = set(path_units(b))
    return [u for u in path_units(a) if u not in other]


async def request_transfer(
    session: AsyncSession, actor: Actor, task_id: str, to_unit_id: str, reason: str
) -> TaskTransfer:
    task = await repo.access_task(session, actor, task_id, TRANSFER, for_update=True)
    reason = reason.strip()
    if len(reason) < 2:
        raise ValidationFailed("转办须填写原因", [field_error("reason", "必填")])
    if task.transfer_id:
        raise Conflict("该任务已有待接收的转办")
    if task.status in (TaskStatus.REPLIED, TaskStatus.CLOSED):
        raise Conflict("任务已回单或已办结，不能转办")
    target = (await repo.units_by_ids(session, [to_unit_id])).get(to_unit_id)
    if target is None:
        raise NotFound("目标单位不存在")
    if target.path.startswith(task.owner_path):
        raise ValidationFailed(
            "目标单位是本单位或下级，请使用派发", [field_error("to_unit_id", "请使用派发")]
        )
    transfer = TaskTransfer(
        id=new_id(),
        task_id=task.id,
        from_unit_id=task.owner_unit_id,
        from_path=task.owner_path,
        to_unit_id=target.id,
        to_path=target.path,
        reason=reason[:1000],
        status=TransferStatus.PENDING,
        requested_by=actor.user_id,
        created_at=now(),
    )
    session.add(transfer)
    await session.flush()
    task.transfer_id = transfer.id
    deltas = Deltas()
    deltas.add_path(task.owner_path, task.batch_id, task.stat_day, "transferring")
    await insert_events(
        session,
        [
            event_row(
                task,
                EventKind.TRANSFER_REQUESTED,
                actor,
                from_unit_id=task.owner_unit_id,
                to_unit_id=target.id,
                reason=reason,
            )
        ],
    )
    await deltas.apply(session)
    members = await org_service.member_user_ids(session, [target.id], subtree=False)
    await inbox.notify_users(
        session,
        members,
        kind="verification",
        title="收到转办的核查任务",
        body=f"转办原因：{reason}",
        link="/verification/transfers",
        object_type="verification_transfer",
        object_id=transfer.id,
        sender_id=actor.user_id,
    )
    publish_event(
        session,
        "verification.transfer.requested",
        {"transfer_id": transfer.id, "task_id": task.id},
        units=[target.id],
    )
    audit.record(
        session,
        actor,
        "verification.transfer.requested",
        target_type="verification_task",
        target_id=task.id,
        detail={"to_unit_id": target.id, "transfer_id": transfer.id},
    )
    return transfer


async def decide_transfer(
    session: AsyncSession, actor: Actor, transfer_id: str, *, accept: bool, reason: str = ""
) -> TaskTransfer:
    transfer = await session.get(TaskTransfer, transfer_id, with_for_update=True)
    if transfer is None or not in_scope(actor, TRANSFER, path=transfer.to_path):
        raise NotFound(kind="verification_transfer", target_id=transfer_id, exists=transfer is not None)
    if transfer.status != TransferStatus.PENDING:
        raise Conflict("该转办已处理")
    task = await session.get(VerificationTask, transfer.task_id, with_for_update=True)
    assert task is not None
    at = now()
    deltas = Deltas()
    deltas.add_path(task.owner_path, task.batch_id, task.stat_day, "transferring", -1)
    if accept:
        units = await repo.units_by_ids(session, list(task.chain))
        chain = [u for u in task.chain if u in units and transfer.to_path.startswith(units[u].path)]
        chain.append(transfer.to_unit_id)
        status = TaskStatus.PENDING if len(chain) == 1 else TaskStatus.DISPATCHED
        deltas.move(
            task.owner_path,
            task.status,
            transfer.to_path,
            status,
            task.batch_id,
            task.stat_day,
            overdue=task.overdue,
        )
        deltas.add(
            _exclusive(transfer.from_path, transfer.to_path), task.batch_id, task.stat_day, "transfer_out"
        )
        deltas.add(
            _exclusive(transfer.to_path, transfer.from_path), task.batch_id, task.stat_day, "transfer_in"
        )
        task.owner_unit_id, task.owner_path, task.chain = transfer.to_unit_id, transfer.to_path, chain
        task.status, task.assignee_id, task.review_unit_id = status, None, None
        transfer.status = TransferStatus.ACCEPTED
        row = event_row(
            task,
            EventKind.TRANSFER_ACCEPTED,
            actor,
            at=at,
            from_unit_id=transfer.from_unit_id,
            to_unit_id=transfer.to_unit_id,
        )
    else:
        reason = reason.strip()
        if len(reason) < 2:
            raise ValidationFailed("拒收须填写原因", [field_error("reason", "必填")])
        deltas.add(
            _exclusive(transfer.from_path, transfer.to_path),
            task.batch_id,
            task.stat_day,
            "transfer_rejected",
        )
        deltas.add(
            _exclusive(transfer.to_path, transfer.from_path), task.batch_id, task.stat_day, "transfer_refused"
        )
        transfer.status = TransferStatus.REJECTED
        transfer.reject_reason = reason[:1000]
        row = event_row(
            task,
            EventKind.TRANSFER_REJECTED,
            actor,
            at=at,
            from_unit_id=transfer.to_unit_id,
            to_unit_id=transfer.from_unit_id,
            reason=reason,
        )
    task.transfer_id = None
    transfer.decided_by, transfer.decided_at = actor.user_id, at
    await session.flush()
    await insert_events(session, [row])
    await deltas.apply(session)
    await inbox.notify_users(
        session,
        [transfer.requested_by],
        kind="verification",
        title="转办已被接收" if accept else "转办被拒收",
        body="" if accept else f"拒收原因：{reason}",
        link=f"/verification/tasks/{task.id}",
        object_type="verification_task",
        object_id=task.id,
        sender_id=actor.user_id,
    )
    publish_event(
        session,
        "verification.transfer.accepted" if accept else "verification.transfer.rejected",
        {"transfer_id": transfer.id, "task_id": task.id},
        units=[transfer.from_unit_id, transfer.to_unit_id],
    )
    audit.record(
        session,
        actor,
        "verification.transfer.accepted" if accept else "verification.transfer.rejected",
        target_type="verification_task",
        target_id=task.id,
        detail={"transfer_id": transfer.id},
    )
    return transfer


def transfer_read(t: TaskTransfer, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": t.id,
        "task_id": t.task_id,
        "from_unit_id": t.from_unit_id,
        "from_unit_name": names.get(t.from_unit_id),
        "to_unit_id": t.to_unit_id,
        "to_unit_name": names.get(t.to_unit_id),
        "reason": t.reason,
        "status": t.status,
        "reject_reason": t.reject_reason,
        "created_at": t.created_at,
        "decided_at": t.decided_at,
    }


async def list_transfers(
    session: AsyncSession,
    actor: Actor,
    *,
    box: str = "in",
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    stmt = repo.transfers_in_scope(actor, TRANSFER, box, status)
    total = await repo.count(session, stmt)
    rows = list((await session.execute(stmt.offset((page - 1) * page_size).limit(page_size))).scalars())
    units = await repo.units_by_ids(session, [u for t in rows for u in (t.from_unit_id, t.to_unit_id)])
    names = {k: v.name for k, v in units.items()}
    return {"items": [transfer_read(t, names) for t in rows], "total": total}


TARGETS_LIMIT = 30


async def transfer_targets(
    session: AsyncSession, actor: Actor, task_id: str, q: str, limit: int = TARGETS_LIMIT
) -> list[dict[str, Any]]:
    """Units a task may be transferred to, whose name contains `q`: under the top unit of the
    task's chain (the importing unit — the whole province when the province imported), outside
    the holder's subtree. Only someone who may transfer the task may ask (404 otherwise)."""
    task = await repo.access_task(session, actor, task_id, TRANSFER)
    q = q.strip()
    if not q:
        return []
    top_id = task.chain[0] if task.chain else task.owner_unit_id
    top = (await repo.units_by_ids(session, [top_id])).get(top_id)
    top_path = top.path if top is not None else "/" + "/".join(path_units(task.owner_path)[:1]) + "/"
    rows = (
        await session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.kind, OrgUnit.level, OrgUnit.path)
            .where(
                OrgUnit.path.startswith(top_path, autoescape=True),
                not_(OrgUnit.path.startswith(task.owner_path, autoescape=True)),
                OrgUnit.name.contains(q, autoescape=True),
            )
            .order_by(OrgUnit.level, OrgUnit.name, OrgUnit.id)
            .limit(limit)
        )
    ).all()
    ancestors = await repo.units_by_ids(session, [a for r in rows for a in path_units(r.path)[:-1]])
    return [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "level": r.level,
            "path_names": [ancestors[a].name for a in path_units(r.path)[:-1] if a in ancestors],
        }
        for r in rows
    ]
