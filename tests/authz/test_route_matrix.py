"""The route → permission matrix (authz/routes.toml) is complete, and every route it does not
declare public refuses a request without a token. Routers a domain manifest adds later
are covered without changing this file."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import WebSocketRoute

from zhengding import domains
from zhengding.authz.matrix import PUBLIC, SPECIAL, matrix, permission_for
from zhengding.authz.roles import ROLES

DUMMY_ID = "0" * 26


def _walk(router: APIRouter, prefix: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in router.routes:
        if isinstance(route, APIRoute):
            found += [(method, prefix + route.path) for method in sorted(route.methods - {"HEAD"})]
        elif isinstance(route, WebSocketRoute):
            found.append(("WEBSOCKET", prefix + route.path))
        elif hasattr(route, "original_router"):  # a router included in this router (FastAPI wraps it)
            found += _walk(route.original_router, prefix + route.include_context.prefix)
    return found


def api_routes() -> list[tuple[str, str]]:
    routes: list[tuple[str, str]] = []
    for router in domains.routers():
        routes += _walk(router)
    return routes


ROUTES = api_routes()
KEYS = [f"{method} {path}" for method, path in ROUTES]
HTTP_KEYS = [k for k in KEYS if not k.startswith("WEBSOCKET ")]  # the socket checks its token itself


def test_every_api_route_is_in_the_matrix():
    missing = sorted(set(KEYS) - set(matrix()))
    assert not missing, f"add these routes to authz/routes.toml: {missing}"


def test_every_matrix_entry_is_a_route():
    stale = sorted(set(matrix()) - set(KEYS))
    assert not stale, f"routes.toml names routes that do not exist: {stale}"


def test_every_matrix_value_is_a_permission_some_role_holds():
    held = set().union(*(role.permissions for role in ROLES.values())) | SPECIAL
    unknown = {key: value for key, value in matrix().items() if value not in held}
    assert not unknown, f"no role can use these routes: {unknown}"


def test_a_route_missing_from_the_matrix_cannot_be_served():
    with pytest.raises(RuntimeError, match="routes.toml"):
        permission_for("GET", "/api/not-in-the-matrix")


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", DUMMY_ID, path)


@pytest.mark.parametrize("key", [k for k in HTTP_KEYS if matrix().get(k) != PUBLIC])
async def test_non_public_route_refuses_a_request_without_token(client, db, key):
    method, path = key.split(" ", 1)
    r = await client.request(method, _url(path), json={} if method in ("POST", "PUT", "PATCH") else None)
    assert r.status_code == 401, f"{key}: {r.status_code} {r.text[:200]}"
    assert r.json()["error"]["code"] == "unauthenticated"
    r = await client.request(method, _url(path), headers={"Authorization": "Bearer not-a-real-token"})
    assert r.status_code == 401, f"{key} with a forged token: {r.status_code}"


@pytest.mark.parametrize("key", [k for k in HTTP_KEYS if matrix().get(k) == PUBLIC])
async def test_public_route_needs_no_token(client, db, key):
    method, path = key.split(" ", 1)
    r = await client.request(method, _url(path), json={} if method in ("POST", "PUT", "PATCH") else None)
    assert r.status_code not in (401, 403), f"{key}: {r.status_code} {r.text[:200]}"
    assert r.status_code < 500
