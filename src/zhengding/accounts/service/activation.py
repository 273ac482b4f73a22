"""Activation use-cases for administrators: issue a unit's activation codes (fresh codes for
every pending account of the subtree; earlier unused codes stop working; the set is kept sealed),
download the latest issued set again (a read: it issues nothing) and activation statistics per
unit and its children's subtrees.

Statistics are set-based: one GROUP BY over all children, each counting the distinct accounts
holding a membership anywhere in that child's subtree (prefix match on the materialised path).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import cast

import orjson
from sqlalchemy import Table, case, distinct, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, undefer

from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import ActivationCode, ActivationCodeSet, User
from zhengding.accounts.service.users import code_hash, issue_codes
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope, restrict
from zhengding.config import get_settings
from zhengding.core.clock import local_text, now
from zhengding.core.errors import NotFound
from zhengding.core.ids import new_id
from zhengding.core.sheetwriter import SheetBook
from zhengding.orgs import service as org_service
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.privacy.masking import mask_phone

EXPORT = "activation.export"
STATS = "activation.stats"
CODE_COLUMNS = ["单位", "姓名", "手机号", "职务", "激活码", "有效期至", "状态"]


# --- issue and download ---------------------------------------------------------------------


async def pending_accounts(
    session: AsyncSession, actor: Actor, unit: OrgUnit
) -> list[tuple[str, str, str, str, str, str]]:
    """(user id, unit path, unit name, name, phone, position) of each pending account with a
    membership in the subtree, within the actor's scope; one row per account (its primary
    membership first)."""
    stmt = (
        select(User.id, OrgUnit.path, OrgUnit.name, User.name, User.phone, Membership.position)
        .join(Membership, Membership.user_id == User.id)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .where(OrgUnit.path.startswith(unit.path, autoescape=True), User.status == str(UserStatus.PENDING))
        .order_by(OrgUnit.path, User.name, User.id, Membership.is_primary.desc())
    )
    stmt = restrict(stmt, actor, EXPORT, path=OrgUnit.path)
    seen: set[str] = set()
    out: list[tuple[str, str, str, str, str, str]] = []
    for user_id, path, unit_name, name, phone, position in (await session.execute(stmt)).all():
        if user_id not in seen:
            seen.add(user_id)
            out.append((user_id, path, unit_name, name, phone, position))
    return out


@dataclass
class IssuedSet:
    unit_id: str
    unit_name: str
    count: int
    issued_at: datetime
    expires_at: datetime


async def _claim_set(
    session: AsyncSession, unit: OrgUnit, actor: Actor, issued_at: datetime, expires_at: datetime
) -> None:
    """Upsert the unit's set row before any code is issued: on PostgreSQL the row lock makes a
    second issue for the unit wait, so its revocation sees (and voids) the codes of the first."""
    values = {
        "id": new_id(),
        "unit_id": unit.id,
        "issued_by": actor.user_id,
        "issued_at": issued_at,
        "expires_at": expires_at,
        "count": 0,
        "content": b"",
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    table = cast(Table, ActivationCodeSet.__table__)
    stmt = dialect.insert(table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["unit_id"], set_={k: stmt.excluded[k] for k in values if k not in ("id", "unit_id")}
    )
    await session.execute(stmt)


async def issue_activation_codes(session: AsyncSession, actor: Actor, unit_id: str) -> IssuedSet:
    """Fresh codes for the pending accounts of the unit's subtree (within the actor's scope).

    Issuing revokes every earlier unused code of those accounts, so only the latest set works.
    The set replaces the unit's previous one, sealed (the plaintext codes are never stored in
    clear; `activation_codes` keeps their hashes); the issue is audited without the codes."""
    unit = await org_service.access_unit(session, actor, unit_id, EXPORT)
    issued_at = now()
    expires_at = issued_at + timedelta(days=get_settings().activation_code_days)
    await _claim_set(session, unit, actor, issued_at, expires_at)
    accounts = await pending_accounts(session, actor, unit)
    codes = await issue_codes(session, actor, [a[0] for a in accounts])
    rows = [
        [user_id, path, unit_name, name, mask_phone(phone) or "", position or "", codes[user_id]]
        for user_id, path, unit_name, name, phone, position in accounts
    ]
    await session.execute(
        update(ActivationCodeSet)
        .where(ActivationCodeSet.unit_id == unit.id)
        .values(count=len(rows), content=orjson.dumps(rows))
    )
    audit.record(
        session,
        actor,
        "accounts.activation_codes.issued",
        target_type="org_unit",
        target_id=unit.id,
        detail={"unit_name": unit.name, "count": len(rows)},
    )
    return IssuedSet(unit.id, unit.name, len(rows), issued_at, expires_at)


VALID, USED, REVOKED, EXPIRED = "有效", "已使用", "已作废", "已过期"


async def _code_states(session: AsyncSession, rows: list[list[str]]) -> dict[str, str]:
    """Each code's state, read from the stored hashes (what activation checks)."""
    states: dict[str, str] = {}
    t = now()
    by_hash = {code_hash(row[6]): row[6] for row in rows}
    user_ids = list({row[0] for row in rows})
    for start in range(0, len(user_ids), 900):
        found = (
            await session.execute(
                select(
                    ActivationCode.code_hash,
                    ActivationCode.used_at,
                    ActivationCode.revoked_at,
                    ActivationCode.expires_at,
                ).where(ActivationCode.user_id.in_(user_ids[start : start + 900]))
            )
        ).all()
        for digest, used_at, revoked_at, expires_at in found:
            code = by_hash.get(digest)
            if code is None:
                continue
            states[code] = (
                USED
                if used_at is not None
                else REVOKED
                if revoked_at is not None
                else EXPIRED
                if expires_at <= t
                else VALID
            )
    return states


