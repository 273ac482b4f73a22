"""Transactional outbox: whatever must not be lost is a row written with the business change.

Use-cases: `enqueue` (inside the caller's transaction), `claim` a batch, `process` one row,
`run_once` (one claim-and-process round, what tests call), `run_worker` (the loop, inside the
server or in `zhengding worker` processes), `retry_dead` (an administrator's second chance).

Delivery contract:
- A row is claimed with a lease (status "running", `locked_by`, `locked_until`) in a short
  transaction; on PostgreSQL with FOR UPDATE SKIP LOCKED so that workers never wait on each
  other. `attempts` is counted at claim time, so a worker killed mid-row still uses up one
  attempt and a poison row cannot crash workers forever.
- The handler runs in its own transaction, which also marks the row done, guarded by the
  lease (`locked_by = me AND status = 'running'`): database effects of a handler (an inbox
  entry) happen exactly once. An external effect (an SMS request) made before a crash is
  repeated once by the next attempt: at most one duplicate per crash.
- A failed handler is retried with exponential backoff; after `MAX_ATTEMPTS` the row is
  dead-lettered ("dead") and listed for administrators.
- A row whose lease expired (its worker died) is claimable again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import JSON, Index, Integer, String, Text, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.config import get_settings
from zhengding.core.clock import now
from zhengding.core.db import Database, get_db
from zhengding.core.ids import new_id
from zhengding.core.models import Base, UTCDateTime, created_at_column, id_column

log = logging.getLogger("zhengding.outbox")

MAX_ATTEMPTS = 8
PENDING, RUNNING, DONE, DEAD = "pending", "running", "done", "dead"


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_available_at", "status", "available_at"),)

    id: Mapped[str] = id_column()
    handler: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=now)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set for rows that must exist once only (a scheduled job's slot): unique across nodes.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = created_at_column()
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- handlers --------------------------------------------------------------------------------

Handler = Callable[..., Awaitable[None]]
Prepare = Callable[[dict[str, Any]], Awaitable[Any]]
_handlers: dict[str, tuple[Handler, Prepare | None]] = {}


def handler(name: str, *, prepare: Prepare | None = None) -> Callable[[Handler], Handler]:
    """Register `async fn(session, payload)` for outbox rows named `name` (at import time).

    With `prepare`, the external call (an SMS request) runs first, outside any transaction
    (no lock is held during network I/O; on SQLite that would stall every writer), and the
    handler is called as `fn(session, payload, prepared)` to record its outcome.
    """

    def register(fn: Handler) -> Handler:
        _handlers[name] = (fn, prepare)
        return fn

    return register


def registered_handlers() -> dict[str, tuple[Handler, Prepare | None]]:
    return dict(_handlers)


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help: the row is dead-lettered at once."""


# --- enqueue ---------------------------------------------------------------------------------


def enqueue(
    session: AsyncSession,
    handler_name: str,
    payload: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
    delay: timedelta | None = None,
) -> OutboxRow:
    """Add a row to the caller's transaction: it exists if and only if the transaction commits."""
    when = at or now()
    if delay is not None:
        when = when + delay
    row = OutboxRow(
        id=new_id(),
        handler=handler_name,
        payload=payload or {},
        status=PENDING,
        attempts=0,
        available_at=when,
        created_at=now(),
    )
    session.add(row)
    return row


def enqueue_many(
    session: AsyncSession, handler_name: str, payloads: list[dict[str, Any]], *, at: datetime | None = None
) -> None:
    when = at or now()
    created = now()
    session.add_all(
        [
            OutboxRow(
                id=new_id(),
                handler=handler_name,
                payload=p,
                status=PENDING,
                attempts=0,
                available_at=when,
                created_at=created,
            )
            for p in payloads
        ]
    )


# --- claim / process -------------------------------------------------------------------------


@dataclass
class WorkerConfig:
    worker_id: str
    batch: int = 50
    lease: timedelta = timedelta(seconds=60)
    poll_seconds: float = 1.0
    backoff_base: float = 5.0  # seconds; attempt n waits base * 2**(n-1), capped, with jitter
    backoff_cap: float = 3600.0

    @classmethod
    def from_settings(cls, worker_id: str | None = None) -> WorkerConfig:
        settings = get_settings()
        return cls(
            worker_id=worker_id or default_worker_id(),
            batch=settings.outbox_batch,
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            poll_seconds=settings.outbox_poll_seconds,
            backoff_base=settings.outbox_backoff_seconds,
        )


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"


def backoff(attempts: int, config: WorkerConfig) -> timedelta:
    seconds = min(config.backoff_cap, config.backoff_base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


async def claim(db: Database, config: WorkerConfig) -> list[tuple[str, str, dict[str, Any], int]]:
    """Lease up to `config.batch` due rows; returns (id, handler, payload, attempts)."""
    async with db.unit_of_work() as session:
        at = now()
        due = or_(
            (OutboxRow.status == PENDING) & (OutboxRow.available_at <= at),
            (OutboxRow.status == RUNNING) & (OutboxRow.locked_until < at),
        )
        stmt = (
            select(OutboxRow.id, OutboxRow.handler, OutboxRow.payload, OutboxRow.attempts)
            .where(due)
            .order_by(OutboxRow.available_at)
            .limit(config.batch)
            .with_for_update(skip_locked=True)
        )
        rows = (await session.execute(stmt)).all()
        if not rows:
            return []
        exhausted = [r.id for r in rows if r.attempts >= MAX_ATTEMPTS]
        live = [r for r in rows if r.attempts < MAX_ATTEMPTS]
        if exhausted:
            # Their last attempt died with its worker: dead-letter instead of running a 9th time.
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(exhausted))
                .values(
                    status=DEAD,
                    locked_by=None,
                    locked_until=None,
                    last_error="worker lost during the last attempt",
                )
            )
        if live:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_([r.id for r in live]))
                .values(
                    status=RUNNING,
                    locked_by=config.worker_id,
                    locked_until=at + config.lease,
                    attempts=OutboxRow.attempts + 1,
                )
            )
        return [(r.id, r.handler, r.payload, r.attempts + 1) for r in live]


