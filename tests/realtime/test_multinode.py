"""Two server processes on one machine sharing PostgreSQL and Redis: an event raised through
node A reaches a client on node B; a client that reconnects to the other node with its last
sequence number gets exactly the events it missed."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TEST_DB_URL, TEST_REDIS_URL
from tests.realtime.multinode import Node, recreate_database, seed, server_env
from tests.realtime.support import WsClient

pytestmark = pytest.mark.skipif(
    not (TEST_DB_URL and "postgresql" in TEST_DB_URL and TEST_REDIS_URL),
    reason="needs ZD_TEST_DATABASE_URL (PostgreSQL) and ZD_TEST_REDIS_URL",
)


@pytest.fixture(scope="module")
async def nodes():
    url = await recreate_database(TEST_DB_URL, "zd_multinode")
    env = server_env(url, TEST_REDIS_URL, ZD_RUN_WORKER="0")
    seed(env)
    a, b = Node(env, "node-a"), Node(env, "node-b")
    try:
        await a.wait_ready()
        await b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


async def login(node: Node, username: str) -> str:
    from zhengding.demo import DEMO_PASSWORD

    async with httpx.AsyncClient() as client:
        r = await client.post(
            node.base + "/api/auth/login", json={"login": username, "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200, r.text
        return r.json()["token"]


async def ding(node: Node, token: str, user_id: str, content: str) -> str:
    async with httpx.AsyncClient() as client:
        r = await client.post(
            node.base + "/api/ding",
            json={"content": content, "user_ids": [user_id]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        return r.json()["id"]


async def me(node: Node, token: str) -> str:
    async with httpx.AsyncClient() as client:
        r = await client.get(node.base + "/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        return r.json()["id"]


async def test_event_through_a_reaches_b_and_resume_on_the_other_node(nodes):
    a, b = nodes
    town = await login(a, "town")
    grid = await login(b, "grid1")
    grid_id = await me(b, grid)

    on_b = await WsClient.connect(b.ws(grid))
    assert on_b.frames[0]["data"]["node"] == "node-b"
    first = await ding(a, town, grid_id, "第一条")
    frame = await on_b.next_of("notify.ding.received")
    assert frame["data"]["ding_id"] == first
    last = on_b.last_seq
    await on_b.close()

    missed = [await ding(a, town, grid_id, "第二条"), await ding(b, town, grid_id, "第三条")]

    on_a = await WsClient.connect(a.ws(grid, since=last))
    assert on_a.frames[0]["data"]["node"] == "node-a"
    frames = [f for f in await on_a.drain(0.5) if "seq" in f]
    assert [f["data"]["ding_id"] for f in frames] == missed
    assert [f["seq"] for f in frames] == [last + 1, last + 2]

    # and live again, from either node
    later = await ding(b, town, grid_id, "第四条")
    assert (await on_a.next_of("notify.ding.received"))["data"]["ding_id"] == later
    await on_a.close()