async def download_activation_codes(session: AsyncSession, actor: Actor, unit_id: str) -> tuple[str, bytes]:
    """(file name, xlsx) of the unit's latest issued set, each code with its state now; issues
    nothing (the download is audited, as every download of personal data). The rows are
    limited to the downloader's scope."""
    unit = await org_service.access_unit(session, actor, unit_id, EXPORT)
    issued = (
        await session.execute(
            select(ActivationCodeSet)
            .where(ActivationCodeSet.unit_id == unit.id)
            .options(undefer(ActivationCodeSet.content))
        )
    ).scalar_one_or_none()
    if issued is None:
        raise NotFound("该单位尚未生成激活码，请先生成激活码再下载")
    rows = [row for row in orjson.loads(issued.content) if in_scope(actor, EXPORT, path=row[1])]
    states = await _code_states(session, rows)
    audit.record(
        session,
        actor,
        "accounts.activation_codes.downloaded",
        target_type="org_unit",
        target_id=unit.id,
        detail={"unit_name": unit.name, "count": len(rows), "issued_at": issued.issued_at.isoformat()},
    )
    filename = f"{unit.name}-激活码-{local_text(issued.issued_at, '%Y%m%d')}.xlsx"
    return filename, _codes_xlsx(rows, states, local_text(issued.expires_at))


def _codes_xlsx(rows: list[list[str]], states: dict[str, str], until: str) -> bytes:
    xlsx = SheetBook(constant_memory=True)
    sheet = xlsx.sheet("激活码")
    head = xlsx.style(bold=True, bg_color="#F2F2F2")
    mono = xlsx.style(font_name="Consolas", bold=True)
    sheet.row(0, 0, CODE_COLUMNS, head)
    for r, (_user_id, _path, unit_name, name, phone, position, code) in enumerate(rows, start=1):
        sheet.row(r, 0, [unit_name, name, phone, position])
        sheet.text(r, 4, code, mono)
        sheet.row(r, 5, [until, states.get(code, REVOKED)])
    for col, width in enumerate([28, 10, 14, 16, 12, 18, 8]):
        sheet.ws.set_column(col, col, width)
    sheet.ws.freeze_panes(1, 0)
    return xlsx.close()


# --- statistics ----------------------------------------------------------------------------


@dataclass
class Stat:
    id: str | None
    name: str
    total: int
    activated: int

    @property
    def rate(self) -> float:
        if not self.total:
            return 0.0
        return float(
            (Decimal(self.activated * 100) / Decimal(self.total)).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "total": self.total,
            "activated": self.activated,
            "rate": self.rate,
        }