class LeaseLost(Exception):
    pass


async def _renew_lease(db: Database, config: WorkerConfig, row_id: str) -> bool:
    async with db.unit_of_work() as session:
        result = await session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == row_id, OutboxRow.locked_by == config.worker_id, OutboxRow.status == RUNNING
            )
            .values(locked_until=now() + config.lease)
        )
        return cast(CursorResult[Any], result).rowcount == 1


async def process(
    db: Database, config: WorkerConfig, row_id: str, name: str, payload: dict[str, Any], attempts: int
) -> str:
    """Run one claimed row; returns the row's new status."""
    registered = _handlers.get(name)
    try:
        if registered is None:
            raise PermanentFailure(f"no handler registered for {name!r}")
        fn, prepare = registered
        args: tuple[Any, ...] = ()
        if prepare is not None:
            # An external call cannot be rolled back: renew the lease first, so that no other
            # worker can take the row while this one calls out (the lease outlasts the call's
            # timeout), and give up if another worker already took it.
            if not await _renew_lease(db, config, row_id):
                raise LeaseLost(row_id)
            args = (await prepare(payload),)
        async with db.unit_of_work() as session:
            # Mark done first: on PostgreSQL this locks the row for the whole handler, and the
            # lease guard makes a worker that lost its lease roll back instead of doubling effects.
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == row_id,
                    OutboxRow.locked_by == config.worker_id,
                    OutboxRow.status == RUNNING,
                )
                .values(status=DONE, done_at=now(), locked_by=None, locked_until=None, last_error=None)
            )
            if cast(CursorResult[Any], result).rowcount != 1:
                raise LeaseLost(row_id)
            await fn(session, payload, *args)
        return DONE
    except LeaseLost:
        log.warning("outbox row %s: lease lost, left to its new owner", row_id)
        return RUNNING
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        permanent = isinstance(exc, PermanentFailure)
        dead = permanent or attempts >= MAX_ATTEMPTS
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000]
        log.warning("outbox row %s (%s) attempt %d failed: %s", row_id, name, attempts, error)
        async with db.unit_of_work() as session:
            values: dict[str, Any] = {"locked_by": None, "locked_until": None, "last_error": error}
            if dead:
                values["status"] = DEAD
            else:
                values["status"] = PENDING
                values["available_at"] = now() + backoff(attempts, config)
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.locked_by == config.worker_id)
                .values(**values)
            )
        return DEAD if dead else PENDING


async def run_once(db: Database | None = None, config: WorkerConfig | None = None) -> int:
    """Enqueue due scheduled jobs, then claim and process one batch; returns rows processed."""
    from zhengding.core import jobs  # jobs enqueue through this module

    db = db or get_db()
    config = config or WorkerConfig.from_settings()
    await jobs.enqueue_due(db)
    claimed = await claim(db, config)
    for row_id, name, payload, attempts in claimed:
        await process(db, config, row_id, name, payload, attempts)
    return len(claimed)


async def drain(db: Database | None = None, config: WorkerConfig | None = None, *, limit: int = 100) -> int:
    """Run rounds until nothing is due (tests); returns rows processed."""
    total = 0
    for _ in range(limit):
        n = await run_once(db, config)
        total += n
        if n == 0:
            break
    return total


async def run_worker(
    stop: asyncio.Event, db: Database | None = None, config: WorkerConfig | None = None
) -> None:
    config = config or WorkerConfig.from_settings()
    log.info("outbox worker %s started", config.worker_id)
    while not stop.is_set():
        try:
            n = await run_once(db or get_db(), config)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbox worker round failed")
            n = 0
        if n < config.batch:
            try:
                await asyncio.wait_for(stop.wait(), timeout=config.poll_seconds)
            except TimeoutError:
                pass
    log.info("outbox worker %s stopped", config.worker_id)


@asynccontextmanager
async def worker_service(settings: Any) -> AsyncIterator[None]:
    """App lifespan service: the worker loop inside the server unless ZD_RUN_WORKER=0. The app
    installed the domain manifests (handlers and schedules) before its lifespan starts."""
    if not getattr(settings, "run_worker", True):
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(stop), name="outbox-worker")
    try:
        yield
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()


# --- administration ----------------------------------------------------------------------------


async def list_rows(
    session: AsyncSession, *, status: str = DEAD, limit: int = 100, before: str | None = None
) -> list[OutboxRow]:
    stmt = select(OutboxRow).where(OutboxRow.status == status)
    if before:
        stmt = stmt.where(OutboxRow.id < before)
    return list((await session.scalars(stmt.order_by(OutboxRow.id.desc()).limit(limit))).all())


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    from sqlalchemy import func

    rows = (await session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))).all()
    return {status: n for status, n in rows}


async def retry_dead(session: AsyncSession, row_id: str) -> OutboxRow | None:
    """Give a dead-lettered row a fresh set of attempts."""
    row = await session.get(OutboxRow, row_id)
    if row is None or row.status != DEAD:
        return None
    row.status, row.attempts, row.available_at = PENDING, 0, now()
    row.locked_by = row.locked_until = None
    return row
