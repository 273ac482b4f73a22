"""Account use-cases: create accounts (one person, one account), assign roles within scope
(separation of duties), disable / enable, issue activation codes and activate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.enums import UserStatus
from zhengding.accounts.models import ActivationCode, RoleAssignment, User
from zhengding.accounts.passwords import hash_password_off_loop, policy_error
from zhengding.accounts.service.sessions import (
    check_not_locked,
    clear_failures,
    register_failure,
    revoke_sessions,
)
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.roles import ADMIN_ROLES, ROLES, duties_conflict, role_label
from zhengding.authz.scope import ensure_in_scope, not_found
from zhengding.config import get_settings
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, NotFound, ValidationFailed, field_error
from zhengding.core.ids import new_id, random_code
from zhengding.orgs import repository as org_repo
from zhengding.orgs import service as org_service
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.privacy import idcard
from zhengding.privacy.crypto import blind_index, constant_time_equal, keyed_hash

ACTIVATION_CODE_LENGTH = 8


@dataclass
class NewUser:
    """A validated, normalised account to create."""

    name: str
    phone: str
    unit_id: str
    position: str = ""
    id_number: str | None = None
    username: str | None = None
    errors: list[dict] = field(default_factory=list)


def validate_new_user(
    name: str,
    phone: str,
    unit_id: str,
    position: str = "",
    id_number: str | None = None,
    username: str | None = None,
    *,
    row: int | None = None,
) -> NewUser:
    """Normalise and check one account's fields; errors name the field and the reason."""
    item = NewUser(
        name=(name or "").strip(),
        phone=idcard.normalize_phone(phone or ""),
        unit_id=unit_id,
        position=(position or "").strip(),
        username=(username or "").strip() or None,
    )
    if not item.name or len(item.name) > 50:
        item.errors.append(field_error("name", "姓名不能为空且不超过50字", row))
    problem = idcard.phone_error(item.phone)
    if problem:
        item.errors.append(field_error("phone", problem, row))
    if id_number and id_number.strip():
        item.id_number, problem = idcard.clean_id_number(id_number)
        if problem:
            item.errors.append(field_error("id_number", problem, row))
    if len(item.position) > 50:
        item.errors.append(field_error("position", "职务不超过50字", row))
    return item


def user_row(item: NewUser) -> dict:
    """Column values for a bulk insert of a validated account (pending activation)."""
    return {
        "id": new_id(),
        "name": item.name,
        "username": item.username,
        "phone": item.phone,
        "phone_bidx": blind_index("phone", item.phone),
        "phone_last4": item.phone[-4:],
        "id_number": item.id_number,
        "id_number_bidx": blind_index("id_number", item.id_number) if item.id_number else None,
        "status": str(UserStatus.PENDING),
        "totp_enabled": False,
        "totp_last_step": 0,
        "created_at": now(),
    }


async def existing_identities(
    session: AsyncSession, phone_bidx: Sequence[str], id_bidx: Sequence[str]
) -> tuple[set[str], set[str]]:
    phones: set[str] = set()
    ids: set[str] = set()
    for start in range(0, max(len(phone_bidx), len(id_bidx)), 900):
        chunk = list(phone_bidx[start : start + 900])
        if chunk:
            phones |= set(
                (await session.execute(select(User.phone_bidx).where(User.phone_bidx.in_(chunk)))).scalars()
            )
        chunk = list(id_bidx[start : start + 900])
        if chunk:
            result = await session.execute(select(User.id_number_bidx).where(User.id_number_bidx.in_(chunk)))
            ids |= {bidx for bidx in result.scalars() if bidx is not None}  # IN never matches NULL
    return phones, ids


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    name: str,
    phone: str,
    unit_id: str,
    position: str = "",
    id_number: str | None = None,
    username: str | None = None,
) -> User:
    await org_service.access_unit(session, actor, unit_id, "accounts.manage")
    item = validate_new_user(name, phone, unit_id, position, id_number, username)
    if item.errors:
        raise ValidationFailed("账号信息有误：" + "；".join(e["reason"] for e in item.errors), item.errors)
    row = user_row(item)
    phones, ids = await existing_identities(
        session, [row["phone_bidx"]], [row["id_number_bidx"]] if item.id_number else []
    )
    if phones:
        raise Conflict("该手机号已有账号（一人一号）", [field_error("phone", "手机号已被使用")])
    if ids:
        raise Conflict("该身份证号已有账号（一人一号）", [field_error("id_number", "身份证号已被使用")])
    if username and (await session.execute(select(User.id).where(User.username == item.username))).first():
        raise Conflict("用户名已被使用", [field_error("username", "用户名已被使用")])
    user = User(**row)
    session.add(user)
    await session.flush()  # no ORM relationships: the user row must exist before its membership
    session.add(Membership(user_id=user.id, unit_id=unit_id, position=item.position, is_primary=True))
    await session.flush()
    audit.record(
        session,
        actor,
        "accounts.user.created",
        target_type="user",
        target_id=user.id,
        detail={"unit_id": unit_id},
    )
    return user


