"""Engines, sessions and the unit of work.

One transaction per request or job: `unit_of_work()` commits on success and rolls back on
error; services and repositories never commit. Before commit, registered hooks run inside the
transaction (the audit chain); after commit, events go to the sinks.

SQLite: writes go through one connection with BEGIN IMMEDIATE, so concurrent writers queue in
asyncio instead of failing with SQLITE_BUSY on a read-to-write upgrade; reads use a pool of
deferred connections (WAL lets them run beside the writer). A read-only session may still
buffer writes that must accompany a read (the audit of a personal-data read, a session's
last-seen time): they are applied in a short write transaction before the response is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import AsyncAdaptedQueuePool

from zhengding.core import events as events_mod

Hook = Callable[[AsyncSession], Awaitable[None]]
_before_commit_hooks: list[Hook] = []


def add_before_commit_hook(hook: Hook) -> None:
    if hook not in _before_commit_hooks:
        _before_commit_hooks.append(hook)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_engine(url: str, *, writer: bool) -> AsyncEngine:
    engine = create_async_engine(
        url,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1 if writer else 4,
        max_overflow=0,
        pool_timeout=120,
        connect_args={"timeout": 30},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class Database:
    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        if self.sqlite:
            self.write_engine = _sqlite_engine(url, writer=True)
            self.read_engine = _sqlite_engine(url, writer=False)
        else:
            self.write_engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True
            )
            self.read_engine = self.write_engine
        self._write = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=True)
        self._read = async_sessionmaker(self.read_engine, expire_on_commit=False, autoflush=True)

    @property
    def engine(self) -> AsyncEngine:
        return self.write_engine

    def new_session(self, *, readonly: bool = False) -> AsyncSession:
        session = (self._read if readonly else self._write)()
        session.info["readonly"] = readonly
        return session

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self, *, readonly: bool = False) -> AsyncIterator[AsyncSession]:
        session = self.new_session(readonly=readonly)
        try:
            yield session
            await self.commit(session)
        except BaseException:
            await session.rollback()
            session.info.pop("events", None)
            raise
        finally:
            await session.close()

    async def commit(self, session: AsyncSession) -> None:
        if session.info.get("readonly"):
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only session has pending changes")
            await session.rollback()
            deferred = session.info.pop("deferred", [])
            if deferred or _has_buffered(session):
                async with self.unit_of_work() as writer:
                    _move_buffers(session, writer)
                    for apply in deferred:
                        await apply(writer)
        else:
            for hook in _before_commit_hooks:
                await hook(session)
            await session.commit()
        events = session.info.pop("events", [])
        await events_mod.deliver(events)


# Buffers that hooks read from session.info (e.g. "audit"); moved to the writer of a read-only request.
BUFFER_KEYS: list[str] = []


def _has_buffered(session: AsyncSession) -> bool:
    return any(session.info.get(key) for key in BUFFER_KEYS)


def _move_buffers(source: AsyncSession, target: AsyncSession) -> None:
    for key in BUFFER_KEYS:
        if source.info.get(key):
            target.info[key] = source.info.pop(key)
    if source.info.get("events"):
        target.info.setdefault("events", []).extend(source.info.pop("events"))


def defer_write(session: AsyncSession, apply: Hook) -> None:
    """Run `apply` in this transaction, or right after it when the session is read-only."""
    session.info.setdefault("deferred", []).append(apply)


async def run_deferred(session: AsyncSession) -> None:
    if session.info.get("readonly"):
        return
    for apply in session.info.pop("deferred", []):
        await apply(session)


add_before_commit_hook(run_deferred)


@event.listens_for(Session, "do_orm_execute")
def _refuse_writes_in_readonly(state: Any) -> None:
    # A GET runs on a read-only session whose work is rolled back: a write there would vanish
    # silently. Writes that must accompany a read go through defer_write().
    if state.session.info.get("readonly") and (state.is_insert or state.is_update or state.is_delete):
        raise RuntimeError("write statement in a read-only session: use defer_write()")


_db: Database | None = None


def init_db(url: str) -> Database:
    global _db
    _db = Database(url)
    return _db


def get_db() -> Database:
    if _db is None:
        raise RuntimeError("database not initialised")
    return _db


def set_db(db: Database | None) -> None:
    global _db
    _db = db
