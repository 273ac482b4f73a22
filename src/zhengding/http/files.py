"""Generic file endpoints: upload (any logged-in user, size-limited) and download through the
server (policy in zhengding.core.files; the bytes are unsealed here), both audited."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import Depends, File, UploadFile
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core import files
from zhengding.core.errors import NotFound, PayloadTooLarge
from zhengding.http.deps import current_actor, get_session
from zhengding.http.routing import make_router

router = make_router("/api", tags=["附件"])


@router.post("/files", status_code=201)
async def upload_file(
    file: UploadFile = File(...),
    actor: Actor = Depends(current_actor),
    session: AsyncSession = Depends(get_session),
) -> dict[str, Any]:
    limit = files.max_bytes()
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise PayloadTooLarge(f"附件过大（上限 {limit // 1_048_576} MB）")
    row = await files.store_file(session, actor.user_id, file.filename or "file", content, file.content_type)
    audit.record(
        session,
        actor,
        "files.file.uploaded",
        target_type="file",
        target_id=row.id,
        detail={"size": row.size, "content_type": row.content_type},
    )
    return files.read(row)


@router.get("/files/{file_id}", response_class=Response)
async def download_file(
    file_id: str, actor: Actor = Depends(current_actor), session: AsyncSession = Depends(get_session)
) -> Response:
    row = await session.get(files.StoredFile, file_id)
    if row is None or not await files.may_download(session, actor, row):
        raise NotFound(kind="file", target_id=file_id, exists=row is not None)
    try:
        content = await asyncio.to_thread(files.read_content, row)
    except FileNotFoundError:
        raise NotFound("附件文件已丢失") from None
    audit.record(
        session,
        actor,
        "files.file.downloaded",
        target_type="file",
        target_id=row.id,
        detail={"owner_type": row.owner_type, "owner_id": row.owner_id},
    )
    ascii_name = row.name.encode("ascii", "ignore").decode() or "download"
    ascii_name = ascii_name.replace('"', "")
    headers = {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.name)}",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return Response(content, media_type=row.content_type, headers=headers)