# --- access --------------------------------------------------------------------------------


async def access_user(
    session: AsyncSession, actor: Actor, user_id: str, permission: str = "accounts.read"
) -> User:
    """Load an account the actor may manage; 404 outside scope."""
    stmt = org_repo.people_in_scope(actor, permission).where(User.id == user_id)
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise await not_found(session, User, user_id, "user")
    return user


async def phones_for(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, str]:
    """Decrypted phones for sending SMS (never for responses)."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.phone).where(User.id.in_(list(user_ids))))
    return {uid: phone for uid, phone in rows.all()}


# --- roles ---------------------------------------------------------------------------------


def _own_roles_refused() -> Conflict:
    return Conflict(
        "不能修改自己的角色，请由另一位安全管理员办理", [field_error("role", "不能为自己分配或撤销角色")]
    )


def _duties_refused(held: str, role: str) -> Conflict:
    why = (
        "系统、安全、审计管理员须由不同的人担任"
        if held in ADMIN_ROLES and role in ADMIN_ROLES
        else "管理员角色不能与业务角色兼任"
    )
    return Conflict(
        f"三权分立：该账号已担任{role_label(held)}，不能再担任{role_label(role)}（{why}）",
        [field_error("role", why)],
    )


async def grant_role(
    session: AsyncSession, user_id: str, role: str, unit_id: str, *, granted_by: str | None
) -> tuple[RoleAssignment, bool]:
    """The one way a role assignment is inserted: separation of duties (三权分立) is checked in
    the inserting transaction. The account's row is locked first (SELECT ... FOR UPDATE on
    PostgreSQL; SQLite writers are serialised by BEGIN IMMEDIATE), so of concurrent grants to
    one account each sees what the earlier ones committed. Returns (assignment, newly made)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())
    held = set(
        (
            await session.execute(select(RoleAssignment.role).where(RoleAssignment.user_id == user_id))
        ).scalars()
    )
    clash = next((h for h in sorted(held) if duties_conflict(h, role)), None)
    if clash is not None:
        raise _duties_refused(clash, role)
    existing = (
        await session.execute(
            select(RoleAssignment).where(
                RoleAssignment.user_id == user_id,
                RoleAssignment.role == role,
                RoleAssignment.unit_id == unit_id,
            )
        )
    ).scalar_one_or_none()
    if existing:
        return existing, False
    assignment = RoleAssignment(user_id=user_id, role=role, unit_id=unit_id, created_by=granted_by)
    session.add(assignment)
    await session.flush()
    return assignment, True


def _refused(session: AsyncSession, actor: Actor, user_id: str, error: Conflict, detail: dict) -> Exception:
    audit.record(
        session,
        actor,
        "accounts.role.refused",
        target_type="user",
        target_id=user_id,
        result="denied",
        detail=detail,
    )
    return _persisting(error)


