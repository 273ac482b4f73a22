from __future__ import annotations

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core.schemas import RequestModel
from zhengding.http.deps import current_actor, get_session
from zhengding.http.routing import make_router
from zhengding.privacy import service

router = make_router("/api", tags=["个人信息保护"])


class RevealRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")
    target_type: str = Field(max_length=40)
    target_id: str = Field(max_length=64)
    field: str = Field(max_length=40)
    reason: str = Field(max_length=200)


class Revealed(BaseModel):
    value: str


class DownloadLog(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    # what was downloaded, as the pages name it ("verification_tasks", "import_report", "xlsx" …)
    kind: str = Field(default="other", pattern=r"^[a-z][a-z0-9_]{0,39}$")


@router.post("/privacy/reveal", response_model=Revealed)
async def reveal(
    body: RevealRequest, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> Revealed:
    value = await service.reveal(session, actor, body.target_type, body.target_id, body.field, body.reason)
    return Revealed(value=value)


@router.post("/downloads/log")
async def log_download(
    body: DownloadLog, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> dict[str, bool]:
    audit.record(
        session,
        actor,
        "files.download.saved",
        target_type="file",
        detail={"name": body.name, "kind": body.kind},
    )
    return {"ok": True}
