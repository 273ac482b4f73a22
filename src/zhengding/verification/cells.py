"""Statistics summary cells: counters per (unit, batch, import day), kept for every unit on the
path of the holding unit, so a unit's row counts its whole subtree and a dashboard reads a
handful of rows. Every write path builds a `Deltas` and applies it in its own transaction
(one executemany upsert, keys sorted so that concurrent writers lock cells in one order)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.verification.models import StatCell

COUNTERS = (
    "total",
    "pending",
    "dispatched",
    "in_progress",
    "replied",
    "closed",
    "overdue",
    "transferring",
    "transfer_in",
    "transfer_out",
    "transfer_rejected",
    "transfer_refused",
    "reply_count",
    "reply_seconds",
    *(f"r{i}" for i in range(10)),
)
# Upper bounds (seconds) of the time-to-reply buckets r0..r9; the last is open.
REPLY_BUCKETS = (3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 604800, None)


def path_units(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def reply_bucket(seconds: float) -> str:
    for i, bound in enumerate(REPLY_BUCKETS):
        if bound is None or seconds < bound:
            return f"r{i}"
    return "r9"


def median_seconds(buckets: list[int]) -> float | None:
    """Median time to reply estimated from the bucket counts (linear within the bucket)."""
    n = sum(buckets)
    if not n:
        return None
    half = n / 2
    seen = 0
    lower = 0
    for count, upper in zip(buckets, REPLY_BUCKETS, strict=True):
        if count and seen + count >= half:
            if upper is None:
                return float(lower)
            return lower + (upper - lower) * (half - seen) / count
        seen += count
        lower = upper or lower
    return float(lower)


class Deltas:
    def __init__(self) -> None:
        self._cells: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, units: list[str], batch_id: str, day: str, column: str, n: int = 1) -> None:
        for unit in units:
            self._cells[(unit, batch_id, day)][column] += n

    def add_path(self, path: str, batch_id: str, day: str, column: str, n: int = 1) -> None:
        self.add(path_units(path), batch_id, day, column, n)

    def move(
        self,
        old_path: str,
        old_status: str,
        new_path: str,
        new_status: str,
        batch_id: str,
        day: str,
        *,
        overdue: bool = False,
        transferring: bool = False,
    ) -> None:
        """A task leaves (old holder, old status) for (new holder, new status)."""
        if old_path == new_path and old_status == new_status:
            return
        for col, flag in (
            ("total", True),
            (old_status, True),
            ("overdue", overdue),
            ("transferring", transferring),
        ):
            if flag:
                self.add_path(old_path, batch_id, day, col, -1)
        for col, flag in (
            ("total", True),
            (new_status, True),
            ("overdue", overdue),
            ("transferring", transferring),
        ):
            if flag:
                self.add_path(new_path, batch_id, day, col, 1)

    def __bool__(self) -> bool:
        return any(any(v for v in cols.values()) for cols in self._cells.values())

    def take_rows(self) -> list[dict[str, Any]]:
        """The non-zero cells as rows (keys sorted), and forget them."""
        rows: list[dict[str, Any]] = []
        for (unit, batch, day), cols in sorted(self._cells.items()):
            if not any(cols.values()):
                continue
            rows.append(
                {"unit_id": unit, "batch_id": batch, "day": day, **{c: cols.get(c, 0) for c in COUNTERS}}
            )
        self._cells.clear()
        return rows

    async def apply(self, session: AsyncSession) -> None:
        rows = self.take_rows()
        if not rows:
            return
        table = cast(Table, StatCell.__table__)
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["unit_id", "batch_id", "day"],
            set_={c: table.c[c] + stmt.excluded[c] for c in COUNTERS},
        )
        for start in range(0, len(rows), 1000):
            await session.execute(stmt, rows[start : start + 1000])
