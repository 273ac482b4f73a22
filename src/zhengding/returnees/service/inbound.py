"""Inbound sources and request authentication: `add_source`, `verify_request` (everything but
the nonce), `claim_nonces`, `authenticate_request` (both), `prune_nonces`.

A request is accepted only when its key id names an active source, its timestamp is within
MAX_SKEW_SECONDS of our clock, its HMAC-SM3 signature matches and its nonce was never seen
from that source. The nonce row is written in the request's transaction (unique per source):
two concurrent requests with one nonce cannot both pass, and a request that fails later
leaves no nonce behind. Nonces are kept for twice the skew window, then pruned.

Sources are read through a short cache (SOURCE_TTL, cleared by `forget_sources()` on any change
in this process): a request costs no query before its transaction.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.core.clock import now
from zhengding.core.db import get_db
from zhengding.core.errors import Conflict, Unauthenticated
from zhengding.core.ids import new_id
from zhengding.returnees import repository as repo
from zhengding.returnees import signing
from zhengding.returnees.models import InboundNonce, InboundSource

log = logging.getLogger("zhengding.returnees.inbound")
NONCE_TTL = timedelta(seconds=2 * signing.MAX_SKEW_SECONDS)
_NONCE_INSERT: dict[str, Any] = {}
SOURCE_TTL = 10.0  # seconds a deactivated source may still be honoured by another process


@dataclass(frozen=True)
class SourceRef:
    """What a request needs of its source (cached; the secret stays in memory only)."""

    id: str
    name: str
    key_id: str
    secret: str
    active: bool

    def model(self) -> InboundSource:
        """A detached InboundSource (for callers that take the model)."""
        return InboundSource(
            id=self.id, name=self.name, key_id=self.key_id, secret=self.secret, active=self.active
        )


_sources: dict[str, tuple[float, SourceRef]] = {}


def forget_sources() -> None:
    """Drop the cached sources (call after adding, deactivating or re-keying one)."""
    _sources.clear()


async def source_for_key(key_id: str) -> SourceRef | None:
    """Read on a read-only session of its own: the request's writer (SQLite's single writer
    connection) stays free for the transaction that does the work (the group commit)."""
    hit = _sources.get(key_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    async with get_db().unit_of_work(readonly=True) as session:
        source = await repo.source_by_key(session, key_id)
        if source is None:  # unknown keys are not cached (a new source works at once)
            return None
        ref = SourceRef(source.id, source.name, source.key_id, source.secret, source.active)
    _sources[key_id] = (time.monotonic() + SOURCE_TTL, ref)
    return ref


async def add_source(session: AsyncSession, name: str) -> tuple[InboundSource, str]:
    """A new source; returns it with its secret (shown once, stored encrypted)."""
    name = name.strip()
    from sqlalchemy import select

    if (await session.execute(select(InboundSource.id).where(InboundSource.name == name))).first():
        raise Conflict(f"来源系统「{name}」已存在")
    secret = secrets.token_urlsafe(32)
    source = InboundSource(
        id=new_id(),
        name=name,
        key_id="ak_" + secrets.token_hex(10),
        secret=secret,
        active=True,
        created_at=now(),
    )
    session.add(source)
    forget_sources()
    audit.record(
        session,
        None,
        "returnees.source.created",
        target_type="inbound_source",
        target_id=source.id,
        detail={"name": name},
    )
    return source, secret


def _refuse(reason: str) -> Unauthenticated:
    return Unauthenticated(f"请求签名校验失败：{reason}")


async def authenticate_request(
    session: AsyncSession, headers: Any, method: str, path: str, body: bytes
) -> InboundSource:
    """Verify the request and claim its nonce in this session's transaction."""
    source, nonce = await verify_request(headers, method, path, body)
    if (await claim_nonces(session, [(source.id, nonce)]))[0] is None:
        raise nonce_refused()
    return source.model()


def nonce_refused() -> Unauthenticated:
    return _refuse("随机串已被使用（疑似重放）")


async def verify_request(headers: Any, method: str, path: str, body: bytes) -> tuple[SourceRef, str]:
    """Everything but the nonce: (source, nonce) when the headers and the signature are right.
    The nonce must then be claimed (`claim_nonces`) in the transaction that does the work."""
    key_id = headers.get(signing.KEY_ID) or ""
    timestamp = headers.get(signing.TIMESTAMP) or ""
    nonce = headers.get(signing.NONCE) or ""
    signature = headers.get(signing.SIGNATURE) or ""
    if not (key_id and timestamp and nonce and signature):
        raise _refuse("缺少签名请求头")
    if not timestamp.isdigit() or abs(now().timestamp() - int(timestamp)) > signing.MAX_SKEW_SECONDS:
        raise _refuse("时间戳与服务器时间相差超过 300 秒")
    if not signing.NONCE_RE.fullmatch(nonce):
        raise _refuse("随机串格式不正确")
    source = await source_for_key(key_id[:40])
    if source is None or not source.active:
        raise _refuse("未知或已停用的来源系统")
    if not signing.verify(source.secret, signature, method, path, timestamp, nonce, body):
        log.warning("inbound signature mismatch for source %s", source.name)
        raise _refuse("签名不匹配")
    return source, nonce


async def claim_nonces(session: AsyncSession, claims: Sequence[tuple[str, str]]) -> list[str | None]:
    """Insert the nonces (source id, nonce) in one statement; for each claim, the id of its new
    nonce row, or None when the nonce was already used (also by an earlier claim in the list)."""
    if not claims:
        return []
    name = session.bind.dialect.name  # type: ignore[union-attr]
    stmt = _NONCE_INSERT.get(name)
    if stmt is None:
        dialect = postgresql if name == "postgresql" else sqlite
        stmt = _NONCE_INSERT[name] = (
            dialect.insert(InboundNonce)
            .on_conflict_do_nothing(index_elements=["source_id", "nonce"])
            .returning(InboundNonce.id)
        )
    expires = now() + NONCE_TTL
    ids = [new_id() for _ in claims]
    rows = [
        {"id": row_id, "source_id": source_id, "nonce": nonce, "expires_at": expires}
        for row_id, (source_id, nonce) in zip(ids, claims, strict=True)
    ]
    won = set((await (await session.connection()).execute(stmt, rows)).scalars())
    return [row_id if row_id in won else None for row_id in ids]


async def release_nonces(session: AsyncSession, row_ids: Sequence[str]) -> None:
    """Undo claims of requests that fail (as if their transaction had rolled back)."""
    if row_ids:
        await session.execute(delete(InboundNonce).where(InboundNonce.id.in_(list(row_ids))))


async def prune_nonces(session: AsyncSession) -> int:
    result = await session.execute(delete(InboundNonce).where(InboundNonce.expires_at < now()))
    return cast(CursorResult[Any], result).rowcount or 0
