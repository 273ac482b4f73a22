"""Demo data: Hainan's org tree, ready accounts for each role, ~3 pending grid workers per village."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pyotp
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import RoleAssignment, User
from zhengding.accounts.passwords import hash_password
from zhengding.accounts.service import users as user_service
from zhengding.core.clock import now
from zhengding.core.ids import new_id
from zhengding.divisions import service as division_service
from zhengding.orgs import service as org_service
from zhengding.orgs.models import Membership, OrgUnit

DEMO_PASSWORD = "Hainan-Demo-2026"

# Division codes of the standard persona tree.
PROVINCE = "460000000000"  # 海南省
HAIKOU = "460100000000"  # 海口市
XIUYING = "460105000000"  # 秀英区
XIUYING_STREET = "460105001000"  # 秀英街道
SANYA = "460200000000"  # 三亚市


@dataclass
class PersonaSpec:
    username: str
    name: str
    phone: str
    role: str | None
    division: str | None = None  # unit by division code, or by the nth village of XIUYING_STREET
    village_index: int | None = None
    position: str = ""
    admin: bool = False


PERSONAS = [
    PersonaSpec("province", "王省指", "13800000001", "province_command", PROVINCE, position="省指挥部值班员"),
    PersonaSpec("haikou", "李市指", "13800000002", "city_command", HAIKOU, position="市指挥部值班员"),
    PersonaSpec("xiuying", "陈区指", "13800000003", "county_command", XIUYING, position="区指挥部值班员"),
    PersonaSpec("town", "林镇干", "13800000004", "town_command", XIUYING_STREET, position="街道干部"),
    PersonaSpec("grid1", "符网格", "13800000005", "grid_worker", village_index=0, position="网格员"),
    PersonaSpec("grid2", "吴网格", "13800000006", "grid_worker", village_index=1, position="网格员"),
    PersonaSpec("outsider", "郑路人", "13800000007", None, SANYA, position="干部"),
    PersonaSpec(
        "sysadmin", "周系统", "13800000008", "system_admin", PROVINCE, position="系统管理员", admin=True
    ),
    PersonaSpec(
        "secadmin", "吴安全", "13800000009", "security_admin", PROVINCE, position="安全管理员", admin=True
    ),
    PersonaSpec(
        "auditadmin", "郑审计", "13800000010", "audit_admin", PROVINCE, position="审计管理员", admin=True
    ),
]

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾符蔡潘云邢羊吉"
_GIVEN = "海琼椰南明华国建文俊伟芳秀英丽强军平东红玉春兰志勇杰涛超静敏燕霞娟波斌辉"


async def persona_units(session: AsyncSession) -> dict[str, OrgUnit]:
    street = await org_service.unit_for_division(session, XIUYING_STREET)
    assert street is not None, "load the Hainan divisions first"
    villages = list(
        (
            await session.execute(
                select(OrgUnit).where(OrgUnit.parent_id == street.id).order_by(OrgUnit.sort_key)
            )
        ).scalars()
    )
    out = {}
    for spec in PERSONAS:
        if spec.village_index is not None:
            out[spec.username] = villages[spec.village_index]
        else:
            unit = await org_service.unit_for_division(session, spec.division or PROVINCE)
            assert unit is not None
            out[spec.username] = unit
    return out


async def seed_personas(session: AsyncSession, *, password: str = DEMO_PASSWORD) -> dict[str, dict]:
    """Create the ready persona accounts (idempotent). Returns username → {id, unit_id, totp_secret}."""
    units = await persona_units(session)
    result: dict[str, dict] = {}
    for spec in PERSONAS:
        unit = units[spec.username]
        user = (
            await session.execute(select(User).where(User.username == spec.username))
        ).scalar_one_or_none()
        if user is None:
            item = user_service.validate_new_user(
                spec.name, spec.phone, unit.id, spec.position, username=spec.username
            )
            row = user_service.user_row(item)
            row.update(
                status=str(UserStatus.ACTIVE),
                password_hash=hash_password(password),
                activated_at=now(),
                password_changed_at=now(),
            )
            user = User(**row)
            if spec.admin:
                user.totp_secret = pyotp.random_base32()
                user.totp_enabled = True
            session.add(user)
            await session.flush()  # no ORM relationships: the user row must exist before its links
            session.add(Membership(user_id=user.id, unit_id=unit.id, position=spec.position))
            if spec.role:
                await user_service.grant_role(session, user.id, spec.role, unit.id, granted_by=None)
            await session.flush()
        result[spec.username] = {
            "id": user.id,
            "unit_id": unit.id,
            "unit_name": unit.name,
            "role": spec.role,
            "name": spec.name,
            "phone": spec.phone,
            "totp_secret": user.totp_secret,
        }
    return result


async def seed_grid_workers(session: AsyncSession, per_village: int = 3, seed: int = 2022) -> int:
    """Pending grid-worker accounts for every village committee (no password: they activate)."""
    already = (
        await session.execute(select(func.count()).select_from(User).where(User.status == UserStatus.PENDING))
    ).scalar_one()
    if already:
        return 0
    rng = random.Random(seed)
    villages = list(
        (
            await session.execute(
                select(OrgUnit.id).where(OrgUnit.kind == "committee").order_by(OrgUnit.sort_key)
            )
        ).scalars()
    )
    phones: set[str] = set()
    users, memberships, roles = [], [], []
    for village_id in villages:
        for _ in range(per_village):
            phone = "139" + "".join(rng.choice("0123456789") for _ in range(8))
            while phone in phones:
                phone = "139" + "".join(rng.choice("0123456789") for _ in range(8))
            phones.add(phone)
            name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
            row = user_service.user_row(user_service.validate_new_user(name, phone, village_id, "网格员"))
            users.append(row)
            memberships.append(
                {
                    "id": new_id(),
                    "user_id": row["id"],
                    "unit_id": village_id,
                    "position": "网格员",
                    "is_primary": True,
                    "created_at": row["created_at"],
                }
            )
            # Bulk rows beside user_service.grant_role: each is a new account's only role, a
            # business role, so separation of duties cannot be broken here.
            roles.append(
                {
                    "id": new_id(),
                    "user_id": row["id"],
                    "role": "grid_worker",
                    "unit_id": village_id,
                    "created_at": row["created_at"],
                }
            )
    for start in range(0, len(users), 2000):
        await session.execute(cast(Table, User.__table__).insert(), users[start : start + 2000])
        await session.execute(cast(Table, Membership.__table__).insert(), memberships[start : start + 2000])
        await session.execute(cast(Table, RoleAssignment.__table__).insert(), roles[start : start + 2000])
    return len(users)


async def seed_org_tree(session: AsyncSession, province: str = division_service.HAINAN) -> int:
    await division_service.load_divisions(session, province)
    return await org_service.build_tree_from_divisions(session, province)


async def activation_samples(session: AsyncSession, unit: OrgUnit, count: int = 5) -> list[dict]:
    """Fresh activation codes for a few pending accounts of a unit (for trying activation)."""
    rows = (
        (
            await session.execute(
                select(User)
                .join(Membership, Membership.user_id == User.id)
                .where(Membership.unit_id == unit.id, User.status == UserStatus.PENDING)
                .order_by(User.id)
                .limit(count)
            )
        )
        .scalars()
        .all()
    )
    codes = await user_service.issue_codes(session, None, [u.id for u in rows])
    return [{"name": u.name, "phone": u.phone, "code": codes[u.id], "unit_name": unit.name} for u in rows]


async def seed_inbound_source(session: AsyncSession, name: str = "healthcode") -> dict[str, str]:
    """The demo health-code system's inbound source (idempotent); its secret is written to
    var/demo-accounts.json for `zhengding inbound send`."""
    from zhengding.returnees.models import InboundSource
    from zhengding.returnees.service import inbound

    source = (
        await session.execute(select(InboundSource).where(InboundSource.name == name))
    ).scalar_one_or_none()
    if source is None:
        source, _ = await inbound.add_source(session, name)
    return {"name": source.name, "key_id": source.key_id, "secret": source.secret}


def write_accounts_file(
    var_dir: Path, personas: dict[str, dict], pending: list[dict], inbound_sources: list[dict] | None = None
) -> Path:
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "demo-accounts.json"
    data = {
        "password": DEMO_PASSWORD,
        "accounts": [
            {"username": k, **{f: v[f] for f in ("role", "unit_name", "name", "totp_secret")}}
            for k, v in personas.items()
        ],
        "pending": pending,
        "inbound_sources": inbound_sources or [],
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
