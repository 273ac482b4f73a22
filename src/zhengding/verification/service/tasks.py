"""Reading tasks: `list_tasks` (filters, paging; one audit row per list read), `task_detail`
(the task, its history, replies and transfers), and the revealer of a task's personal data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import User
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import restrict
from zhengding.core.clock import now
from zhengding.privacy.masking import mask_id_number, mask_name, mask_phone
from zhengding.verification import repository as repo
from zhengding.verification.cells import path_units
from zhengding.verification.enums import OPEN_STATUSES, TaskStatus
from zhengding.verification.models import VerificationTask
from zhengding.verification.permissions import READ, REVIEW
from zhengding.verification.service.common import grant_unit_ids


def review_queue(stmt: Any, actor: Actor) -> Any:
    """Replied tasks whose review has not yet climbed above the actor's own units (a unit may
    accept on its level before the units below it did)."""
    t = VerificationTask
    above = {u for g in actor.grants_for(REVIEW) for u in path_units(g.unit_path)[:-1]}
    above -= set(grant_unit_ids(actor, REVIEW))
    stmt = restrict(stmt, actor, REVIEW, path=t.owner_path).where(t.status == TaskStatus.REPLIED)
    return stmt.where(t.review_unit_id.not_in(list(above))) if above else stmt


def task_item(t: VerificationTask, names: dict[str, str]) -> dict[str, Any]:
    return {
        "id": t.id,
        "batch_id": t.batch_id,
        "row_number": t.row_number,
        "name_masked": mask_name(t.name),
        "id_number_masked": mask_id_number(t.id_number),
        "phone_masked": mask_phone(t.phone),
        "clue": t.clue,
        "source": t.source,
        "status": t.status,
        "owner_unit_id": t.owner_unit_id,
        "owner_unit_name": names.get(t.owner_unit_id),
        "assignee_id": t.assignee_id,
        "assignee_name": names.get(t.assignee_id or ""),
        "clue_unit_id": t.clue_unit_id,
        "clue_unit_name": names.get(t.clue_unit_id or ""),
        "review_unit_id": t.review_unit_id,
        "review_unit_name": names.get(t.review_unit_id or ""),
        "transferring": t.transfer_id is not None,
        "deadline": t.deadline,
        "overdue": t.overdue
        or bool(
            t.deadline
            and t.deadline < now()
            and t.status in (TaskStatus.PENDING, TaskStatus.DISPATCHED, TaskStatus.IN_PROGRESS)
        ),
        "nat_result": t.nat_result,
        "nat_sampled_at": t.nat_sampled_at,
        "created_at": t.created_at,
        "replied_at": t.replied_at,
        "closed_at": t.closed_at,
    }


async def _names(
    session: AsyncSession,
    tasks: list[VerificationTask],
    extra_units: Sequence[str] = (),
    extra_users: Sequence[str] = (),
) -> dict[str, str]:
    unit_ids = {u for t in tasks for u in (t.owner_unit_id, t.clue_unit_id, t.review_unit_id, *t.chain) if u}
    units = await repo.units_by_ids(session, [*unit_ids, *extra_units])
    names = {k: v.name for k, v in units.items()}
    user_ids = list({t.assignee_id for t in tasks if t.assignee_id} | set(extra_users))
    if user_ids:
        names.update(
            dict((await session.execute(select(User.id, User.name).where(User.id.in_(user_ids)))).all())
        )
    return names


async def list_tasks(
    session: AsyncSession,
    actor: Actor,
    *,
    batch_id: str | None = None,
    status: str | None = None,
    unit_id: str | None = None,
    mine: bool = False,
    review: bool = False,
    overdue: bool = False,
    waiting: bool = False,
    q: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> dict[str, Any]:
    stmt = repo.tasks_in_scope(actor, READ)
    t = VerificationTask
    if batch_id:
        stmt = stmt.where(t.batch_id == batch_id)
    if status:
        stmt = stmt.where(t.status == status)
    if unit_id:
        units = await repo.units_by_ids(session, [unit_id])
        stmt = (
            stmt.where(t.owner_path.startswith(units[unit_id].path, autoescape=True))
            if unit_id in units
            else stmt.where(t.id.is_(None))
        )
    if mine:
        stmt = stmt.where(t.assignee_id == actor.user_id)
    if review:
        stmt = review_queue(stmt, actor)
    if waiting:  # held by one of my own units, ready for the next dispatch
        stmt = stmt.where(
            t.owner_unit_id.in_(grant_unit_ids(actor, READ)),
            t.status.in_([TaskStatus.PENDING, TaskStatus.DISPATCHED]),
        )
    if overdue:
        stmt = stmt.where(
            or_(
                t.overdue.is_(True),
                (t.deadline < now())
                & t.status.in_([TaskStatus.PENDING, TaskStatus.DISPATCHED, TaskStatus.IN_PROGRESS]),
            )
        )
    if q:
        stmt = stmt.where(t.clue.contains(q.strip(), autoescape=True))
    total = await repo.count(session, stmt)
    page_size = max(1, min(page_size, 500))
    rows = list(
        (
            await session.execute(
                stmt.order_by(t.created_at.desc(), t.row_number)
                .offset((max(page, 1) - 1) * page_size)
                .limit(page_size)
            )
        ).scalars()
    )
    names = await _names(session, rows)
    audit.record(
        session,
        actor,
        "verification.tasks.listed",
        target_type="verification_batch",
        target_id=batch_id,
        detail={"count": len(rows), "status": status, "page": page},
    )
    return {"items": [task_item(r, names) for r in rows], "total": total}


async def task_detail(session: AsyncSession, actor: Actor, task_id: str) -> dict[str, Any]:
    task = await repo.access_task(session, actor, task_id, READ)
    history = await repo.history(session, task.id)
    replies = await repo.replies(session, task.id)
    transfers = await repo.transfers_of_task(session, task.id)
    names = await _names(
        session,
        [task],
        extra_units=[u for e in history for u in (e.from_unit_id, e.to_unit_id) if u]
        + [u for tr in transfers for u in (tr.from_unit_id, tr.to_unit_id)],
        extra_users=[e.to_user_id for e in history if e.to_user_id],
    )
    item = task_item(task, names)
    item["note"] = task.note
    item["chain"] = [{"id": u, "name": names.get(u)} for u in task.chain]
    item["history"] = [
        {
            "seq": e.seq,
            "at": e.at,
            "kind": e.kind,
            "actor_name": e.actor_name,
            "from_unit_name": names.get(e.from_unit_id or ""),
            "to_unit_name": names.get(e.to_unit_id or ""),
            "to_user_name": names.get(e.to_user_id or ""),
            "reason": e.reason,
            "detail": e.detail,
        }
        for e in history
    ]
    item["replies"] = [
        {
            "id": r.id,
            "replier_name": r.replier_name,
            "found": r.found,
            "location": r.location,
            "contact_masked": mask_phone(r.contact),
            "health_status": r.health_status,
            "measure": r.measure,
            "note": r.note,
            "photo_ids": r.photo_ids,
            "status": r.status,
            "return_reason": r.return_reason,
            "created_at": r.created_at,
        }
        for r in replies
    ]
    item["transfers"] = [
        {
            "id": tr.id,
            "from_unit_name": names.get(tr.from_unit_id),
            "to_unit_name": names.get(tr.to_unit_id),
            "reason": tr.reason,
            "status": tr.status,
            "reject_reason": tr.reject_reason,
            "created_at": tr.created_at,
        }
        for tr in transfers
    ]
    item["open"] = task.status in OPEN_STATUSES
    item["can_reply"] = (
        task.assignee_id == actor.user_id and task.status == TaskStatus.IN_PROGRESS and not task.transfer_id
    )
    item["pending_transfer_id"] = task.transfer_id
    audit.record(
        session, actor, "verification.task.viewed", target_type="verification_task", target_id=task.id
    )
    return item


async def reveal_field(session: AsyncSession, actor: Actor, task_id: str, field: str) -> str | None:
    task = await repo.access_task(session, actor, task_id, READ)
    if field in ("name", "id_number", "phone"):
        return getattr(task, field)
    return None
