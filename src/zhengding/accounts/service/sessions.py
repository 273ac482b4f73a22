"""Login, sessions, TOTP second factor, logout, password change.

Rules: lockout after 5 failures in 15 minutes for 15 minutes (per account, or per login name
when no account matches — the answer is the same either way); TOTP required for administrator
roles and a code is never accepted twice; sessions end after 30 minutes idle (15 for
administrators) or 12 hours in all, and are revoked at once on password change, disabling or
logout. All times come from core.clock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.enums import MfaState, UserStatus
from zhengding.accounts.models import AuthSession, LoginThrottle, RoleAssignment, User
from zhengding.accounts.passwords import hash_password_off_loop, policy_error, verify_password_off_loop
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor, Grant
from zhengding.authz.roles import ROLES
from zhengding.config import get_settings
from zhengding.core.clock import now
from zhengding.core.db import defer_write
from zhengding.core.errors import (
    Locked,
    MfaRequired,
    SessionExpired,
    Unauthenticated,
    ValidationFailed,
    field_error,
)
from zhengding.core.events import publish_event
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.privacy.crypto import blind_index, keyed_hash
from zhengding.privacy.idcard import normalize_phone

_LAST_SEEN_GRANULARITY = timedelta(seconds=60)
TOTP_ISSUER = "政钉"


def _persisting(error: Exception) -> Exception:
    error.commit_anyway = True  # type: ignore[attr-defined]
    return error


def token_hash(token: str) -> str:
    return keyed_hash(get_settings().secret_key, token)


async def find_user_by_login(session: AsyncSession, login: str) -> User | None:
    login = login.strip()
    user = (await session.execute(select(User).where(User.username == login))).scalar_one_or_none()
    if user is None:
        phone = normalize_phone(login)
        user = (
            await session.execute(select(User).where(User.phone_bidx == blind_index("phone", phone)))
        ).scalar_one_or_none()
    return user


# --- lockout -------------------------------------------------------------------------------


async def _throttle(session: AsyncSession, key: str) -> LoginThrottle | None:
    return await session.get(LoginThrottle, key)


async def check_not_locked(session: AsyncSession, key: str) -> None:
    row = await _throttle(session, key)
    if row and row.locked_until and row.locked_until > now():
        minutes = max(1, int((row.locked_until - now()).total_seconds() // 60) + 1)
        raise Locked(f"失败次数过多，账号已临时锁定，请 {minutes} 分钟后再试")


async def register_failure(session: AsyncSession, key: str) -> bool:
    """Count a failure; True when this one locks the key.

    The window slides: the times of the last `lockout_failures` failures are kept, one row each
    (`<key>#<slot>`), so five failures within any 15 minutes lock, wherever they fall."""
    settings = get_settings()
    t = now()
    window = timedelta(minutes=settings.lockout_window_minutes)
    slot_keys = _slot_keys(key)
    slots = list(
        (await session.execute(select(LoginThrottle).where(LoginThrottle.key.in_(slot_keys)))).scalars()
    )
    if len(slots) < len(slot_keys):
        taken = {row.key for row in slots}
        row = LoginThrottle(key=next(k for k in slot_keys if k not in taken), failures=1, window_started_at=t)
        session.add(row)
        slots.append(row)
    else:
        min(slots, key=lambda r: r.window_started_at).window_started_at = t
    recent = sum(1 for row in slots if t - row.window_started_at < window)
    if recent < settings.lockout_failures:
        return False
    lock = await _throttle(session, key)
    if lock is None:
        lock = LoginThrottle(key=key, failures=0, window_started_at=t)
        session.add(lock)
    lock.locked_until = t + timedelta(minutes=settings.lockout_minutes)
    await session.execute(
        delete(LoginThrottle).where(LoginThrottle.key.in_(slot_keys))
    )  # counting starts afresh
    return True


def _slot_keys(key: str) -> list[str]:
    return [f"{key}#{i}" for i in range(get_settings().lockout_failures)]


async def clear_failures(session: AsyncSession, key: str) -> None:
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key.in_([key, *_slot_keys(key)])))


# --- actor ---------------------------------------------------------------------------------


async def build_actor(
    session: AsyncSession,
    user: User,
    *,
    session_id: str | None = None,
    ip: str | None = None,
    request_id: str | None = None,
) -> Actor:
    rows = (
        await session.execute(
            select(RoleAssignment.role, RoleAssignment.unit_id, OrgUnit.path)
            .join(OrgUnit, OrgUnit.id == RoleAssignment.unit_id)
            .where(RoleAssignment.user_id == user.id)
        )
    ).all()
    grants = [Grant(role, ROLES[role].scope, unit_id, path) for role, unit_id, path in rows if role in ROLES]
    primary = (
        await session.execute(
            select(OrgUnit.id, OrgUnit.name)
            .join(Membership, Membership.unit_id == OrgUnit.id)
            .where(Membership.user_id == user.id)
            .order_by(Membership.is_primary.desc(), Membership.created_at)
            .limit(1)
        )
    ).first()
    return Actor(
        user_id=user.id,
        name=user.name,
        grants=grants,
        session_id=session_id,
        ip=ip,
        request_id=request_id,
        unit_id=primary[0] if primary else None,
        unit_name=primary[1] if primary else None,
    )


async def is_admin_user(session: AsyncSession, user_id: str) -> bool:
    roles = (
        await session.execute(select(RoleAssignment.role).where(RoleAssignment.user_id == user_id))
    ).scalars()
    return any(ROLES[r].admin for r in roles if r in ROLES)


# --- login ---------------------------------------------------------------------------------


@dataclass
class LoginResult:
    token: str
    auth_session: AuthSession
    user: User
    actor: Actor


async def _open_session(
    session: AsyncSession, user: User, mfa_state: str, *, ip: str | None, user_agent: str | None
) -> tuple[str, AuthSession]:
    settings = get_settings()
    admin = await is_admin_user(session, user.id)
    idle = settings.admin_session_idle_minutes if admin else settings.session_idle_minutes
    token = secrets.token_urlsafe(32)
    t = now()
    row = AuthSession(
        token_hash=token_hash(token),
        user_id=user.id,
        mfa_state=mfa_state,
        idle_seconds=idle * 60,
        created_at=t,
        last_seen_at=t,
        expires_at=t + timedelta(hours=settings.session_absolute_hours),
        ip=ip,
        user_agent=(user_agent or "")[:300],
    )
    session.add(row)
    await session.flush()
    return token, row


async def login(
    session: AsyncSession, login_name: str, password: str, *, ip: str | None, user_agent: str | None
) -> LoginResult:
    user = await find_user_by_login(session, login_name)
    key = f"user:{user.id}" if user else f"login:{blind_index('login', login_name.strip().lower())[:60]}"
    await check_not_locked(session, key)
    ok = (
        await verify_password_off_loop(user.password_hash if user else None, password)
        and user is not None
        and user.status != UserStatus.PENDING
    )
    if not ok:
        locked = await register_failure(session, key)
        audit.record(
            session,
            None,
            "auth.login.failed",
            target_type="user",
            target_id=user.id if user else None,
            result="denied",
            detail={"locked": locked},
        )
        raise _persisting(Unauthenticated("账号或密码错误" + ("，账号已临时锁定 15 分钟" if locked else "")))
    assert user is not None
    if user.status == UserStatus.DISABLED:
        audit.record(
            session,
            None,
            "auth.login.refused",
            target_type="user",
            target_id=user.id,
            result="denied",
            detail={"reason": "disabled"},
        )
        raise _persisting(Unauthenticated("账号已停用，请联系管理员"))
    await clear_failures(session, key)
    admin = await is_admin_user(session, user.id)
    mfa = MfaState.REQUIRED if user.totp_enabled else (MfaState.SETUP_REQUIRED if admin else MfaState.NONE)
    token, row = await _open_session(session, user, mfa, ip=ip, user_agent=user_agent)
    actor = await build_actor(session, user, session_id=row.id, ip=ip)
    audit.record(
        session,
        actor,
        "auth.login.succeeded",
        target_type="user",
        target_id=user.id,
        detail={"mfa": str(mfa)},
    )
    return LoginResult(token, row, user, actor)


async def authenticate(
    session: AsyncSession,
    token: str,
    *,
    ip: str | None = None,
    request_id: str | None = None,
    allow_mfa_pending: bool = False,
) -> Actor:
    found = (
        await session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == token_hash(token))
        )
    ).first()
    if found is None:
        raise Unauthenticated()
    row, user = found
    t = now()
    if row.revoked_at is not None or user.status != UserStatus.ACTIVE:
        raise SessionExpired("会话已失效，请重新登录")
    if t >= row.expires_at or t - row.last_seen_at > timedelta(seconds=row.idle_seconds):
        raise SessionExpired()
    if row.mfa_state != MfaState.NONE and not allow_mfa_pending:
        raise MfaRequired()
    if t - row.last_seen_at > _LAST_SEEN_GRANULARITY:
        session_id = row.id

        async def touch(writer: AsyncSession) -> None:
            await writer.execute(
                update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=t)
            )

        defer_write(session, touch)
    actor = await build_actor(session, user, session_id=row.id, ip=ip, request_id=request_id)
    session.info["auth_session"] = row
    session.info["auth_user"] = user
    return actor


async def current_session(session: AsyncSession) -> tuple[AuthSession, User]:
    return session.info["auth_session"], session.info["auth_user"]


async def revoke_sessions(session: AsyncSession, user_id: str, *, except_id: str | None = None) -> None:
    stmt = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if except_id:
        stmt = stmt.where(AuthSession.id != except_id)
    await session.execute(stmt.values(revoked_at=now()))
    publish_event(session, "accounts.session.revoked", {"session_id": None}, users=[user_id])


async def logout(session: AsyncSession, actor: Actor) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == actor.session_id).values(revoked_at=now())
    )
    # Open WebSockets of this session close at once (the gateway listens for this event).
    publish_event(
        session, "accounts.session.revoked", {"session_id": actor.session_id}, users=[actor.user_id]
    )
    audit.record(session, actor, "auth.logout", target_type="user", target_id=actor.user_id)


async def change_password(
    session: AsyncSession,
    actor: Actor,
    old_password: str,
    new_password: str,
    *,
    ip: str | None,
    user_agent: str | None,
) -> tuple[str, AuthSession]:
    _, user = await current_session(session)
    key = f"user:{user.id}"
    await check_not_locked(session, key)
    if not await verify_password_off_loop(user.password_hash, old_password):
        locked = await register_failure(session, key)
        audit.record(
            session,
            actor,
            "accounts.password.change_failed",
            target_type="user",
            target_id=user.id,
            result="denied",
            detail={"locked": locked},
        )
        raise _persisting(ValidationFailed("原密码不正确", [field_error("old_password", "原密码不正确")]))
    problem = policy_error(new_password, personal=[user.username or "", user.phone])
    if problem:
        raise ValidationFailed(problem, [field_error("new_password", problem)])
    user.password_hash = await hash_password_off_loop(new_password)
    user.password_changed_at = now()
    await revoke_sessions(session, user.id)
    token, row = await _open_session(session, user, MfaState.NONE, ip=ip, user_agent=user_agent)
    audit.record(session, actor, "accounts.password.changed", target_type="user", target_id=user.id)
    return token, row


# --- TOTP ----------------------------------------------------------------------------------


def _matching_step(secret: str, code: str, at: datetime, last_step: int) -> int | None:
    totp = pyotp.TOTP(secret)
    current = int(at.timestamp()) // totp.interval
    code = code.strip()
    for step in (current - 1, current, current + 1):
        if step > last_step and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=TOTP_ISSUER)


async def start_totp_setup(session: AsyncSession, actor: Actor) -> tuple[str, str]:
    row, user = await current_session(session)
    if user.totp_enabled and row.mfa_state != MfaState.NONE:
        raise MfaRequired("请先输入当前动态口令")
    secret = pyotp.random_base32()
    user.totp_pending_secret = secret
    audit.record(session, actor, "accounts.totp.setup_started", target_type="user", target_id=user.id)
    return secret, provisioning_uri(secret, user.username or user.phone_last4)


async def _check_code(session: AsyncSession, actor: Actor, user: User, secret: str | None, code: str) -> int:
    key = f"totp:{user.id}"
    await check_not_locked(session, key)
    step = _matching_step(secret, code, now(), user.totp_last_step) if secret else None
    if step is None:
        locked = await register_failure(session, key)
        audit.record(
            session,
            actor,
            "auth.totp.failed",
            target_type="user",
            target_id=user.id,
            result="denied",
            detail={"locked": locked},
        )
        raise _persisting(
            ValidationFailed("动态口令不正确或已使用", [field_error("code", "动态口令不正确或已使用")])
        )
    await clear_failures(session, key)
    return step


async def confirm_totp(session: AsyncSession, actor: Actor, code: str) -> None:
    row, user = await current_session(session)
    if user.totp_enabled and row.mfa_state != MfaState.NONE:
        raise MfaRequired("请先输入当前动态口令")
    step = await _check_code(session, actor, user, user.totp_pending_secret, code)
    user.totp_secret, user.totp_pending_secret = user.totp_pending_secret, None
    user.totp_enabled, user.totp_last_step = True, step
    row.mfa_state = MfaState.NONE
    audit.record(session, actor, "accounts.totp.enabled", target_type="user", target_id=user.id)


async def verify_totp(session: AsyncSession, actor: Actor, code: str) -> None:
    row, user = await current_session(session)
    if row.mfa_state == MfaState.SETUP_REQUIRED:
        raise MfaRequired("请先绑定动态口令")
    step = await _check_code(session, actor, user, user.totp_secret, code)
    user.totp_last_step = step
    row.mfa_state = MfaState.NONE
    audit.record(session, actor, "auth.totp.verified", target_type="user", target_id=user.id)
