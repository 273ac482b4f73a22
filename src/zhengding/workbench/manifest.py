"""The workbench (工作台): the home of every user, tiles and to-dos from the other manifests."""

from __future__ import annotations

from zhengding.core.manifest import Manifest, Plug, Todo

manifest = Manifest(
    name="workbench",
    label="工作台",
    routers=(Plug("zhengding.workbench.router:router", order=33),),
    todos=(
        Todo(
            "pending_activation",
            "待激活账号",
            "/activation",
            "activation.stats",
            "zhengding.workbench.service:pending_accounts",
        ),
    ),
)
