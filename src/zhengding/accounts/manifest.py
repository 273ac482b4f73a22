"""The accounts domain (账号): sign-in, one person one account, roles, rosters."""

from __future__ import annotations

from zhengding.core.manifest import App, Manifest, Permission, Plug

manifest = Manifest(
    name="accounts",
    label="账号",
    routers=(
        Plug("zhengding.accounts.router:auth_router", order=20),
        Plug("zhengding.accounts.router:router", order=21),
        Plug("zhengding.accounts.roster_router:router", order=22),
    ),
    models=("zhengding.accounts.models",),
    permissions=(
        Permission("accounts.read", "查看账号"),
        Permission("accounts.manage", "管理账号"),
        Permission("accounts.import", "导入花名册"),
        Permission("activation.export", "下发激活码"),
        Permission("activation.stats", "查看激活统计"),
        Permission("roles.assign", "分配角色"),
        Permission("sessions.manage", "管理会话"),
    ),
    services=(Plug("zhengding.accounts.service.duties:duties_check_service", order=40),),
    apps=(
        App("activation", "激活统计", "chart", "/activation", "activation.stats"),
        App("accounts", "账号管理", "user", "/accounts", "accounts.read"),
    ),
    revealers={"user": "zhengding.accounts.service.users:reveal_user_field"},
    event_types=("accounts.session.revoked",),
)
