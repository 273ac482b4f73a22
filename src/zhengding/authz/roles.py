"""Permissions (named strings) and the built-in roles with their data scope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class DataScope(StrEnum):
    SELF = "self"
    UNIT = "unit"
    SUBTREE = "subtree"
    ALL = "all"


class Perm(StrEnum):
    DIRECTORY_READ = "directory.read"
    ORGS_MANAGE = "orgs.manage"
    ACCOUNTS_READ = "accounts.read"
    ACCOUNTS_MANAGE = "accounts.manage"
    ACCOUNTS_IMPORT = "accounts.import"
    ACTIVATION_EXPORT = "activation.export"
    ACTIVATION_STATS = "activation.stats"
    ROLES_ASSIGN = "roles.assign"
    SESSIONS_MANAGE = "sessions.manage"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFY = "audit.verify"
    PERSONAL_DATA_REVEAL = "personal_data.reveal"


@dataclass(frozen=True)
class RoleDef:
    name: str
    label: str
    scope: DataScope
    permissions: frozenset[str]
    admin: bool = False


_STAFF = {Perm.DIRECTORY_READ}
_COMMAND = _STAFF | {
    Perm.ACCOUNTS_READ,
    Perm.ACTIVATION_EXPORT,
    Perm.ACTIVATION_STATS,
    Perm.PERSONAL_DATA_REVEAL,
}


def _role(name: str, label: str, scope: DataScope, perms: Iterable[str], admin: bool = False) -> RoleDef:
    return RoleDef(name, label, scope, frozenset(str(p) for p in perms), admin)


ROLES: dict[str, RoleDef] = {
    r.name: r
    for r in [
        _role("province_command", "省指挥部工作人员", DataScope.SUBTREE, _COMMAND),
        _role("city_command", "市(县)指挥部工作人员", DataScope.SUBTREE, _COMMAND),
        _role("county_command", "区(县)指挥部工作人员", DataScope.SUBTREE, _COMMAND),
        _role("town_command", "乡镇(街道)指挥部工作人员", DataScope.SUBTREE, _COMMAND),
        _role(
            "village_staff",
            "村(社区)工作人员",
            DataScope.SUBTREE,
            _STAFF | {Perm.ACTIVATION_STATS, Perm.PERSONAL_DATA_REVEAL},
        ),
        _role("grid_worker", "网格员", DataScope.SUBTREE, _STAFF | {Perm.PERSONAL_DATA_REVEAL}),
        # Separation of duties (三权分立): an account holding one of these holds nothing else
        # (see duties_conflict).
        _role(
            "system_admin",
            "系统管理员",
            DataScope.SUBTREE,
            _STAFF
            | {
                Perm.ORGS_MANAGE,
                Perm.ACCOUNTS_READ,
                Perm.ACCOUNTS_MANAGE,
                Perm.ACCOUNTS_IMPORT,
                Perm.ACTIVATION_EXPORT,
                Perm.ACTIVATION_STATS,
            },
            admin=True,
        ),
        _role(
            "security_admin",
            "安全管理员",
            DataScope.SUBTREE,
            _STAFF | {Perm.ACCOUNTS_READ, Perm.ROLES_ASSIGN, Perm.SESSIONS_MANAGE},
            admin=True,
        ),
        _role(
            "audit_admin", "审计管理员", DataScope.SUBTREE, {Perm.AUDIT_READ, Perm.AUDIT_VERIFY}, admin=True
        ),
    ]
}

ADMIN_ROLES = frozenset(name for name, role in ROLES.items() if role.admin)
ALL_PERMISSIONS = frozenset(str(p) for p in Perm)


def duties_conflict(held: str, role: str) -> bool:
    """Separation of duties (三权分立): may one account not hold both `held` and `role`?
    An administrator role is held alone: never beside a business role, never beside another
    administrator role. The same role at several units is one duty."""
    return held != role and (held in ADMIN_ROLES or role in ADMIN_ROLES)


def role_label(role: str) -> str:
    """A role in words; a name no longer defined (an old row) is not shown raw."""
    return ROLES[role].label if role in ROLES else "已停用的角色"


# Every permission in words: the platform's (Perm) and those the domain manifests declare.
PERMISSION_LABELS: dict[str, str] = {}


def declare_permission(name: str, label: str) -> None:
    """A permission a domain manifest brings (zhengding.domains.install)."""
    PERMISSION_LABELS[name] = label


def extend_role(role: str, *permissions: str) -> None:
    """A domain's manifest adds its permissions to a built-in role (zhengding.domains.install)."""
    current = ROLES[role]
    ROLES[role] = RoleDef(
        current.name,
        current.label,
        current.scope,
        current.permissions | frozenset(permissions),
        current.admin,
    )