async def _subtree_counts(
    session: AsyncSession, units: list[OrgUnit], within: OrgUnit | None = None
) -> dict[str, tuple[int, int]]:
    """unit id → (accounts, activated accounts) over each unit's subtree, in one GROUP BY.

    Disjoint units whose paths have one length (the children of one unit) are told apart by
    the path prefix of that length: a single pass over the memberships below. Otherwise each
    unit is joined to its descendants by prefix."""
    if not units:
        return {}
    lengths = {len(u.path) for u in units}
    if len(lengths) == 1 and len({u.path for u in units}) == len(units):
        key = func.substr(OrgUnit.path, 1, lengths.pop())
        by_path = {u.path: u.id for u in units}
        stmt = (
            select(key, func.count(distinct(User.id)), func.count(distinct(_case_activated())))
            .select_from(Membership)
            .join(OrgUnit, OrgUnit.id == Membership.unit_id)
            .join(User, User.id == Membership.user_id)
            .where(key.in_(list(by_path)))
            .group_by(key)
        )
        if within is not None:
            stmt = stmt.where(OrgUnit.path.startswith(within.path, autoescape=True))
        rows = (await session.execute(stmt)).all()
        return {by_path[path]: (total, activated) for path, total, activated in rows}
    top = aliased(OrgUnit)
    below = aliased(OrgUnit)
    stmt = (
        select(top.id, func.count(distinct(User.id)), func.count(distinct(_case_activated())))
        .select_from(top)
        .join(below, func.substr(below.path, 1, func.length(top.path)) == top.path)
        .join(Membership, Membership.unit_id == below.id)
        .join(User, User.id == Membership.user_id)
        .where(
            top.id.in_([u.id for u in units]),
            or_(*[below.path.startswith(u.path, autoescape=True) for u in _outermost(units)]),
        )
        .group_by(top.id)
    )
    return {uid: (total, activated) for uid, total, activated in (await session.execute(stmt)).all()}


def _case_activated():  # type: ignore[no-untyped-def]
    return case((User.activated_at.is_not(None), User.id), else_=None)


def _outermost(units: list[OrgUnit]) -> list[OrgUnit]:
    kept: list[OrgUnit] = []
    for unit in sorted(units, key=lambda u: len(u.path)):
        if not any(unit.path.startswith(k.path) for k in kept):
            kept.append(unit)
    return kept


async def _union_counts(session: AsyncSession, units: list[OrgUnit]) -> tuple[int, int]:
    """Distinct accounts over the union of several subtrees (an actor with several roots)."""
    stmt = (
        select(func.count(distinct(User.id)), func.count(distinct(_case_activated())))
        .select_from(Membership)
        .join(OrgUnit, OrgUnit.id == Membership.unit_id)
        .join(User, User.id == Membership.user_id)
        .where(or_(*[OrgUnit.path.startswith(u.path, autoescape=True) for u in _outermost(units)]))
    )
    total, activated = (await session.execute(stmt)).one()
    return total, activated


async def activation_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None) -> dict:
    """`{unit: stat, children: [stat]}`. Without a unit: the actor's root units — one root is
    shown with its children; several roots are the children of a summary row (id null)."""
    if unit_id:
        unit = await org_service.access_unit(session, actor, unit_id, STATS)
        children = list(
            (
                await session.execute(
                    select(OrgUnit)
                    .where(OrgUnit.parent_id == unit.id)
                    .order_by(OrgUnit.sort_key, OrgUnit.name)
                )
            ).scalars()
        )
        children = [c for c in children if in_scope(actor, STATS, path=c.path)]
        counts = await _subtree_counts(session, children, within=unit)
        head = Stat(unit.id, unit.name, *await _union_counts(session, [unit]))
    else:
        roots = await org_service.root_units(session, actor, STATS)
        root_ids = [r.id for r in roots]
        units = {
            u.id: u
            for u in (await session.execute(select(OrgUnit).where(OrgUnit.id.in_(root_ids)))).scalars()
        }
        ordered = [units[i] for i in root_ids if i in units]
        if len(ordered) == 1:
            return await activation_stats(session, actor, ordered[0].id)
        children = ordered
        counts = await _subtree_counts(session, children)
        head = Stat(None, "全部", *(await _union_counts(session, children)) if children else (0, 0))
    return {
        "unit": head.as_dict(),
        "children": [Stat(c.id, c.name, *counts.get(c.id, (0, 0))).as_dict() for c in children],
    }
