"""Inbound sources and request authentication: `add_source`, `authenticate_request`,
`prune_nonces`.

A request is accepted only when its key id names an active source, its timestamp is within
MAX_SKEW_SECONDS of our clock, its HMAC-SM3 signature matches and its nonce was never seen
from that source. The nonce row is written in the request's transaction (unique per source):
two concurrent requests with one nonce cannot both pass, and a request that fails later
leaves no nonce behind. Nonces are kept for twice the skew window, then pruned.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, Unauthenticated
from zhengding.core.ids import new_id
from zhengding.returnees import repository as repo
from zhengding.returnees import signing
from zhengding.returnees.models import InboundNonce, InboundSource

log = logging.getLogger("zhengding.returnees.inbound")
NONCE_TTL = timedelta(seconds=2 * signing.MAX_SKEW_SECONDS)
_NONCE_INSERT: dict[str, Any] = {}


async def add_source(session: AsyncSession, name: str) -> tuple[InboundSource, str]:
    """A new source; returns it with its secret (shown once, stored encrypted)."""
    name = name.strip()
    from sqlalchemy import select

    if (await session.execute(select(InboundSource.id).where(InboundSource.name == name))).first():
        raise Conflict(f"来源系统「{name}」已存在")
    secret = secrets.token_urlsafe(32)
    source = InboundSource(id=new_id(), name=name, key_id="ak_" + secrets.token_hex(10), secret=secret,
                           active=True, created_at=now())
    session.add(source)
    audit.record(session, None, "returnees.source.created", target_type="inbound_source", target_id=source.id,
                 detail={"name": name})
    return source, secret


def _refuse(reason: str) -> Unauthenticated:
    return Unauthenticated(f"请求签名校验失败：{reason}")


async def authenticate_request(session: AsyncSession, headers: Any, method: str, path: str,
                               body: bytes) -> InboundSource:
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
    source = await repo.source_by_key(session, key_id[:40])
    if source is None or not source.active:
        raise _refuse("未知或已停用的来源系统")
    if not signing.verify(source.secret, signature, method, path, timestamp, nonce, body):
        log.warning("inbound signature mismatch for source %s", source.name)
        raise _refuse("签名不匹配")
    name = session.bind.dialect.name  # type: ignore[union-attr]
    stmt = _NONCE_INSERT.get(name)
    if stmt is None:
        dialect = postgresql if name == "postgresql" else sqlite
        stmt = _NONCE_INSERT[name] = dialect.insert(InboundNonce).on_conflict_do_nothing(
            index_elements=["source_id", "nonce"])
    result = await (await session.connection()).execute(stmt, {"id": new_id(), "source_id": source.id, "nonce": nonce,
                                                         "expires_at": now() + NONCE_TTL})
    if cast(CursorResult[Any], result).rowcount != 1:
        raise _refuse("随机串已被使用（疑似重放）")
    return source


async def prune_nonces(session: AsyncSession) -> int:
    result = await session.execute(delete(InboundNonce).where(InboundNonce.expires_at < now()))
    return cast(CursorResult[Any], result).rowcount or 0
