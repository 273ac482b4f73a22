"""Stored files (attachments, photos): generic, for any domain.

A file is a row (`stored_files`: name, size, sha256, content type, uploader) plus its bytes under
`<ZD_VAR_DIR>/attachments/<sha256[:2]>/<sha256>` (content-addressed: the same bytes are stored
once). Use-cases: `store_file` (size-limited), `attach_files` (bind uploaded files to a domain
object), `file_path`, and the download policy `may_download`.

Download policy: the uploader may always download their file; once a file is attached to an
object (`owner_type`, `owner_id`), whoever may see that object may download it — each domain
registers a checker with `register_owner(owner_type, async fn(session, actor, owner_id) -> bool)`
that goes through its own `access_*` loader. The HTTP endpoints (zhengding.http.files) audit
every upload and download.

Core imports no domain: the actor is typed loosely here.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.errors import NotFound, PayloadTooLarge, ValidationFailed
from zhengding.core.models import Base, created_at_column, id_column

DEFAULT_MAX_BYTES = 10 * 1_048_576


def max_bytes() -> int:
    raw = os.environ.get("ZD_ATTACHMENT_MAX_BYTES")
    return int(raw) if raw else DEFAULT_MAX_BYTES


class StoredFile(Base):
    __tablename__ = "stored_files"
    __table_args__ = (Index("ix_stored_files_owner", "owner_type", "owner_id"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    uploader_id: Mapped[str] = mapped_column(String(26), index=True)
    owner_type: Mapped[str | None] = mapped_column(String(40))  # e.g. "supervision.item"
    owner_id: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = created_at_column()


Checker = Callable[[AsyncSession, Any, str], Awaitable[bool]]
_owners: dict[str, Checker] = {}


def register_owner(owner_type: str, checker: Checker) -> None:
    _owners[owner_type] = checker


def storage_root() -> Path:
    from zhengding.config import get_settings

    return Path(get_settings().var_dir) / "attachments"


def file_path(f: StoredFile) -> Path:
    return storage_root() / f.sha256[:2] / f.sha256


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def clean_name(name: str) -> str:
    name = _UNSAFE.sub("_", os.path.basename(name or "").strip()) or "file"
    return name[-200:]


def _write(path: Path, content: bytes) -> None:
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


async def store_file(session: AsyncSession, uploader_id: str, name: str, content: bytes,
                     content_type: str | None = None) -> StoredFile:
    """Write the bytes (once per content) and add the row to the caller's transaction."""
    import asyncio

    limit = max_bytes()
    if len(content) > limit:
        raise PayloadTooLarge(f"附件过大（上限 {limit // 1_048_576} MB）")
    if not content:
        raise ValidationFailed("附件为空")
    digest = hashlib.sha256(content).hexdigest()
    row = StoredFile(name=clean_name(name), size=len(content), sha256=digest,
                     content_type=(content_type or "application/octet-stream")[:100], uploader_id=uploader_id)
    await asyncio.to_thread(_write, storage_root() / digest[:2] / digest, content)
    session.add(row)
    await session.flush()
    return row


async def files_by_ids(session: AsyncSession, ids: Sequence[str]) -> list[StoredFile]:
    if not ids:
        return []
    rows = (await session.scalars(select(StoredFile).where(StoredFile.id.in_(list(ids))))).all()
    order = {i: n for n, i in enumerate(ids)}
    return sorted(rows, key=lambda f: order.get(f.id, 0))


async def attach_files(session: AsyncSession, uploader_id: str, file_ids: Sequence[str], owner_type: str,
                       owner_id: str) -> list[StoredFile]:
    """Bind the uploader's own unattached files to an object; anything else is a 404."""
    ids = list(dict.fromkeys(file_ids))
    rows = await files_by_ids(session, ids)
    if len(rows) != len(ids) or any(f.uploader_id != uploader_id or f.owner_id is not None for f in rows):
        raise NotFound("附件不存在或已被使用")
    for f in rows:
        f.owner_type, f.owner_id = owner_type, owner_id
    return rows


async def may_download(session: AsyncSession, actor: Any, f: StoredFile) -> bool:
    if f.uploader_id == actor.user_id:
        return True
    if f.owner_type is None or f.owner_id is None:
        return False
    checker = _owners.get(f.owner_type)
    return bool(checker and await checker(session, actor, f.owner_id))


def read(f: StoredFile) -> dict[str, Any]:
    return {"id": f.id, "name": f.name, "size": f.size, "content_type": f.content_type,
            "sha256": f.sha256, "created_at": f.created_at}
