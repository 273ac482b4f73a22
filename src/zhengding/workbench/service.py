"""The workbench (工作台): app tiles and to-do counts for the user's units and roles.

Domains register their apps and to-do counters here at import time; a tile is shown only to
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


APPS: list[App] = [
    App("directory", "通讯录", "contacts", "/directory", "directory.read"),
    App("activation", "激活统计", "chart", "/activation", "activation.stats"),
    App("accounts", "账号管理", "user", "/accounts", "accounts.read"),
    App("audit", "审计日志", "shield", "/audit", "audit.read"),
]
TODOS: list[Todo] = []


def register_app(app: App) -> None:
    APPS.append(app)


def register_todo(todo: Todo) -> None:
    TODOS.append(todo)


async def _pending_accounts(session: AsyncSession, actor: Actor) -> int:
    stmt = org_repo.people_in_scope(actor, "activation.stats").where(User.status == UserStatus.PENDING)
    return (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()


register_todo(Todo("pending_activation", "待激活账号", "/activation", "activation.stats", _pending_accounts))


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
