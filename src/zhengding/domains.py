"""The composition root: every domain package's manifest, in their order, and `install`, which
fills the platform's registries from them.

The app (`app.create_app`), the worker (`zhengding worker`), the CLI, Alembic's env (through
`zhengding.models`) and the tests all install this same list, so what a process knows (routes,
models, the permissions each role holds, outbox handlers and schedules, workbench tiles,
revealers, file owners, NAT listeners, CLI commands, path columns) never depends on which
module happened to be imported first. A new domain is a package with a `manifest.py` and one
line here.

Order matters where the registries keep an order: workbench tiles and to-dos are shown in
manifest order; routers and services go by their `order` first, then by manifest order.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import Any

from zhengding.accounts.manifest import manifest as accounts
from zhengding.audit.manifest import manifest as audit
from zhengding.authz import matrix, roles
from zhengding.core import files, jobs, outbox
from zhengding.core.manifest import Manifest, Plug, load
from zhengding.core.platform_manifest import manifest as platform
from zhengding.divisions.manifest import manifest as divisions
from zhengding.notify.manifest import manifest as notify
from zhengding.orgs import moves
from zhengding.orgs.manifest import manifest as orgs
from zhengding.privacy import service as privacy_service
from zhengding.privacy.manifest import manifest as privacy
from zhengding.realtime.manifest import manifest as realtime
from zhengding.returnees.manifest import manifest as returnees
from zhengding.supervision.manifest import manifest as supervision
from zhengding.verification import nat
from zhengding.verification.manifest import manifest as verification
from zhengding.workbench import service as workbench_service
from zhengding.workbench.manifest import manifest as workbench

MANIFESTS: list[Manifest] = [
    platform,
    divisions,
    orgs,
    accounts,
    audit,
    privacy,
    workbench,
    notify,
    realtime,
    verification,
    supervision,
    returnees,
]

_installed: list[Manifest] = []


def install(manifests: Iterable[Manifest] = MANIFESTS) -> None:
    """Fill the registries from `manifests`. Idempotent: a manifest already installed (by name)
    is skipped, so every entry point may call it."""
    done = {m.name for m in _installed}
    fresh = []
    for m in manifests:
        if m.name not in done:
            done.add(m.name)
            fresh.append(m)
    for m in fresh:  # every model before any code that maps queries over them
        for module in m.models:
            importlib.import_module(module)
    for m in fresh:
        _install_one(m)
        _installed.append(m)


def installed() -> tuple[Manifest, ...]:
    """The manifests installed in this process (the standard list unless a caller installed
    others first)."""
    if not _installed:
        install(MANIFESTS)
    return tuple(_installed)


def _sorted_plugs(plugs: Iterable[Plug]) -> list[Plug]:
    return sorted(plugs, key=lambda p: p.order)  # stable: manifest order within one order


def router_refs(manifests: Sequence[Manifest] | None = None) -> list[str]:
    """The "module:attribute" references of the routers, in the order the app includes them."""
    ms = manifests if manifests is not None else installed()
    return [p.ref for p in _sorted_plugs(p for m in ms for p in m.routers)]


def routers(manifests: Sequence[Manifest] | None = None) -> list[Any]:
    """The APIRouters of the installed manifests, in the order the app includes them."""
    ms = manifests if manifests is not None else installed()
    return [load(p.ref) for p in _sorted_plugs(p for m in ms for p in m.routers)]


def services(manifests: Sequence[Manifest] | None = None) -> list[Any]:
    """The lifespan services (async context manager factories taking the settings), in order."""
    ms = manifests if manifests is not None else installed()
    return [load(p.ref) for p in _sorted_plugs(p for m in ms for p in m.services)]


def register_commands(app: Any) -> None:
    """Add each installed domain's CLI commands to the typer app."""
    for m in installed():
        if m.cli:
            load(m.cli)(app)


def _install_one(m: Manifest) -> None:
    if m.routes:
        matrix.declare_routes(dict(m.routes))
    for p in m.permissions:
        roles.declare_permission(p.name, p.label)
    for role, perms in m.roles.items():
        roles.extend_role(role, *perms)
    for h in m.handlers:
        outbox.handler(h.name, prepare=load(h.prepare) if h.prepare else None)(load(h.ref))
    for s in m.schedules:
        jobs.schedule(s.handler, every=s.every)
    for a in m.apps:
        workbench_service.register_app(workbench_service.App(a.key, a.name, a.icon, a.url, a.permission))
    for t in m.todos:
        workbench_service.register_todo(
            workbench_service.Todo(t.key, t.label, t.url, t.permission, load(t.count))
        )
    for target_type, ref in m.revealers.items():
        privacy_service.register_revealer(target_type, load(ref))
    for owner_type, ref in m.file_owners.items():
        files.register_owner(owner_type, load(ref))
    for ref in m.nat_listeners:
        nat.register_nat_listener(load(ref))
    if m.path_columns:
        moves.register_path_columns(load(m.path_columns))
    for ref in m.move_followers:
        moves.register_move_follower(load(ref))
