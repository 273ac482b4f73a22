"""Audit use-cases: record (buffered, chained at commit), list, verify the chain.

Entries are buffered on the session and chained in a before-commit hook, so the chain lock
(an advisory lock on PostgreSQL; SQLite's single writer) is held only while the transaction
commits, not for the whole request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson
from sqlalchemy import event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from zhengding.audit.models import AuditEntry
from zhengding.authz.actor import Actor
from zhengding.core import db as core_db
from zhengding.core.clock import now
from zhengding.core.errors import Forbidden
from zhengding.core.hashing import sm3_hex
from zhengding.privacy.masking import scrub

GENESIS = "0" * 64
_CHAIN_LOCK_KEY = 720_046_001
_FORBIDDEN_DETAIL_KEYS = {"password", "token", "code", "secret", "phone", "id_number", "totp"}


@dataclass
class RequestInfo:
    ip: str | None = None
    request_id: str | None = None


def set_request_info(session: AsyncSession, info: RequestInfo) -> None:
    session.info["request"] = info


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if key in _FORBIDDEN_DETAIL_KEYS:
            continue
        if isinstance(value, str):
            value = scrub(value)
        elif isinstance(value, dict):
            value = _clean(value)
        out[key] = value
    return out


def record(
    session: AsyncSession,
    actor: Actor | None,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    result: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Buffer an audit row; it is written, chained, in the same transaction at commit."""
    info: RequestInfo = session.info.get("request") or RequestInfo()
    session.info.setdefault("audit", []).append(
        {
            "at": now(),
            "actor_id": actor.user_id if actor else None,
            "actor_name": actor.name if actor else None,
            "role": ",".join(actor.roles)[:200] if actor else None,
            "unit_id": actor.unit_id if actor else None,
            "unit_name": actor.unit_name if actor else None,
            "ip": (actor.ip if actor and actor.ip else info.ip),
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "result": result,
            "request_id": (actor.request_id if actor and actor.request_id else info.request_id),
            "detail": orjson.dumps(_clean(detail or {}), option=orjson.OPT_SORT_KEYS).decode(),
        }
    )


_HASHED_FIELDS = (
    "at",
    "actor_id",
    "actor_name",
    "role",
    "unit_id",
    "unit_name",
    "ip",
    "action",
    "target_type",
    "target_id",
    "result",
    "request_id",
    "detail",
    "prev_hash",
)


def row_hash(values: dict[str, Any]) -> str:
    """SM3 over the row's content and the previous hash. The position (seq) is not hashed:
    order is fixed by the chain, so a swap shows as a broken link rather than an edit."""
    canonical = {
        k: (values[k].astimezone(UTC).isoformat() if k == "at" else values[k]) for k in _HASHED_FIELDS
    }
    return sm3_hex(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS))


async def _chain_pending(session: AsyncSession) -> None:
    entries = session.info.pop("audit", None)
    if not entries:
        return
    bind = session.bind
    assert bind is not None, "audit chaining needs a bound session"
    if bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
    last = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    rows = []
    for entry in entries:
        seq += 1
        entry = {**entry, "prev_hash": prev, "seq": seq}
        entry["hash"] = prev = row_hash(entry)
        rows.append(entry)
    # Core executemany, not ORM objects: a request may audit hundreds of rows (an import, a
    # group of inbound records) and nothing reads them back in the same session.
    await session.execute(insert(AuditEntry), rows)


core_db.BUFFER_KEYS.append("audit")
core_db.add_before_commit_hook(_chain_pending)


@event.listens_for(Session, "before_flush")
def _refuse_audit_changes(session: Session, _ctx: Any, _instances: Any) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry):
            raise Forbidden("审计日志只能追加，不能修改或删除")


@event.listens_for(Session, "do_orm_execute")
def _refuse_audit_statements(state: Any) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None:
        if state.bind_mapper.class_ is AuditEntry:
            raise Forbidden("审计日志只能追加，不能修改或删除")


async def list_entries(
    session: AsyncSession,
    *,
    action: str | None = None,
    actor_id: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[AuditEntry], int]:
    stmt = select(AuditEntry)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        (
            await session.execute(
                stmt.order_by(AuditEntry.seq.desc()).offset((page - 1) * page_size).limit(page_size)
            )
        )
        .scalars()
        .all()
    )
    return list(rows), total


@dataclass
class Problem:
    position: int
    kind: str  # edited | deleted | reordered
    detail: str


async def verify_chain(
    session: AsyncSession, *, batch: int = 5000
) -> tuple[int, list[Problem], tuple[int, str]]:
    """Walk the chain in position order. Returns (rows checked, problems, head (seq, hash))."""
    problems: list[Problem] = []
    prev_seq, prev_hash = 0, GENESIS
    checked = 0
    after = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            checked += 1
            values = {k: getattr(row, k) for k in _HASHED_FIELDS}
            if row_hash(values) != row.hash:
                problems.append(Problem(row.seq, "edited", "内容与哈希不符（记录被修改）"))
            if row.seq != prev_seq + 1:
                problems.append(Problem(row.seq, "deleted", f"第 {prev_seq + 1}–{row.seq - 1} 条记录缺失"))
            elif row.prev_hash != prev_hash:
                found = (
                    await session.execute(select(AuditEntry.seq).where(AuditEntry.hash == row.prev_hash))
                ).scalar()
                if found is not None:
                    problems.append(
                        Problem(row.seq, "reordered", f"本条原本应在第 {found} 条之后（顺序被调换）")
                    )
                else:
                    problems.append(Problem(row.seq, "deleted", "前一条记录缺失或被替换（链接断开）"))
            prev_seq, prev_hash = row.seq, row.hash
        after = rows[-1].seq
        session.expunge_all()
    return checked, problems, (prev_seq, prev_hash)
