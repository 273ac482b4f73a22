"""A toy domain that plugs in with one manifest (tests/core/test_manifests.py): a router, a
model-free permission held by grid workers, a workbench tile and a CLI command."""

from __future__ import annotations

from zhengding.core.manifest import App, Manifest, Permission, Plug

manifest = Manifest(
    name="toy",
    label="玩具",
    routers=(Plug("tests.core.toy_domain.router:router"),),
    routes={"GET /api/toy/ping": "toy.play"},
    permissions=(Permission("toy.play", "玩"),),
    roles={"grid_worker": ("toy.play",)},
    apps=(App("toy", "玩具", "star", "/toy", "toy.play"),),
    cli="tests.core.toy_domain.cli:register",
    event_types=("toy.ball.thrown",),
)
