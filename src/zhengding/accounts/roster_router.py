"""Roster import, activation-code export and activation statistics (administrators)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from fastapi import Depends, File, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.service import activation, roster
from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core.clock import local_text, now
from zhengding.core.db import defer_write
from zhengding.core.errors import PayloadTooLarge
from zhengding.http.deps import current_actor, get_session
from zhengding.http.routing import make_router
from zhengding.orgs import service as org_service

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = make_router("/api", tags=["账号管理"])


def attachment(filename: str) -> dict[str, str]:
    """Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 5987 / 6266)."""
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "") or "download.xlsx"
    if not ascii_name.lower().endswith(".xlsx"):
        ascii_name = "download.xlsx"
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store"}


@router.post("/accounts/import")
async def import_roster(request: Request, file: UploadFile = File(...), actor: Actor = Depends(current_actor),
                        session: AsyncSession = Depends(get_session)) -> dict:
    limit = get_settings().max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"上传的文件过大（上限 {limit // 1_048_576} MB）")
    result = await roster.import_roster(session, actor, content, file.filename or "")
    return {"import_id": result.import_id, "accepted": result.accepted, "rejected": result.rejected,
            "errors": result.errors}


@router.get("/accounts/import/{import_id}/report", response_class=Response)
async def import_report(import_id: str, actor: Actor = Depends(current_actor),
                        session: AsyncSession = Depends(get_session)) -> Response:
    filename, content = await roster.import_report(session, actor, import_id)
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.get("/orgs/{unit_id}/activation-codes", response_class=Response)
async def export_activation_codes(unit_id: str, actor: Actor = Depends(current_actor),
                                  session: AsyncSession = Depends(get_session)) -> Response:
    # A GET runs on a read-only session, but issuing codes writes: the export runs as a deferred
    # write, which commits before the response is sent; the body is produced from its result.
    unit = await org_service.access_unit(session, actor, unit_id, activation.EXPORT)
    produced: dict[str, bytes] = {}

    async def issue(writer: AsyncSession) -> None:
        produced["xlsx"] = await activation.export_codes(writer, actor, unit_id)

    defer_write(session, issue)

    async def body() -> AsyncIterator[bytes]:
        yield produced["xlsx"]

    filename = f"{unit.name}-激活码-{local_text(now(), '%Y%m%d')}.xlsx"
    return StreamingResponse(body(), media_type=XLSX, headers=attachment(filename))


@router.get("/stats/activation")
async def activation_stats(unit_id: str | None = None, actor: Actor = Depends(current_actor),
                           session: AsyncSession = Depends(get_session)) -> dict:
    return await activation.activation_stats(session, actor, unit_id or None)
