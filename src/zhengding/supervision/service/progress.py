"""Owner and assigner actions: `report_progress` (落实情况 / 办结报告), `review_report` (accept
or return with a reason; the item closes when every owner is accepted), `urge_item` (催办).

Who is notified:
- report → the item's creator (inbox) and the board watchers (live "supervision.owner.reported");
- review → the people acting for that owner (inbox + live "supervision.owner.reviewed");
  closing → board watchers and every participant ("supervision.item.closed");
- urge → the people acting for each unfinished owner only (inbox + live), with an SMS to
  those who have not read it after the item's unread delay.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core import files
from zhengding.core.clock import now
from zhengding.core.errors import Forbidden, NotFound, RateLimited, ValidationFailed, field_error
from zhengding.notify.service import inbox
from zhengding.supervision import repository as repo
from zhengding.supervision import workflow
from zhengding.supervision.enums import ItemStatus, OwnerStatus, UpdateKind
from zhengding.supervision.models import SupervisionItem, SupervisionOwner
from zhengding.supervision.schemas import ProgressCreate, ReviewCreate, UrgeCreate
from zhengding.supervision.service import common
from zhengding.supervision.service.items import FILE_OWNER

URGE_INTERVAL = timedelta(minutes=1)


async def _after_accept(session: AsyncSession, actor: Actor | None, item: SupervisionItem) -> bool:
    await session.flush()
    closed = await common.close_if_done(session, item)
    await common.recompute_progress(session, item)
    if closed:
        common.add_update(session, item, UpdateKind.ACCEPTED, actor, text="全部承办对象已办结，事项办结")
        owners = await repo.owners_of(session, [item.id])
        people = [u for us in (await common.recipients(session, owners)).values() for u in us]
        await common.publish(
            session,
            item,
            "supervision.item.closed",
            {"closed_at": item.closed_at.isoformat() if item.closed_at else None},
            extra_users=people,
        )
    return closed


async def report_progress(
    session: AsyncSession, actor: Actor, item_id: str, body: ProgressCreate
) -> dict[str, Any]:
    item = await common.access_item(session, actor, item_id)
    owner = await common.owner_for(session, item, body.owner_id)
    if not common.acts_for(actor, owner):
        raise Forbidden("只有承办人可以报送落实情况")
    if item.status != ItemStatus.OPEN:
        raise ValidationFailed("该事项已办结", details=[field_error("item", "该事项已办结")])
    new_status = workflow.after_report(owner.status, final=body.final, requires_review=item.requires_review)
    at = now()
    owner.status = new_status
    if body.percent is not None:
        owner.percent = body.percent
    if body.final:
        owner.percent = 100
        owner.submitted_at = at
        owner.returned_reason = None
    if body.stage:
        owner.stage = body.stage
    owner.last_report_at = at
    if body.attachment_ids:
        await files.attach_files(session, actor.user_id, body.attachment_ids, FILE_OWNER, item.id)
    kind = UpdateKind.COMPLETION if body.final else UpdateKind.PROGRESS
    update = common.add_update(
        session,
        item,
        kind,
        actor,
        owner_id=owner.id,
        text=body.text,
        percent=owner.percent,
        stage=body.stage or None,
        file_ids=body.attachment_ids,
    )
    audit.record(
        session,
        actor,
        f"supervision.owner.{'completed' if body.final else 'reported'}",
        target_type="supervision_item",
        target_id=item.id,
        detail={"owner_id": owner.id, "percent": owner.percent},
    )
    if new_status == OwnerStatus.ACCEPTED:  # no review needed (recurring reports)
        await common.mark_accepted(session, owner)
        await _after_accept(session, actor, item)
    else:
        await common.recompute_progress(session, item)
    if item.created_by != actor.user_id:
        title = f"{'办结报告' if body.final else '进展报送'}：{item.title}"
        await inbox.notify_users(
            session,
            [item.created_by],
            kind="supervision.reported",
            title=title,
            body=f"{owner.name}：{body.text[:100]}",
            link=f"/supervision/{item.id}",
            object_type="supervision_item",
            object_id=item.id,
            sender_id=actor.user_id,
        )
    await common.publish(
        session,
        item,
        "supervision.owner.reported",
        {
            "owner_id": owner.id,
            "owner_name": owner.name,
            "status": owner.status,
            "percent": owner.percent,
            "final": body.final,
            "update_id": update.id,
            "text": body.text[:200],
            "progress": item.progress,
        },
    )
    return {
        "owner_id": owner.id,
        "status": owner.status,
        "progress": item.progress,
        "item_status": item.status,
    }


async def review_report(
    session: AsyncSession, actor: Actor, item_id: str, body: ReviewCreate
) -> dict[str, Any]:
    item = await common.access_item(session, actor, item_id)
    if not common.is_assigner(actor, item):
        raise Forbidden("只有交办方可以审核办结报告")
    owner = await common.owner_for(session, item, body.owner_id)
    new_status = workflow.after_review(owner.status, body.decision)
    if body.decision == "return" and not body.reason.strip():
        raise ValidationFailed("退回须说明理由", details=[field_error("reason", "退回须说明理由")])
    closed = False
    if new_status == OwnerStatus.ACCEPTED:
        await common.mark_accepted(session, owner)
        common.add_update(session, item, UpdateKind.ACCEPTED, actor, owner_id=owner.id, text=body.reason)
        closed = await _after_accept(session, actor, item)
    else:
        owner.status, owner.returned_reason = OwnerStatus.RETURNED, body.reason
        owner.percent = min(owner.percent, 90)
        common.add_update(session, item, UpdateKind.RETURNED, actor, owner_id=owner.id, text=body.reason)
        await common.recompute_progress(session, item)
    audit.record(
        session,
        actor,
        f"supervision.owner.{'accepted' if body.decision == 'accept' else 'returned'}",
        target_type="supervision_item",
        target_id=item.id,
        detail={"owner_id": owner.id},
    )
    people = (await common.recipients(session, [owner]))[owner.id]
    verdict = "已通过审核" if body.decision == "accept" else f"被退回：{body.reason[:80]}"
    if people:
        await inbox.notify_users(
            session,
            people,
            kind="supervision.reviewed",
            title=f"办结报告{verdict[:5]}：{item.title}",
            body=verdict,
            link=f"/supervision/{item.id}",
            object_type="supervision_item",
            object_id=item.id,
            sender_id=actor.user_id,
        )
    await common.publish(
        session,
        item,
        "supervision.owner.reviewed",
        {
            "owner_id": owner.id,
            "decision": body.decision,
            "status": owner.status,
            "closed": closed,
            "progress": item.progress,
        },
        extra_users=people,
    )
    return {
        "owner_id": owner.id,
        "status": owner.status,
        "item_status": item.status,
        "progress": item.progress,
    }


async def urge_item(
    session: AsyncSession, actor: Actor, item_id: str, body: UrgeCreate | None = None
) -> dict[str, Any]:
    """One action: every unfinished owner (or the chosen ones among them) is urged."""
    item = await common.access_item(session, actor, item_id)
    if not common.is_assigner(actor, item):
        raise Forbidden("只有交办方可以催办")
    if item.status != ItemStatus.OPEN:
        raise ValidationFailed("该事项已办结", details=[field_error("item", "该事项已办结")])
    owners = [o for o in await repo.owners_of(session, [item.id]) if workflow.is_unfinished(o.status)]
    if body and body.owner_ids is not None:
        unknown = set(body.owner_ids) - {o.id for o in await repo.owners_of(session, [item.id])}
        if unknown:
            raise NotFound("承办对象不存在")
        owners = [o for o in owners if o.id in body.owner_ids]
    at = now()
    recent = [o for o in owners if o.last_urged_at and at - o.last_urged_at < URGE_INTERVAL]
    if owners and len(recent) == len(owners):
        raise RateLimited("刚刚催办过，请稍后再试")
    message = (body.message if body else "") or "请抓紧办理并及时报送落实情况"
    sent = await send_notice(
        session,
        item,
        owners,
        kind="supervision.urged",
        title=f"催办：{item.title}",
        body=message,
        actor=actor,
    )
    for o in owners:
        o.urge_count += 1
        o.last_urged_at = at
        common.add_update(session, item, UpdateKind.URGED, actor, owner_id=o.id, text=message)
    audit.record(
        session,
        actor,
        "supervision.item.urged",
        target_type="supervision_item",
        target_id=item.id,
        detail={"owners": len(owners), "recipients": len(sent)},
    )
    await common.publish(session, item, "supervision.item.urged", {"owner_ids": [o.id for o in owners]})
    return {"urged_owner_ids": [o.id for o in owners], "recipients": len(sent)}


async def send_notice(
    session: AsyncSession,
    item: SupervisionItem,
    owners: list[SupervisionOwner],
    *,
    kind: str,
    title: str,
    body: str,
    actor: Actor | None = None,
    sms: bool = True,
) -> list[str]:
    """Inbox entry + live push to the people acting for the owners; SMS when unread after the delay."""
    targets = await common.recipients(session, owners)
    people = list(dict.fromkeys(u for o in owners for u in targets[o.id]))
    if people:
        await inbox.notify_users(
            session,
            people,
            kind=kind,
            title=title,
            body=body,
            link=f"/supervision/{item.id}",
            object_type="supervision_item",
            object_id=item.id,
            sender_id=actor.user_id if actor else None,
            sms_after=timedelta(minutes=item.sms_after_minutes) if sms else None,
        )
    return people
