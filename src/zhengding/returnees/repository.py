"""Every SELECT of the returnee domain; lists and loads go through the scope filter."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import RoleAssignment
from zhengding.authz.actor import Actor
from zhengding.authz.scope import restrict
from zhengding.orgs.enums import UnitKind
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.returnees.models import Anomaly, CheckIn, InboundSource, Returnee, ReturneeHistory


async def source_by_key(session: AsyncSession, key_id: str) -> InboundSource | None:
    return (
        await session.execute(select(InboundSource).where(InboundSource.key_id == key_id))
    ).scalar_one_or_none()


async def by_registration(
    session: AsyncSession, source_id: str, registration_ids: list[str]
) -> dict[str, Returnee]:
    rows = (
        (
            await session.execute(
                select(Returnee).where(
                    Returnee.source_id == source_id, Returnee.registration_id.in_(registration_ids)
                )
            )
        )
        .scalars()
        .all()
    )
    return {r.registration_id: r for r in rows}


async def members_under(session: AsyncSession, unit_path: str) -> list[str]:
    """Everyone in the unit and below (a village's staff and its grids' workers). A range on the
    indexed path rather than LIKE, which SQLite cannot serve from the index."""
    stmt = (
        select(Membership.user_id)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .where(OrgUnit.path >= unit_path, OrgUnit.path < unit_path + "\x7f")
        .distinct()
    )
    return list((await session.execute(stmt)).scalars())


async def members_of(session: AsyncSession, unit_ids: list[str]) -> list[str]:
    stmt = select(Membership.user_id).where(Membership.unit_id.in_(unit_ids)).distinct()
    return list((await session.execute(stmt)).scalars())


async def command_staff(session: AsyncSession, unit_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """(user id, role) of the members of those of these units that are commands, for each role
    they hold anchored at that unit (one query)."""
    stmt = (
        select(Membership.unit_id, Membership.user_id, RoleAssignment.role)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .join(
            RoleAssignment,
            and_(RoleAssignment.user_id == Membership.user_id, RoleAssignment.unit_id == Membership.unit_id),
        )
        .where(Membership.unit_id.in_(unit_ids), OrgUnit.kind == UnitKind.COMMAND)
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for unit_id, user_id, role in (await session.execute(stmt)).all():
        out.setdefault(unit_id, []).append((user_id, role))
    return out


def returnees_in_scope(actor: Actor, permission: str) -> Select:
    stmt = select(Returnee, OrgUnit.name).join(OrgUnit, OrgUnit.id == Returnee.unit_id)
    return restrict(stmt, actor, permission, path=Returnee.unit_path)


async def count_in_scope(
    session: AsyncSession, actor: Actor, permission: str, conditions: list[ColumnElement[bool]]
) -> int:
    stmt = restrict(select(func.count()).select_from(Returnee), actor, permission, path=Returnee.unit_path)
    return (await session.execute(stmt.where(*conditions))).scalar_one()


async def get(session: AsyncSession, returnee_id: str, *, for_update: bool = False) -> Returnee | None:
    stmt = select(Returnee).where(Returnee.id == returnee_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def history(session: AsyncSession, returnee_id: str) -> list[ReturneeHistory]:
    return list(
        (
            await session.execute(
                select(ReturneeHistory)
                .where(ReturneeHistory.returnee_id == returnee_id)
                .order_by(ReturneeHistory.at, ReturneeHistory.id)
            )
        ).scalars()
    )


async def check_ins(session: AsyncSession, returnee_id: str) -> list[CheckIn]:
    return list(
        (
            await session.execute(
                select(CheckIn).where(CheckIn.returnee_id == returnee_id).order_by(CheckIn.day.desc())
            )
        ).scalars()
    )


async def anomalies_of(session: AsyncSession, returnee_id: str) -> list[Anomaly]:
    return list(
        (
            await session.execute(
                select(Anomaly).where(Anomaly.returnee_id == returnee_id).order_by(Anomaly.reported_at.desc())
            )
        ).scalars()
    )


async def unit_names(session: AsyncSession, unit_ids: list[str]) -> dict[str, str]:
    ids = [u for u in dict.fromkeys(unit_ids) if u]
    if not ids:
        return {}
    return dict((await session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids)))).all())


def any_prefix(column, paths: list[str]):  # type: ignore[no-untyped-def]
    return or_(*[column.startswith(p, autoescape=False) for p in paths])
