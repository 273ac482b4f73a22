"""The audit domain (审计日志): the hash-chained log of every mutation and refusal."""

from __future__ import annotations

from zhengding.core.manifest import App, Manifest, Permission, Plug

manifest = Manifest(
    name="audit",
    label="审计日志",
    routers=(Plug("zhengding.audit.router:router", order=31),),
    models=("zhengding.audit.models",),
    permissions=(
        Permission("audit.read", "查看审计日志"),
        Permission("audit.verify", "校验审计日志"),
    ),
    apps=(App("audit", "审计日志", "shield", "/audit", "audit.read"),),
)
