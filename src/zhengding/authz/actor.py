"""The actor: who is acting, resolved once per request, with grants per permission."""

from __future__ import annotations

from dataclasses import dataclass, field

from zhengding.authz.roles import ROLES, DataScope


@dataclass(frozen=True)
class Grant:
    role: str
    scope: DataScope
    unit_id: str
    unit_path: str


@dataclass
class Actor:
    user_id: str
    name: str
    grants: list[Grant] = field(default_factory=list)
    session_id: str | None = None
    ip: str | None = None
    request_id: str | None = None
    unit_id: str | None = None  # primary unit, recorded in audit rows
    unit_name: str | None = None

    @property
    def roles(self) -> list[str]:
        return sorted({g.role for g in self.grants})

    @property
    def permissions(self) -> set[str]:
        perms: set[str] = set()
        for g in self.grants:
            perms |= ROLES[g.role].permissions
        return perms

    @property
    def is_admin(self) -> bool:
        return any(ROLES[g.role].admin for g in self.grants)

    def can(self, permission: str) -> bool:
        return any(permission in ROLES[g.role].permissions for g in self.grants)

    def grants_for(self, permission: str) -> list[Grant]:
        return [g for g in self.grants if permission in ROLES[g.role].permissions]


SYSTEM = Actor(user_id="system", name="系统")
