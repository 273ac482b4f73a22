"""Every date-time column of every domain stores the instant it was given: an aware time with any
offset goes in, the same instant comes back as aware UTC, on SQLite and PostgreSQL alike; and a
comparison in SQL (`deadline < :now`) orders by instant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, TypeDecorator, func, inspect, select, text

from zhengding.core.models import UTCDateTime
from zhengding.models import metadata

DATETIME_COLUMNS = [
    (table.name, column)
    for table in metadata.sorted_tables
    for column in table.columns
    if isinstance(column.type, DateTime)
    or (isinstance(column.type, TypeDecorator) and isinstance(column.type.impl_instance, DateTime))
]

OFFSETS = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
AWARE = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59, 999999), timezones=OFFSETS
)

_scratch_meta = MetaData()
SCRATCH = Table(
    "zd_datetime_probe",
    _scratch_meta,
    Column("id", Integer, primary_key=True),
    *(Column(f"c{i}", column.type) for i, (_, column) in enumerate(DATETIME_COLUMNS)),
)
_ids = iter(range(1, 10**9))


def test_every_datetime_column_is_utc_datetime():
    assert len(DATETIME_COLUMNS) > 50  # every domain's tables are in the metadata
    plain = [
        f"{table}.{column.name}"
        for table, column in DATETIME_COLUMNS
        if not isinstance(column.type, UTCDateTime)
    ]
    assert plain == []


async def test_migrated_datetime_columns_are_timezone_aware(db):
    def columns(connection):  # type: ignore[no-untyped-def]
        inspector = inspect(connection)
        return {
            (t, c["name"]): c["type"] for t in inspector.get_table_names() for c in inspector.get_columns(t)
        }

    async with db.write_engine.connect() as conn:
        reflected = await conn.run_sync(columns)
    for table, column in DATETIME_COLUMNS:
        kind = reflected[(table, column.name)]
        assert isinstance(kind, DateTime), f"{table}.{column.name}: {kind!r}"
        if not db.sqlite:
            assert kind.timezone, f"{table}.{column.name} is timestamp without time zone"


@pytest.fixture(scope="module")
async def scratch(db) -> AsyncIterator[Table]:
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_scratch_meta.create_all)
    yield SCRATCH
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_scratch_meta.drop_all)


@settings(max_examples=60, deadline=None)
@given(written=st.lists(AWARE, min_size=len(DATETIME_COLUMNS), max_size=len(DATETIME_COLUMNS)), probe=AWARE)
async def test_aware_times_round_trip_through_every_column(db, scratch, written, probe):
    row_id = next(_ids)
    names = [f"c{i}" for i in range(len(DATETIME_COLUMNS))]
    async with db.write_engine.begin() as conn:
        await conn.execute(scratch.insert().values(id=row_id, **dict(zip(names, written, strict=True))))
        read = (
            await conn.execute(select(*(scratch.c[n] for n in names)).where(scratch.c.id == row_id))
        ).one()
        for (table, column), name, sent, got in zip(DATETIME_COLUMNS, names, written, read, strict=True):
            where = f"{table}.{column.name}"
            assert got == sent, f"{where}: wrote {sent.isoformat()}, read {got.isoformat()}"
            assert got.tzinfo is UTC, f"{where}: read {got!r}"
            # in SQL, a bound time compares by instant with the stored one (overdue checks)
            earlier = (
                await conn.execute(
                    select(func.count())
                    .select_from(scratch)
                    .where(scratch.c.id == row_id, scratch.c[name] < probe)
                )
            ).scalar_one()
            assert earlier == (1 if sent < probe else 0), f"{where}: {sent.isoformat()} < {probe.isoformat()}"
        await conn.execute(scratch.delete().where(scratch.c.id == row_id))


async def test_the_stored_value_is_the_utc_wall_time(db, scratch):
    """What raw SQL sees (text comparisons on SQLite, days cut in SQL) is the UTC time."""
    arrival = datetime(2026, 1, 10, 0, 26, tzinfo=timezone(timedelta(hours=8)))
    row_id = next(_ids)
    raw = (
        "SELECT c0 FROM zd_datetime_probe WHERE id = :id"
        if db.sqlite
        else "SELECT to_char(c0 AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM zd_datetime_probe WHERE id = :id"
    )
    async with db.write_engine.begin() as conn:
        await conn.execute(scratch.insert().values(id=row_id, c0=arrival))
        stored = (await conn.execute(text(raw), {"id": row_id})).scalar_one()
        await conn.execute(scratch.delete().where(scratch.c.id == row_id))
    assert stored == "2026-01-09 16:26:00.000000"


async def test_bulk_insert_straight_to_the_driver_keeps_the_instant(db, scratch):
    """The verification import writes rows past the ORM (COPY on PostgreSQL, one driver-level
    executemany on SQLite): the same instants come back."""
    from zhengding.verification.service.common import bulk_insert

    sent = [
        datetime(2026, 1, 10, 0, 26, tzinfo=timezone(timedelta(hours=8))),
        datetime(2026, 1, 9, 23, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    ids = [next(_ids) for _ in sent]
    async with db.unit_of_work() as session:
        await bulk_insert(session, scratch, [{"id": i, "c0": at} for i, at in zip(ids, sent, strict=True)])
    async with db.unit_of_work() as session:
        got = (
            await session.execute(select(scratch.c.c0).where(scratch.c.id.in_(ids)).order_by(scratch.c.id))
        ).scalars()
        assert [(at, at.tzinfo) for at in got] == [(at, UTC) for at in sent]
        await session.execute(scratch.delete().where(scratch.c.id.in_(ids)))
