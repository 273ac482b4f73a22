"""What a domain package brings to the platform, declared once: `<package>/manifest.py` holds
`manifest = Manifest(...)`, and `zhengding/domains.py` lists the manifests in their order.

A manifest is plain data. Everything executable is named by a "module:attribute" reference
(`Ref`), imported only when the manifests are installed (`zhengding.domains.install`), so that
reading a manifest imports nothing of its domain and no registry depends on which module
happened to be imported first. `core` imports no domain: this module only describes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

Ref = str  # "package.module:attribute"


def load(ref: Ref) -> Any:
    """The object a "module:attribute" reference names."""
    module, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"not a module:attribute reference: {ref!r}")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Plug:
    """A router or a lifespan service. The app includes routers (and enters services) by
    ascending `order`, then in manifest order: a request is matched against the routes in this
    order, so the machine-to-machine inbound routers carry the lowest numbers."""

    ref: Ref
    order: int = 100


@dataclass(frozen=True)
class Permission:
    name: str
    label: str  # in words, for the administrators' console


@dataclass(frozen=True)
class Handler:
    """An outbox handler: `fn(session, payload)`; with `prepare`, the external call runs first
    outside any transaction and the handler records its outcome `fn(session, payload, prepared)`."""

    name: str
    ref: Ref
    prepare: Ref | None = None


@dataclass(frozen=True)
class Schedule:
    """Run the outbox handler `handler` once per `every`, across all nodes (core/jobs.py)."""

    handler: str
    every: timedelta


@dataclass(frozen=True)
class App:
    """A workbench tile, shown to holders of `permission`."""

    key: str
    name: str
    icon: str
    url: str
    permission: str


@dataclass(frozen=True)
class Todo:
    """A workbench to-do: `count(session, actor) -> int`, shown to holders of `permission` when
    above zero."""

    key: str
    label: str
    url: str
    permission: str
    count: Ref


@dataclass(frozen=True)
class Manifest:
    name: str  # the package, e.g. "verification"
    label: str  # in words
    routers: tuple[Plug, ...] = ()
    # Route-matrix lines ("GET /api/x" → permission) beside authz/routes.toml, for a domain
    # that keeps its own (the built-in domains' lines are in routes.toml).
    routes: Mapping[str, str] = field(default_factory=dict)
    # Modules defining SQLAlchemy models: imported for the metadata (Alembic, tests, create_all).
    models: tuple[str, ...] = ()
    permissions: tuple[Permission, ...] = ()
    # Built-in role → the permissions of this domain it also holds.
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    services: tuple[Plug, ...] = ()  # async context managers taking the settings
    handlers: tuple[Handler, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    apps: tuple[App, ...] = ()
    todos: tuple[Todo, ...] = ()
    # privacy.reveal: target type → `async fn(session, actor, target_id, field) -> str | None`
    revealers: Mapping[str, Ref] = field(default_factory=dict)
    # Attachments: owner type → `async fn(session, actor, owner_id) -> bool` (may the actor see it)
    file_owners: Mapping[str, Ref] = field(default_factory=dict)
    # Called once per newly recorded nucleic-acid result, inside the recording transaction.
    nat_listeners: tuple[Ref, ...] = ()
    cli: Ref | None = None  # `register(app: typer.Typer) -> None`
    event_types: tuple[str, ...] = ()  # "<domain>.<noun>.<past verb>" published to clients
    # A function returning the orgs.moves.PathColumn copies of unit paths this domain keeps,
    # and the follow-ups run after a unit move rewrote them.
    path_columns: Ref | None = None
    move_followers: tuple[Ref, ...] = ()
