from __future__ import annotations

from datetime import datetime

from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service
from zhengding.authz.actor import Actor
from zhengding.http.deps import current_actor, get_session
from zhengding.http.paging import Page, paging
from zhengding.http.routing import make_router

router = make_router("/api", tags=["审计"])


class AuditItem(BaseModel):
    seq: int
    at: datetime
    actor_id: str | None
    actor_name: str | None
    role: str | None
    unit_name: str | None
    ip: str | None
    action: str
    target_type: str | None
    target_id: str | None
    result: str
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditItem]
    total: int


class ProblemRead(BaseModel):
    position: int
    kind: str
    detail: str


class VerifyResult(BaseModel):
    ok: bool
    checked: int
    problems: list[ProblemRead]
    head_seq: int
    head_hash: str


@router.get("/audit", response_model=AuditPage)
async def list_audit(
    action: str | None = None,
    actor_id: str | None = None,
    p: Page = paging(size=50, max_size=200),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
):
    rows, total = await service.list_entries(
        session, action=action, actor_id=actor_id, page=p.page, page_size=p.size
    )
    service.record(session, actor, "audit.log.viewed", detail={"page": p.page})
    return AuditPage(items=[AuditItem.model_validate(r, from_attributes=True) for r in rows], total=total)


@router.post("/audit/verify", response_model=VerifyResult)
async def verify(actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)):
    checked, problems, head = await service.verify_chain(session)
    service.record(
        session,
        actor,
        "audit.chain.verified",
        result="ok" if not problems else "problems",
        detail={"checked": checked, "problems": len(problems)},
    )
    return VerifyResult(
        ok=not problems,
        checked=checked,
        head_seq=head[0],
        head_hash=head[1],
        problems=[ProblemRead(position=p.position, kind=p.kind, detail=p.detail) for p in problems],
    )
