"""Assertions used across the suite."""

from __future__ import annotations

import subprocess
from typing import IO, Any

import httpx


async def assert_scope_trio(
    client: httpx.AsyncClient,
    url: str,
    *,
    sees: Any,
    blind: Any,
    outsider: Any,
    method: str = "GET",
    json: Any = None,
) -> httpx.Response:
    """The scope trio for a detail endpoint: the owner's subtree sees it (200), the sibling
    subtree gets 404 (existence does not leak), an outsider without the permission gets 403."""
    ok = await client.request(method, url, headers=sees.headers, json=json)
    assert ok.status_code == 200, ok.text
    hidden = await client.request(method, url, headers=blind.headers, json=json)
    assert hidden.status_code == 404, hidden.text
    refused = await client.request(method, url, headers=outsider.headers, json=json)
    assert refused.status_code == 403, refused.text
    return ok


async def assert_list_scope_trio(
    client: httpx.AsyncClient,
    url: str,
    item_id: str,
    *,
    sees: Any,
    blind: Any,
    outsider: Any,
    items_key: str | None = None,
) -> None:
    """The scope trio for a list endpoint: present for the owner's subtree, absent for the
    sibling subtree, refused (403) for an outsider."""

    def ids(response: httpx.Response) -> set[str]:
        body = response.json()
        rows = body[items_key] if items_key else body
        return {row["id"] for row in rows}

    ok = await client.get(url, headers=sees.headers)
    assert ok.status_code == 200, ok.text
    assert item_id in ids(ok)
    other = await client.get(url, headers=blind.headers)
    assert other.status_code in (200, 404), other.text
    if other.status_code == 200:
        assert item_id not in ids(other)
    refused = await client.get(url, headers=outsider.headers)
    assert refused.status_code == 403, refused.text


def stop_process(proc: subprocess.Popen, log: IO[Any]) -> None:
    """Stop a server a test started (SIGTERM, then SIGKILL after 10 s) and close its log."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