async def assign_role(
    session: AsyncSession, actor: Actor, user_id: str, role: str, unit_id: str
) -> RoleAssignment:
    """Grant a role within the actor's scope. Nobody changes their own roles; refusals are audited."""
    if role not in ROLES:
        raise ValidationFailed(f"未知角色：{role}", [field_error("role", "未知角色")])
    if user_id == actor.user_id:
        raise _refused(session, actor, user_id, _own_roles_refused(), {"role": role, "reason": "own_account"})
    user = await access_user(session, actor, user_id, "roles.assign")
    unit = await org_service.access_unit(session, actor, unit_id, "roles.assign")
    try:
        assignment, created = await grant_role(session, user.id, role, unit.id, granted_by=actor.user_id)
    except Conflict as exc:
        raise _refused(
            session, actor, user.id, exc, {"role": role, "reason": "separation_of_duties"}
        ) from None
    if not created:
        return assignment
    if role in ADMIN_ROLES:
        # Administrators need TOTP and a shorter idle timeout: sessions opened without them end.
        await revoke_sessions(session, user.id)
    audit.record(
        session,
        actor,
        "accounts.role.assigned",
        target_type="user",
        target_id=user.id,
        detail={"role": role, "unit_id": unit.id},
    )
    return assignment


async def remove_role(session: AsyncSession, actor: Actor, user_id: str, assignment_id: str) -> None:
    if user_id == actor.user_id:
        raise _refused(
            session,
            actor,
            user_id,
            _own_roles_refused(),
            {"assignment_id": assignment_id, "reason": "own_account"},
        )
    user = await access_user(session, actor, user_id, "roles.assign")
    assignment = await session.get(RoleAssignment, assignment_id)
    if assignment is None or assignment.user_id != user.id:
        raise NotFound(kind="role_assignment", target_id=assignment_id)
    unit = await session.get(OrgUnit, assignment.unit_id)
    ensure_in_scope(
        actor,
        "roles.assign",
        kind="role_assignment",
        target_id=assignment.id,
        path=unit.path if unit else None,
    )
    await session.delete(assignment)
    await revoke_sessions(session, user.id)  # permissions shrink at once
    audit.record(
        session,
        actor,
        "accounts.role.removed",
        target_type="user",
        target_id=user.id,
        detail={"role": assignment.role, "unit_id": assignment.unit_id},
    )


async def roles_of(
    session: AsyncSession, user_ids: Sequence[str]
) -> dict[str, list[tuple[RoleAssignment, OrgUnit]]]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(RoleAssignment, OrgUnit)
        .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
        .where(RoleAssignment.user_id.in_(list(user_ids)))
    )
    out: dict[str, list[tuple[RoleAssignment, OrgUnit]]] = {}
    for assignment, unit in rows.all():
        out.setdefault(assignment.user_id, []).append((assignment, unit))
    return out


# --- status --------------------------------------------------------------------------------


async def disable_user(session: AsyncSession, actor: Actor, user_id: str) -> User:
    user = await access_user(session, actor, user_id, "accounts.manage")
    if user.id == actor.user_id:
        raise Conflict("不能停用自己的账号")
    user.status = UserStatus.DISABLED
    await revoke_sessions(session, user.id)
    audit.record(session, actor, "accounts.user.disabled", target_type="user", target_id=user.id)
    return user


async def enable_user(session: AsyncSession, actor: Actor, user_id: str) -> User:
    user = await access_user(session, actor, user_id, "accounts.manage")
    user.status = UserStatus.ACTIVE if user.password_hash else UserStatus.PENDING
    audit.record(session, actor, "accounts.user.enabled", target_type="user", target_id=user.id)
    return user


async def reset_activation(session: AsyncSession, actor: Actor, user_id: str) -> User:
    """Back to pending (a lost phone, a person replaced): password, device and TOTP cleared."""
    user = await access_user(session, actor, user_id, "accounts.manage")
    user.status = UserStatus.PENDING
    user.password_hash = None
    user.activated_at = None
    user.device_id = None
    user.totp_secret = user.totp_pending_secret = None
    user.totp_enabled = False
    await revoke_sessions(session, user.id)
    await session.execute(
        update(ActivationCode)
        .where(ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None))
        .values(revoked_at=now())
    )
    audit.record(session, actor, "accounts.activation.reset", target_type="user", target_id=user.id)
    return user


# --- activation codes ----------------------------------------------------------------------


