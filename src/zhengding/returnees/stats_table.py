"""Keeping `returnee_stats` current inside the write transaction (one upsert per change); each
change is announced live to the commands above the holding unit (see `oversight`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core.ids import new_id
from zhengding.returnees import oversight
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Returnee, ReturneeStat

COUNTERS = (
    "arrivals",
    "routing",
    "acknowledged",
    "enrolled",
    "released",
    "anomalies",
    "open_anomalies",
    "overdue",
)


def contributions(r: Returnee) -> dict[str, int]:
    """What one returnee adds to its holding unit's counters (moved as a whole on reassignment)."""
    return {
        "arrivals": 1,
        "routing": int(r.status == ReturneeStatus.ROUTING),
        "acknowledged": int(r.acknowledged_at is not None),
        "enrolled": int(r.enrolled_at is not None),
        "released": int(r.released_at is not None),
        "anomalies": r.anomaly_count or 0,
        "open_anomalies": r.open_anomalies or 0,
        "overdue": int(is_overdue(r)),
    }


def is_overdue(r: Returnee) -> bool:
    return r.ack_overdue_at is not None or r.checkin_overdue_at is not None


_UPSERT: dict[str, Any] = {}


def _upsert(dialect_name: str) -> Any:
    # One constant statement per dialect: SQLAlchemy compiles it once; values go as parameters.
    stmt = _UPSERT.get(dialect_name)
    if stmt is None:
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        ins = dialect.insert(ReturneeStat)
        table = ReturneeStat.__table__
        stmt = ins.on_conflict_do_update(
            index_elements=["unit_id", "day", "port_of_entry", "origin_province"],
            set_={**{c: table.c[c] + ins.excluded[c] for c in COUNTERS}, "unit_path": ins.excluded.unit_path},
        )
        _UPSERT[dialect_name] = stmt
    return stmt


async def bump(session: AsyncSession, r: Returnee, deltas: dict[str, int]) -> None:
    if not any(deltas.values()):
        return
    values: dict[str, Any] = {
        "id": new_id(),
        "unit_id": r.unit_id,
        "unit_path": r.unit_path,
        "day": r.day,
        "port_of_entry": r.port_of_entry,
        "origin_province": r.origin_province,
        **{c: deltas.get(c, 0) for c in COUNTERS},
    }
    await (await session.connection()).execute(_upsert(session.bind.dialect.name), values)  # type: ignore[union-attr]
    await oversight.note_changes(session, [change_of(r, deltas)])


def change_of(r: Returnee, deltas: dict[str, int]) -> oversight.Change:
    return oversight.Change(
        unit_id=r.unit_id,
        unit_path=r.unit_path,
        is_queue=r.status == ReturneeStatus.ROUTING,
        day=r.day,
        deltas={c: v for c, v in deltas.items() if v},
        returnee_id=r.id,
    )


async def move(session: AsyncSession, r: Returnee, new_unit_id: str, new_unit_path: str) -> None:
    """Move the returnee's whole contribution from its current unit to another (call before
    changing r.unit_id; sets it)."""
    c = contributions(r)
    await bump(session, r, {k: -v for k, v in c.items()})
    r.unit_id, r.unit_path = new_unit_id, new_unit_path
    await bump(session, r, c)


def add_arrivals(returnees: list[Returnee]) -> list[dict[str, Any]]:
    """Upsert rows (for `upsert`) adding new returnees' contributions, one per counter key."""
    sums: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in returnees:
        key = (r.unit_id, r.day, r.port_of_entry, r.origin_province)
        row = sums.get(key)
        if row is None:
            row = sums[key] = {
                "id": new_id(),
                "unit_id": r.unit_id,
                "unit_path": r.unit_path,
                "day": r.day,
                "port_of_entry": r.port_of_entry,
                "origin_province": r.origin_province,
                **{c: 0 for c in COUNTERS},
            }
        for k, v in contributions(r).items():
            row[k] += v
    return list(sums.values())


async def upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Several counter rows in one executemany (keys must be distinct: see `add_arrivals`)."""
    if rows:
        await (await session.connection()).execute(_upsert(session.bind.dialect.name), rows)  # type: ignore[union-attr]
        await oversight.note_changes(
            session,
            [
                oversight.Change(
                    unit_id=row["unit_id"],
                    unit_path=row["unit_path"],
                    is_queue=row["routing"] > 0,
                    day=row["day"],
                    deltas={c: row[c] for c in COUNTERS if row[c]},
                )
                for row in rows
            ],
        )
