"""Read models of accounts: the signed-in user's profile (me) and account lists for administrators."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import AuthSession, User
from zhengding.accounts.schemas import AccountList, AccountRead, AccountUnit, Me, MeUnit, RoleRead
from zhengding.accounts.service import users as user_service
from zhengding.authz.actor import Actor
from zhengding.authz.roles import ROLES
from zhengding.orgs import repository as org_repo
from zhengding.orgs import service as org_service
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.orgs.service import unit_ids_in_path
from zhengding.privacy.masking import mask_id_number, mask_phone


async def me(session: AsyncSession, actor: Actor, user: User, auth_session: AuthSession) -> Me:
    memberships = await org_repo.memberships_of(session, [user.id])
    ancestor_ids = {uid for _, unit in memberships for uid in unit_ids_in_path(unit.path)}
    names = {u.id: u.name for u in await org_repo.units_by_ids(session, list(ancestor_ids))}
    units = [
        MeUnit(
            id=unit.id,
            name=unit.name,
            kind=unit.kind,
            position=m.position,
            path_names=[names.get(i, "") for i in unit_ids_in_path(unit.path)],
        )
        for m, unit in memberships
    ]
    roles = (await user_service.roles_of(session, [user.id])).get(user.id, [])
    return Me(
        id=user.id,
        name=user.name,
        username=user.username,
        phone_masked=mask_phone(user.phone) or "",
        phone_last4=user.phone_last4,
        units=units,
        roles=[_role_read(a, u) for a, u in roles],
        permissions=sorted(actor.permissions),
        is_admin=actor.is_admin,
        idle_timeout_seconds=auth_session.idle_seconds,
        totp_enabled=user.totp_enabled,
    )


def _role_read(assignment, unit) -> RoleRead:  # type: ignore[no-untyped-def]
    label = ROLES[assignment.role].label if assignment.role in ROLES else assignment.role
    return RoleRead(
        id=assignment.id, role=assignment.role, role_label=label, unit_id=unit.id, unit_name=unit.name
    )


async def account_reads(session: AsyncSession, users: Sequence[User]) -> list[AccountRead]:
    ids = [u.id for u in users]
    memberships = await org_repo.memberships_of(session, ids)
    roles = await user_service.roles_of(session, ids)
    units: dict[str, list[AccountUnit]] = {}
    for m, unit in memberships:
        units.setdefault(m.user_id, []).append(AccountUnit(id=unit.id, name=unit.name, position=m.position))
    return [
        AccountRead(
            id=u.id,
            name=u.name,
            username=u.username,
            phone_masked=mask_phone(u.phone) or "",
            id_number_masked=mask_id_number(u.id_number),
            status=u.status,
            units=units.get(u.id, []),
            roles=[_role_read(a, un) for a, un in roles.get(u.id, [])],
            activated_at=u.activated_at,
            created_at=u.created_at,
        )
        for u in users
    ]


async def list_accounts(
    session: AsyncSession,
    actor: Actor,
    *,
    unit_id: str | None,
    q: str | None,
    status: str | None,
    page: int,
    page_size: int,
) -> AccountList:
    stmt = org_repo.people_in_scope(actor, "accounts.read")
    if unit_id:
        unit = await org_service.access_unit(session, actor, unit_id, "accounts.read")
        stmt = stmt.where(
            User.id.in_(
                select(Membership.user_id)
                .join(OrgUnit, OrgUnit.id == Membership.unit_id)
                .where(OrgUnit.path.startswith(unit.path))
            )
        )
    if q:
        stmt = stmt.where(User.name.contains(q.strip(), autoescape=True))
    if status:
        stmt = stmt.where(User.status == status)
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        (
            await session.execute(
                stmt.order_by(User.created_at.desc(), User.id).offset((page - 1) * page_size).limit(page_size)
            )
        )
        .scalars()
        .all()
    )
    return AccountList(items=await account_reads(session, rows), total=total)
