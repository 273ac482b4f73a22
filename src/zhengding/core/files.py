"""Stored files (attachments, photos): generic, for any domain.

A file is a row (`stored_files`: name, size, content address, content type, uploader) plus its
bytes under `<ZD_VAR_DIR>/attachments/<address[:2]>/<address>`, sealed with the personal-data
keys (`privacy.crypto.seal`: SM4-GCM, the key id travels with the bytes), since an attachment
may be a list of people. The address is a keyed digest of the plaintext
(`privacy.crypto.content_address`): the same bytes are stored once, and the address does not
let anyone confirm a guess of a small file. Files stored before encryption (address = their
SHA-256, bytes in clear) still read. Use-cases: `store_file` (size-limited), `attach_files`
(bind uploaded files to a domain object), `read_content`, and the download policy `may_download`.

Download policy: the uploader may always download their file; once a file is attached to an
object (`owner_type`, `owner_id`), whoever may see that object may download it — each domain
registers a checker with `register_owner(owner_type, async fn(session, actor, owner_id) -> bool)`
that goes through its own `access_*` loader. The HTTP endpoints (zhengding.http.files) audit
every upload and download.

Core imports no domain (the actor is typed loosely here); it uses `privacy.crypto`, which
depends on the settings only.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Index, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.config import get_settings
from zhengding.core.errors import NotFound, PayloadTooLarge, ValidationFailed
from zhengding.core.models import Base, created_at_column, id_column

DEFAULT_MAX_BYTES = 10 * 1_048_576


def max_bytes() -> int:
    return get_settings().attachment_max_bytes


class StoredFile(Base):
    __tablename__ = "stored_files"
    __table_args__ = (Index("ix_stored_files_owner", "owner_type", "owner_id"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    # The column keeps its first name: it held the SHA-256 before files were sealed.
    address: Mapped[str] = mapped_column("sha256", String(64), index=True)
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
    return Path(get_settings().var_dir) / "attachments"


def file_path(f: StoredFile) -> Path:
    return storage_root() / f.address[:2] / f.address


CONTEXT = "stored_files"  # associated data of every sealed file


def read_content(f: StoredFile) -> bytes:
    """The file's plaintext (blocking: call it in a thread); FileNotFoundError when it is gone."""
    from zhengding.privacy import crypto

    return crypto.unseal(file_path(f).read_bytes(), CONTEXT)


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def clean_name(name: str) -> str:
    name = _UNSAFE.sub("_", os.path.basename(name or "").strip()) or "file"
    return name[-200:]


def _write(content: bytes) -> str:
    """Seal and write the bytes once per content; returns their address."""
    from zhengding.privacy import crypto

    address = crypto.content_address(content)
    path = storage_root() / address[:2] / address
    if path.exists():
        return address
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(crypto.seal(content, CONTEXT))
    os.replace(tmp, path)
    return address


async def store_file(
    session: AsyncSession, uploader_id: str, name: str, content: bytes, content_type: str | None = None
) -> StoredFile:
    """Write the bytes (sealed, once per content) and add the row to the caller's transaction."""
    limit = max_bytes()
    if len(content) > limit:
        raise PayloadTooLarge(f"附件过大（上限 {limit // 1_048_576} MB）")
    if not content:
        raise ValidationFailed("附件为空")
    address = await asyncio.to_thread(_write, content)
    row = StoredFile(
        name=clean_name(name),
        size=len(content),
        address=address,
        content_type=(content_type or "application/octet-stream")[:100],
        uploader_id=uploader_id,
    )
    session.add(row)
    await session.flush()
    return row


async def files_by_ids(session: AsyncSession, ids: Sequence[str]) -> list[StoredFile]:
    if not ids:
        return []
    rows = (await session.scalars(select(StoredFile).where(StoredFile.id.in_(list(ids))))).all()
    order = {i: n for n, i in enumerate(ids)}
    return sorted(rows, key=lambda f: order.get(f.id, 0))


async def attach_files(
    session: AsyncSession, uploader_id: str, file_ids: Sequence[str], owner_type: str, owner_id: str
) -> list[StoredFile]:
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
    return {
        "id": f.id,
        "name": f.name,
        "size": f.size,
        "content_type": f.content_type,
        "created_at": f.created_at,
    }
