"""What follows a unit when it moves (`orgs.service.move_unit`): every copy of a unit's path
that a domain keeps on its rows (the scope filter and the summary tables read those copies,
never the tree), rewritten in the move's transaction, and each domain's own follow-up for
what a path rewrite cannot carry (summary cells kept per ancestor, review chains).

Each domain declares both in its manifest (`path_columns`, `move_followers`); installing the
manifests fills `path_columns()` and `move_followers()` here. A test
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


# Filled from the domain manifests (zhengding.domains.install): each domain's function listing
# its path columns, and its follow-ups, in manifest order.
_path_column_sources: list[Callable[[], list[PathColumn]]] = []
_move_followers: list[MoveFollower] = []


def register_path_columns(source: Callable[[], list[PathColumn]]) -> None:
    if source not in _path_column_sources:
        _path_column_sources.append(source)


def register_move_follower(follower: MoveFollower) -> None:
    if follower not in _move_followers:
        _move_followers.append(follower)


def path_columns() -> list[PathColumn]:
    """Every copy of a unit path kept outside the tree."""
    return [column for source in _path_column_sources for column in source()]


def move_followers() -> list[MoveFollower]:
    """Each domain's follow-up, called after the paths were rewritten, in this order.

    Returnee and supervision summaries need none: their rows are keyed by the holding unit and
    summed by path prefix, so the rewritten `unit_path` carries them."""
    return list(_move_followers)


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
