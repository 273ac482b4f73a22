"""Helpers shared by the verification use-cases: history rows, bulk writes, the actor's units."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import JSON, ColumnDefault, Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.core.clock import now
from zhengding.privacy.crypto import encrypt_many
from zhengding.privacy.types import Encrypted
from zhengding.verification.models import TaskEvent, VerificationTask

CHUNK = 1000


def event_row(
    task: VerificationTask | dict[str, Any],
    kind: str,
    actor: Actor | None,
    *,
    at: datetime | None = None,
    from_unit_id: str | None = None,
    to_unit_id: str | None = None,
    to_user_id: str | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The next history row of a task (bumps the task's version, which is its last seq)."""
    if isinstance(task, dict):
        task["version"] += 1
        task_id, seq = task["id"], task["version"]
    else:
        task.version += 1
        task_id, seq = task.id, task.version
    return {
        "task_id": task_id,
        "seq": seq,
        "at": at or now(),
        "kind": kind,
        "actor_id": actor.user_id if actor and actor.user_id != "system" else None,
        "actor_name": actor.name if actor else "系统",
        "from_unit_id": from_unit_id,
        "to_unit_id": to_unit_id,
        "to_user_id": to_user_id,
        "reason": reason,
        "detail": detail,
    }


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    table = cast(Table, TaskEvent.__table__)
    for start in range(0, len(rows), CHUNK):
        await session.execute(table.insert(), rows[start : start + CHUNK])


async def bulk_update_tasks(session: AsyncSession, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """executemany UPDATE by id of `columns` (each row: {"id", *columns})."""
    if not rows:
        return
    table = cast(Table, VerificationTask.__table__)
    stmt = (
        update(table).where(table.c.id == bindparam("_id")).values({c: bindparam("_" + c) for c in columns})
    )
    params = [{"_id": r["id"], **{"_" + c: r[c] for c in columns}} for r in rows]
    for start in range(0, len(params), CHUNK):
        await session.execute(stmt, params[start : start + CHUNK])


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows, a column at a time: personal data encrypted per column
    (`encrypt_many`), then COPY on PostgreSQL, one driver-level executemany elsewhere (the
    column types' own bind processing, without compiling parameters row by row)."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    postgres = dialect.name == "postgresql"
    columns = list(table.columns)
    names = [c.name for c in columns]
    values: list[list[Any]] = []
    for col in columns:
        column = _column_values(col, rows)
        if isinstance(col.type, Encrypted):
            column = encrypt_many([None if v is None else str(v) for v in column], col.type.context)
        elif postgres:
            if isinstance(col.type, JSON):
                column = [None if v is None else orjson.dumps(v).decode() for v in column]
        else:
            process = col.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                column = [process(v) for v in column]
        values.append(column)
    records = list(zip(*values, strict=True))
    connection = await session.connection()
    if postgres:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.copy_records_to_table(table.name, records=records, columns=names)
        return
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    await connection.exec_driver_sql(sql, records)  # type: ignore[arg-type]


def _column_values(col: Any, rows: list[dict[str, Any]]) -> list[Any]:
    """The column's value in each row; a missing one is the column's Python default."""
    name, default = col.name, col.default
    if not isinstance(default, ColumnDefault):
        return [row.get(name) for row in rows]
    if not default.is_callable:
        return [row.get(name, default.arg) for row in rows]
    make = default.arg
    return [row[name] if name in row else make(None) for row in rows]


def grant_unit_ids(actor: Actor, permission: str) -> list[str]:
    return list(dict.fromkeys(g.unit_id for g in actor.grants_for(permission)))
