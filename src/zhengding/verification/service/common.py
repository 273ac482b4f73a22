"""Helpers shared by the verification use-cases: history rows, bulk writes, the actor's units."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import JSON, ColumnDefault, Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core.clock import now
from zhengding.privacy.types import Encrypted
from zhengding.verification.models import TaskEvent, VerificationTask

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHUNK = 1000


def local_day(at: datetime) -> str:
    return at.astimezone(SHANGHAI).date().isoformat()


def event_row(task: VerificationTask | dict[str, Any], kind: str, actor: Actor | None, *, at: datetime | None = None,
              from_unit_id: str | None = None, to_unit_id: str | None = None, to_user_id: str | None = None,
              reason: str | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The next history row of a task (bumps the task's version, which is its last seq)."""
    if isinstance(task, dict):
        task["version"] += 1
        task_id, seq = task["id"], task["version"]
    else:
        task.version += 1
        task_id, seq = task.id, task.version
    return {"task_id": task_id, "seq": seq, "at": at or now(), "kind": kind,
            "actor_id": actor.user_id if actor and actor.user_id != "system" else None,
            "actor_name": actor.name if actor else "系统", "from_unit_id": from_unit_id, "to_unit_id": to_unit_id,
            "to_user_id": to_user_id, "reason": reason, "detail": detail}


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    table = cast(Table, TaskEvent.__table__)
    for start in range(0, len(rows), CHUNK):
        await session.execute(table.insert(), rows[start:start + CHUNK])


async def bulk_update_tasks(session: AsyncSession, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """executemany UPDATE by id of `columns` (each row: {"id", *columns})."""
    if not rows:
        return
    table = cast(Table, VerificationTask.__table__)
    stmt = (update(table).where(table.c.id == bindparam("_id"))
            .values({c: bindparam("_" + c) for c in columns}))
    params = [{"_id": r["id"], **{"_" + c: r[c] for c in columns}} for r in rows]
    for start in range(0, len(params), CHUNK):
        await session.execute(stmt, params[start:start + CHUNK])


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL (values encoded here as the column types would),
    executemany elsewhere."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        for start in range(0, len(rows), CHUNK):
            await session.execute(table.insert(), rows[start:start + CHUNK])
        return
    columns = list(table.columns)
    encoders: list[Any] = []
    for col in columns:
        if isinstance(col.type, Encrypted):
            encoders.append(lambda v, ctx=col.type.context: None if v is None else _encrypt(v, ctx))
        elif isinstance(col.type, JSON):
            encoders.append(lambda v: None if v is None else orjson.dumps(v).decode())
        else:
            encoders.append(None)
    names = [c.name for c in columns]
    defaults = {c.name: c.default.arg for c in columns
                if isinstance(c.default, ColumnDefault) and not callable(c.default.arg)}
    records = []
    for row in rows:
        record = []
        for name, encode in zip(names, encoders, strict=True):
            value = row.get(name, defaults.get(name))
            record.append(encode(value) if encode else value)
        records.append(tuple(record))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(table.name, records=records, columns=names)


def _encrypt(value: str, context: str) -> str:
    from zhengding.privacy.crypto import encrypt

    return encrypt(str(value), context)


def grant_unit_ids(actor: Actor, permission: str) -> list[str]:
    return list(dict.fromkeys(g.unit_id for g in actor.grants_for(permission)))
