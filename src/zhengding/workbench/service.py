"""The workbench (工作台): app tiles and to-do counts for the user's units and roles.

Domains declare their apps and to-do counters in their manifests, installed here in the order
of zhengding/domains.py; a tile is shown only to
holders of its permission, and a to-do only when its count is above zero."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import User
from zhengding.authz.actor import Actor
from zhengding.orgs import repository as org_repo


@dataclass(frozen=True)
class App:
    key: str
    name: str
    icon: str
    url: str
    permission: str


Counter = Callable[[AsyncSession, Actor], Awaitable[int]]


@dataclass(frozen=True)
class Todo:
    key: str
    label: str
    url: str
    permission: str
    count: Counter


# Filled from the domain manifests (zhengding.domains.install), in manifest order.
APPS: list[App] = []
TODOS: list[Todo] = []


def register_app(app: App) -> None:
    APPS.append(app)


def register_todo(todo: Todo) -> None:
    TODOS.append(todo)


async def pending_accounts(session: AsyncSession, actor: Actor) -> int:
    stmt = org_repo.people_in_scope(actor, "activation.stats").where(User.status == UserStatus.PENDING)
    return (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()


async def workbench(session: AsyncSession, actor: Actor) -> dict:
    todos = []
    for todo in TODOS:
        if actor.can(todo.permission):
            count = await todo.count(session, actor)
            if count:
                todos.append({"key": todo.key, "label": todo.label, "count": count, "url": todo.url})
    apps = [
        {"key": a.key, "name": a.name, "icon": a.icon, "url": a.url} for a in APPS if actor.can(a.permission)
    ]
    return {"todos": todos, "apps": apps}