def code_hash(code: str) -> str:
    return keyed_hash(get_settings().secret_key, "activation:" + code.strip().upper())


async def issue_codes(session: AsyncSession, actor: Actor | None, user_ids: Sequence[str]) -> dict[str, str]:
    """New single-use codes for these pending accounts; earlier unused codes stop working.
    Only hashes are stored: the plaintext exists in the returned dict (the export) alone."""
    if not user_ids:
        return {}
    t = now()
    expires = t + timedelta(days=get_settings().activation_code_days)
    codes: dict[str, str] = {}
    for start in range(0, len(user_ids), 900):
        chunk = list(user_ids[start : start + 900])
        await session.execute(
            update(ActivationCode)
            .where(
                ActivationCode.user_id.in_(chunk),
                ActivationCode.used_at.is_(None),
                ActivationCode.revoked_at.is_(None),
            )
            .values(revoked_at=t)
        )
    rows = []
    for uid in user_ids:
        code = random_code(ACTIVATION_CODE_LENGTH)
        codes[uid] = code
        rows.append(
            {
                "id": new_id(),
                "user_id": uid,
                "code_hash": code_hash(code),
                "expires_at": expires,
                "created_by": actor.user_id if actor else None,
                "created_at": t,
            }
        )
    for start in range(0, len(rows), 2000):
        await session.execute(cast(Table, ActivationCode.__table__).insert(), rows[start : start + 2000])
    return codes


def _persisting(error: Exception) -> Exception:
    error.commit_anyway = True  # type: ignore[attr-defined]
    return error


async def activate(
    session: AsyncSession, *, name: str, phone: str, code: str, password: str, device_id: str | None = None
) -> User:
    """Bind a pending account to its person: name + phone + one-time code, then set the password."""
    phone = idcard.normalize_phone(phone)
    key = f"activate:{blind_index('phone', phone)[:50]}"
    await check_not_locked(session, key)
    user = (
        await session.execute(select(User).where(User.phone_bidx == blind_index("phone", phone)))
    ).scalar_one_or_none()
    active_code = None
    if user is not None and user.status == UserStatus.PENDING:
        candidates = (
            (
                await session.execute(
                    select(ActivationCode).where(
                        ActivationCode.user_id == user.id,
                        ActivationCode.used_at.is_(None),
                        ActivationCode.revoked_at.is_(None),
                        ActivationCode.expires_at > now(),
                    )
                )
            )
            .scalars()
            .all()
        )
        wanted = code_hash(code)
        active_code = next((c for c in candidates if constant_time_equal(c.code_hash, wanted)), None)
    if user is None or active_code is None or user.name != name.strip():
        locked = await register_failure(session, key)
        audit.record(
            session,
            None,
            "accounts.activation.failed",
            target_type="user",
            target_id=user.id if user else None,
            result="denied",
            detail={"locked": locked},
        )
        raise _persisting(
            ValidationFailed(
                "姓名、手机号或激活码不正确，或激活码已使用/已过期", [field_error("code", "激活信息不匹配")]
            )
        )
    problem = policy_error(password, personal=[user.phone, user.username or ""])
    if problem:
        raise ValidationFailed(problem, [field_error("password", problem)])
    await clear_failures(session, key)
    t = now()
    active_code.used_at = t
    user.password_hash = await hash_password_off_loop(password)
    user.password_changed_at = t
    user.status = UserStatus.ACTIVE
    user.activated_at = t
    user.device_id = (device_id or "")[:100] or None
    actor = Actor(user_id=user.id, name=user.name)
    audit.record(
        session,
        actor,
        "accounts.user.activated",
        target_type="user",
        target_id=user.id,
        detail={"device_bound": bool(device_id)},
    )
    return user


async def reveal_user_field(
    session: AsyncSession, actor: Actor, target_id: str, field_name: str
) -> str | None:
    if field_name not in ("phone", "id_number"):
        raise ValidationFailed("不支持查看该字段", [field_error("field", "只能查看手机号或身份证号")])
    user = await org_service.access_person(session, actor, target_id, "personal_data.reveal")
    return getattr(user, field_name)
