"""Separation of duties (三权分立) over existing data: find the accounts whose roles break the
rule (rows from before it, or written around `grant_role`), report them when the server starts
and in `zhengding accounts check-duties`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import RoleAssignment, User
from zhengding.authz.roles import ADMIN_ROLES, duties_conflict, role_label
from zhengding.core.db import get_db
from zhengding.privacy.masking import mask_name

log = logging.getLogger("zhengding.accounts.duties")


@dataclass(frozen=True)
class DutiesViolation:
    user_id: str
    masked_name: str
    roles: tuple[str, ...]

    def describe(self) -> str:
        return f"账号 {self.user_id}（{self.masked_name}）同时担任：{'、'.join(role_label(r) for r in self.roles)}"


async def duties_violations(session: AsyncSession) -> list[DutiesViolation]:
    """Accounts holding an administrator role beside any other role, in user-id order."""
    admins = select(RoleAssignment.user_id).where(RoleAssignment.role.in_(sorted(ADMIN_ROLES)))
    rows = await session.execute(
        select(RoleAssignment.user_id, User.name, RoleAssignment.role)
        .distinct()
        .join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.user_id.in_(admins))
        .order_by(RoleAssignment.user_id, RoleAssignment.role)
    )
    held: dict[str, tuple[str, list[str]]] = {}
    for user_id, name, role in rows.all():
        held.setdefault(user_id, (name, []))[1].append(role)
    return [
        DutiesViolation(user_id, mask_name(name) or "", tuple(roles))
        for user_id, (name, roles) in held.items()
        if any(duties_conflict(a, b) for a, b in combinations(roles, 2))
    ]


@asynccontextmanager
async def duties_check_service(settings: Any) -> AsyncIterator[None]:
    """App lifespan service: warn, once at start-up, about accounts that break the rule."""
    try:
        async with get_db().unit_of_work(readonly=True) as session:
            found = await duties_violations(session)
    except DBAPIError as exc:  # a report must not keep the server from starting (e.g. not migrated yet)
        log.warning("三权分立检查未能执行：%s", exc.orig)
        found = []
    for violation in found:
        log.warning("三权分立检查：%s；请撤销多余的角色", violation.describe())
    if found:
        log.warning("三权分立检查：%d 个账号违反规定（zhengding accounts check-duties 可列出）", len(found))
    yield
