from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, created_at_column, id_column
from zhengding.privacy.types import Encrypted, EncryptedBlob


class User(Base):
    """One person, one account: phone and ID number are unique (by blind index)."""

    __tablename__ = "users"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(50), index=True)
    username: Mapped[str | None] = mapped_column(String(50), unique=True)
    phone: Mapped[str] = mapped_column(Encrypted("users.phone"))
    phone_bidx: Mapped[str] = mapped_column(String(64), unique=True)
    phone_last4: Mapped[str] = mapped_column(String(4))
    id_number: Mapped[str | None] = mapped_column(Encrypted("users.id_number"))
    id_number_bidx: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_changed_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    device_id: Mapped[str | None] = mapped_column(String(100))
    totp_secret: Mapped[str | None] = mapped_column(Encrypted("users.totp_secret"))
    totp_pending_secret: Mapped[str | None] = mapped_column(Encrypted("users.totp_pending_secret"))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()


class RoleAssignment(Base):
    """A role held by a user, anchored at an org unit (the root of its data scope)."""

    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "role", "unit_id"),)

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = created_at_column()


class ActivationCode(Base):
    """A one-time activation code; only its keyed hash is stored."""

    __tablename__ = "activation_codes"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_by: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = created_at_column()


class ActivationCodeSet(Base):
    """The latest set of activation codes issued for a unit's subtree, one row per unit,
    replaced by the next issue, so that the set can be downloaded again. The codes are secrets:
    the set is sealed at rest (SM4-GCM); `activation_codes.code_hash` stays what activation
    checks, and each download marks the codes that no longer work."""

    __tablename__ = "activation_code_sets"

    id: Mapped[str] = id_column()
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), unique=True)
    issued_by: Mapped[str | None] = mapped_column(String(26))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(EncryptedBlob("activation_code_sets.content"), deferred=True)


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[str] = id_column()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    mfa_state: Mapped[str] = mapped_column(String(20))
    idle_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = created_at_column()
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class LoginThrottle(Base):
    """Failed-attempt counter per login key (known or unknown user alike)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class RosterImport(Base):
    __tablename__ = "roster_imports"

    id: Mapped[str] = id_column()
    created_by: Mapped[str] = mapped_column(String(26))
    filename: Mapped[str] = mapped_column(String(200))
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    report: Mapped[bytes | None] = mapped_column(EncryptedBlob("roster_imports.report"))
    created_at: Mapped[datetime] = created_at_column()
