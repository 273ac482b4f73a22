"""Roster import, activation codes (issue: POST; download the latest issued set: GET) and
activation statistics (administrators)."""

from __future__ import annotations

from dataclasses import asdict
from urllib.parse import quote

from fastapi import Depends, File, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.schemas import ActivationCodeSetRead
from zhengding.accounts.service import activation, roster
from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core.errors import PayloadTooLarge
from zhengding.http.deps import current_actor, get_session
from zhengding.http.routing import make_router

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = make_router("/api", tags=["账号管理"])


def attachment(filename: str) -> dict[str, str]:
    """Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 5987 / 6266)."""
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "") or "download.xlsx"
    if not ascii_name.lower().endswith(".xlsx"):
        ascii_name = "download.xlsx"
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "no-store",
    }


@router.post("/accounts/import")
async def import_roster(
    request: Request,
    file: UploadFile = File(...),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict:
    limit = get_settings().max_upload_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"上传的文件过大（上限 {limit // 1_048_576} MB）")
    result = await roster.import_roster(session, actor, content, file.filename or "")
    return {
        "import_id": result.import_id,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "errors": result.errors,
    }


@router.get("/accounts/import/{import_id}/report", response_class=Response)
async def import_report(
    import_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> Response:
    filename, content = await roster.import_report(session, actor, import_id)
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.post("/orgs/{unit_id}/activation-codes", status_code=201)
async def issue_activation_codes(
    unit_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> ActivationCodeSetRead:
    issued = await activation.issue_activation_codes(session, actor, unit_id)
    return ActivationCodeSetRead(**asdict(issued))


@router.get("/orgs/{unit_id}/activation-codes", response_class=Response)
async def download_activation_codes(
    unit_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> Response:
    filename, content = await activation.download_activation_codes(session, actor, unit_id)
    return Response(content, media_type=XLSX, headers=attachment(filename))


@router.get("/stats/activation")
async def activation_stats(
    unit_id: str | None = None,
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict:
    return await activation.activation_stats(session, actor, unit_id or None)
