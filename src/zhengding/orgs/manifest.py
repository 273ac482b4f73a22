"""The orgs domain (组织机构 / 通讯录): the unit tree and the directory."""

from __future__ import annotations

from zhengding.core.manifest import App, Manifest, Permission, Plug

manifest = Manifest(
    name="orgs",
    label="组织机构",
    routers=(Plug("zhengding.orgs.router:router", order=30),),
    models=("zhengding.orgs.models",),
    permissions=(
        Permission("directory.read", "查看通讯录"),
        Permission("orgs.manage", "管理组织机构"),
    ),
    apps=(App("directory", "通讯录", "contacts", "/directory", "directory.read"),),
    event_types=("orgs.unit.created", "orgs.unit.renamed", "orgs.unit.moved"),
)
