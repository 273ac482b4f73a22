"""The one scope filter (NetBox restrict()). Every list and access_* loader goes through here."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.authz.actor import Actor
from zhengding.authz.roles import DataScope
from zhengding.core.errors import NotFound

S = TypeVar("S", bound=Select[*tuple[Any, ...]])  # any row arity (SQLAlchemy 2.1 Select is variadic)


def scope_condition(
    actor: Actor,
    permission: str,
    *,
    path: Any = None,
    unit_id: Any = None,
    owner_id: Any = None,
) -> ColumnElement[bool] | None:
    """SQL condition for the rows the actor may see with `permission`; None means all rows.

    `path` is the row's materialised org path column (subtree match by prefix), `unit_id` its
    org unit column, `owner_id` the column naming the user it belongs to.
    """
    conditions: list[ColumnElement[bool]] = []
    for grant in actor.grants_for(permission):
        if grant.scope == DataScope.ALL:
            return None
        if grant.scope == DataScope.SUBTREE and path is not None:
            conditions.append(path.startswith(grant.unit_path, autoescape=False))
        elif grant.scope == DataScope.UNIT and path is not None:
            conditions.append(path == grant.unit_path)  # the unit itself: its own path
        elif grant.scope in (DataScope.UNIT, DataScope.SUBTREE) and unit_id is not None:
            conditions.append(unit_id == grant.unit_id)
        elif grant.scope == DataScope.SELF and owner_id is not None:
            conditions.append(owner_id == actor.user_id)
    if not conditions:
        return false()
    return or_(*conditions)


def restrict(stmt: S, actor: Actor, permission: str, **columns: Any) -> S:
    condition = scope_condition(actor, permission, **columns)
    return stmt if condition is None else stmt.where(condition)


def in_scope(
    actor: Actor,
    permission: str,
    *,
    path: str | None = None,
    unit_id: str | None = None,
    owner_id: str | None = None,
) -> bool:
    for grant in actor.grants_for(permission):
        if grant.scope == DataScope.ALL:
            return True
        if grant.scope == DataScope.SUBTREE and path is not None and path.startswith(grant.unit_path):
            return True
        if grant.scope == DataScope.UNIT and path is not None and path == grant.unit_path:
            return True
        if (
            grant.scope in (DataScope.UNIT, DataScope.SUBTREE)
            and unit_id is not None
            and unit_id == grant.unit_id
        ):
            return True
        if grant.scope == DataScope.SELF and owner_id is not None and owner_id == actor.user_id:
            return True
    return False


def ensure_in_scope(
    actor: Actor, permission: str, *, kind: str, target_id: str | None = None, **values: Any
) -> None:
    """404 outside the scope, answered as for an absent object of that kind (existence does not
    leak); the error knows the object exists, so the refusal is audited (security.scope.refused)."""
    if not in_scope(actor, permission, **values):
        raise NotFound(kind=kind, target_id=target_id, exists=True)


async def not_found(session: AsyncSession, model: Any, object_id: str, kind: str) -> NotFound:
    """The 404 of a scoped loader whose query found nothing: the same answer either way, but it
    records whether the row exists outside the actor's scope (one more lookup, on refusal only)."""
    found = (await session.execute(select(model.id).where(model.id == object_id).limit(1))).first()
    return NotFound(kind=kind, target_id=object_id, exists=found is not None)
