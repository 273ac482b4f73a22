from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from zhengding.core.schemas import RequestModel


class LoginRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")
    login: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class CodeRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=6, max_length=8)


class PasswordChange(RequestModel):
    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class ActivationRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=1, max_length=20)
    code: str = Field(min_length=4, max_length=20)
    password: str = Field(min_length=1, max_length=200)
    device_id: str | None = Field(default=None, max_length=100)


class MeUnit(BaseModel):
    id: str
    name: str
    kind: str
    path_names: list[str]
    position: str


class RoleRead(BaseModel):
    id: str
    role: str
    role_label: str
    unit_id: str
    unit_name: str


class Me(BaseModel):
    id: str
    name: str
    username: str | None
    phone_masked: str
    phone_last4: str
    units: list[MeUnit]
    roles: list[RoleRead]
    permissions: list[str]
    is_admin: bool
    idle_timeout_seconds: int
    totp_enabled: bool


class LoginResponse(BaseModel):
    token: str
    expires_at: datetime
    mfa: str
    me: Me


class MfaResponse(BaseModel):
    mfa: str
    me: Me


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str
    qr_svg: str


class TokenResponse(BaseModel):
    token: str
    expires_at: datetime


class Ok(BaseModel):
    ok: bool = True


class AccountCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=1, max_length=20)
    unit_id: str
    position: str = Field(default="", max_length=50)
    id_number: str | None = Field(default=None, max_length=20)
    username: str | None = Field(default=None, max_length=50, pattern=r"^[A-Za-z][A-Za-z0-9_.-]{2,49}$")


class AccountUnit(BaseModel):
    id: str
    name: str
    position: str


class AccountRead(BaseModel):
    id: str
    name: str
    username: str | None
    phone_masked: str
    id_number_masked: str | None
    status: str
    units: list[AccountUnit]
    roles: list[RoleRead]
    activated_at: datetime | None
    created_at: datetime


class AccountList(BaseModel):
    items: list[AccountRead]
    total: int


class RoleAssign(RequestModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    unit_id: str


class RoleDefRead(BaseModel):
    role: str
    label: str
    scope: str
    permissions: list[str]
    admin: bool


class ActivationCodeSetRead(BaseModel):
    """A set of activation codes just issued for a unit's subtree (the codes themselves are
    downloaded with GET /api/orgs/{unit_id}/activation-codes)."""

    unit_id: str
    unit_name: str
    count: int
    issued_at: datetime
    expires_at: datetime
