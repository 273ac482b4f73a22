"""Paging parameters out of range answer 422 naming the parameter, on every paged list, and the
client's keep-alive connection stays usable (#13 point 7: `page=4611686018427387904` used to
overflow the SQL OFFSET, answer 500 and drop the connection).

The paged lists are read from the OpenAPI document, so a list added later is covered."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi.routing import APIRoute

from tests.realtime.support import free_port
from zhengding.http import paging

HUGE = "4611686018427387904"  # 2**62: (page - 1) * page_size overflows a 64-bit integer

# (parameter value, the pydantic error type it triggers)
BAD_PAGES = [
    (HUGE, "less_than_equal"),
    (str(paging.MAX_PAGE + 1), "less_than_equal"),
    ("0", "greater_than_equal"),
    ("-1", "greater_than_equal"),
    ("-" + HUGE, "greater_than_equal"),
    ("abc", "int_parsing"),
    ("1.5", "int_parsing"),
    ("", "int_parsing"),
    ("9" * 5000, "int_parsing_size"),
]
BAD_SIZES = [
    (HUGE, "less_than_equal"),
    ("100000", "less_than_equal"),
    ("0", "greater_than_equal"),
    ("-5", "greater_than_equal"),
    ("x", "int_parsing"),
]
REASONS = {
    "less_than_equal": "数值过大",
    "greater_than_equal": "数值过小",
    "int_parsing": "应为整数",
    "int_parsing_size": "数值过大",
}
READERS = ("province", "sysadmin", "secadmin", "auditadmin")


def paged_lists(app: Any) -> list[tuple[str, set[str]]]:
    """(path, its paging parameters) of every GET in the document taking page, page_size or limit."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        op = operations.get("get")
        if op is None:
            continue
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        if names & {"page", "page_size", "limit"}:
            found.append((path, names & {"page", "page_size", "limit"}))
    return found


async def reader_of(client: httpx.AsyncClient, personas: Any, path: str) -> dict[str, str]:
    """The headers of the first persona allowed to read the list (some lists are the admins')."""
    for name in READERS:
        r = await client.get(path, headers=personas[name].headers)
        if r.status_code == 200:
            return personas[name].headers
    raise AssertionError(f"no persona may read {path}")


def bad_requests(app: Any) -> list[tuple[str, str, str, str]]:
    cases = []
    for path, names in paged_lists(app):
        for name in sorted(names):
            for value, kind in BAD_PAGES if name == "page" else BAD_SIZES:
                cases.append((path, name, value, kind))
    return cases


def test_every_known_paged_list_is_found(app):
    paths = {path for path, _ in paged_lists(app)}
    assert paths == {
        "/api/accounts",
        "/api/audit",
        "/api/notifications",
        "/api/ding/sent",
        "/api/ding/received",
        "/api/outbox",
        "/api/sms",
        "/api/verification/tasks",
        "/api/verification/transfers",
        "/api/supervision/items",
        "/api/returnees",
        "/api/returnees/routing-queue",
    }


def test_paging_parameters_come_only_from_the_shared_dependency(app):
    """No route declares its own page/page_size/limit/before: a new list cannot skip the bounds."""
    shared = {"page_params", "keyset_params", "paged_keyset_params"}

    def own_params(dependant: Any, owner: str) -> list[str]:
        names = [
            f"{owner}:{p.name}"
            for p in dependant.query_params
            if p.name in {"page", "page_size", "limit", "before"} and owner not in shared
        ]
        for sub in dependant.dependencies:
            names += own_params(sub, getattr(sub.call, "__name__", "?"))
        return names

    offenders = [
        (route.path, own_params(route.dependant, route.name))
        for route in app.routes
        if isinstance(route, APIRoute)
    ]
    assert [o for o in offenders if o[1]] == []


async def test_out_of_range_paging_answers_422_naming_the_parameter(app, client, personas):
    wrong = []
    for path, name, value, kind in bad_requests(app):
        r = await client.get(path, params={name: value}, headers=await reader_of(client, personas, path))
        body = r.json()
        details = body.get("error", {}).get("details", [])
        expected = {"field": name, "reason": REASONS[kind]}
        if r.status_code != 422 or expected not in details or body["error"]["code"] != "validation_failed":
            wrong.append((path, name, value[:30], r.status_code, body))
    assert wrong == []


async def test_the_largest_allowed_page_is_an_empty_page(app, client, personas):
    for path, names in paged_lists(app):
        if "page" not in names:
            continue
        r = await client.get(
            path, params={"page": str(paging.MAX_PAGE)}, headers=await reader_of(client, personas, path)
        )
        assert r.status_code == 200, (path, r.text)
        assert r.json()["items"] == [], path


async def test_keep_alive_connection_survives_bad_paging(app, client, personas):
    """Over real HTTP/1.1 (uvicorn in the test loop): one connection, every bad request answered
    422 on it, then a good one still answered on the same connection."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started
    local_ports = set()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers=personas.province.headers,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        ) as http:
            for path, name, value, _ in bad_requests(app):
                headers = await reader_of(client, personas, path)
                r = await http.get(path, params={name: value}, headers=headers)
                assert r.status_code == 422, (path, name, value, r.text)
                assert r.headers.get("connection", "").lower() != "close"
                local_ports.add(r.extensions["network_stream"].get_extra_info("client_addr")[1])
            r = await http.get("/api/verification/tasks", params={"page": "1", "page_size": "5"})
            assert r.status_code == 200, r.text
            local_ports.add(r.extensions["network_stream"].get_extra_info("client_addr")[1])
    finally:
        server.should_exit = True
        await task
    assert len(local_ports) == 1
