"""What follows a unit when it moves (`orgs.service.move_unit`): every copy of a unit's path
that a domain keeps on its rows (the scope filter and the summary tables read those copies,
never the tree), rewritten in the move's transaction, and each domain's own follow-up for
what a path rewrite cannot carry (summary cells kept per ancestor, review chains).

Both lists are explicit and assembled here, in one place: `path_columns()` and
`move_followers()`. Issue #14 moves each entry into the owning domain's manifest. A test
checks that every mapped column named like "*path" is either registered or listed in
`NOT_UNIT_PATHS` with the reason, so a new domain cannot forget its copy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute


@dataclass(frozen=True)
class PathColumn:
    """A column holding a copy of a unit's materialised path; `unit_id` names the column of
    the unit whose path it is, where the row keeps it (then the copy must equal that unit's
    path in the tree at all times)."""

    column: QueryableAttribute[Any]
    unit_id: QueryableAttribute[Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.column.class_.__tablename__}.{self.column.key}"


@dataclass(frozen=True)
class UnitMoved:
    """A unit with its subtree moved: every path starting with `old_path` now starts with
    `new_path` (both end with the unit's own id and "/")."""

    unit_id: str
    old_path: str
    new_path: str

    @property
    def old_ancestors(self) -> list[str]:
        return [u for u in self.old_path.split("/") if u][:-1]

    @property
    def new_ancestors(self) -> list[str]:
        return [u for u in self.new_path.split("/") if u][:-1]

    @property
    def left(self) -> list[str]:
        """Ancestors the subtree no longer has (root first)."""
        kept = set(self.new_ancestors)
        return [u for u in self.old_ancestors if u not in kept]

    @property
    def joined(self) -> list[str]:
        """Ancestors the subtree has gained (root first)."""
        had = set(self.old_ancestors)
        return [u for u in self.new_ancestors if u not in had]

    def old_of(self, path: str) -> str:
        """The path a (rewritten) path under the new place had before the move."""
        return self.old_path + path[len(self.new_path) :] if path.startswith(self.new_path) else path


MoveFollower = Callable[[AsyncSession, UnitMoved], Awaitable[None]]

# Columns named like a path that are not a copy of a unit's path.
NOT_UNIT_PATHS = {
    "org_units.path": "the tree itself (rewritten by move_unit)",
    "returnees.resolved_path": "names of the divisions the destination resolved to, shown as text",
}


def path_columns() -> list[PathColumn]:
    """Every copy of a unit path kept outside the tree."""
    from zhengding.returnees.models import Anomaly, Returnee, ReturneeStat
    from zhengding.supervision.models import SupervisionItem, SupervisionOwner, SupervisionUnitDay
    from zhengding.verification.models import TaskTransfer, VerificationBatch, VerificationTask

    return [
        PathColumn(VerificationBatch.unit_path, VerificationBatch.unit_id),
        PathColumn(VerificationTask.owner_path, VerificationTask.owner_unit_id),
        PathColumn(VerificationTask.clue_unit_path, VerificationTask.clue_unit_id),
        PathColumn(TaskTransfer.from_path, TaskTransfer.from_unit_id),
        PathColumn(TaskTransfer.to_path, TaskTransfer.to_unit_id),
        PathColumn(Returnee.unit_path, Returnee.unit_id),
        PathColumn(Anomaly.unit_path),  # the returnee's holding unit when reported
        PathColumn(ReturneeStat.unit_path, ReturneeStat.unit_id),
        PathColumn(SupervisionItem.unit_path, SupervisionItem.unit_id),
        PathColumn(SupervisionOwner.stat_unit_path, SupervisionOwner.stat_unit_id),
        PathColumn(SupervisionUnitDay.unit_path, SupervisionUnitDay.unit_id),
    ]


def move_followers() -> list[MoveFollower]:
    """Each domain's follow-up, called after the paths were rewritten, in this order.

    Returnee and supervision summaries need none: their rows are keyed by the holding unit and
    summed by path prefix, so the rewritten `unit_path` carries them."""
    import zhengding.verification.service.moves as verification_moves

    return [verification_moves.follow_unit_move]


def under(column: Any, prefix: str) -> Any:
    """`column` starts with `prefix`: an exact comparison of the leading characters, right under
    any collation and with no LIKE wildcards to escape."""
    return func.substr(column, 1, len(prefix)) == prefix


async def rewrite_paths(session: AsyncSession, moved: UnitMoved) -> dict[str, int]:
    """One set-based UPDATE per registered column; the rows changed per column."""
    changed: dict[str, int] = {}
    for entry in path_columns():
        col = entry.column
        stmt = (
            update(col.class_)
            .where(under(col, moved.old_path))
            .values({col: literal(moved.new_path) + func.substr(col, len(moved.old_path) + 1)})
            .execution_options(synchronize_session=False)
        )
        result: Any = await session.execute(stmt)
        changed[entry.name] = result.rowcount
    return changed
