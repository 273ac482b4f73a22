"""The WebSocket gateway on one node: authentication, envelopes, after-commit publishing,
unit fan-out, several devices, resume by sequence, reload on an old gap, heartbeat."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from sqlalchemy import func, select

from tests.conftest import Personas
from tests.realtime.support import WsClient
from zhengding.core import outbox
from zhengding.core.db import get_db
from zhengding.core.events import publish_event


async def raise_event(type_: str, payload: dict, *, users=(), units=()) -> None:
    async with get_db().unit_of_work() as session:
        publish_event(session, type_, payload, users=users, units=units)


class TestConnect:
    async def test_hello_after_valid_token(self, live_server, personas: Personas):
        client = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        assert client.frames[0]["data"]["user_id"] == personas.grid1.user_id
        await client.close()

    async def test_refuses_bad_token_with_4401(self, live_server):
        conn = await websockets.connect(live_server.ws_url("not-a-token"))
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.rcvd.code == 4401

    async def test_ping_gets_pong(self, live_server, personas: Personas):
        client = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        await client.conn.send('{"type":"ping"}')
        assert (await client.next())["type"] == "pong"
        await client.close()


class TestPublish:
    async def test_event_reaches_user_after_commit_with_envelope(self, live_server, personas: Personas):
        client = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        await raise_event("test.thing.happened", {"n": 1}, users=[personas.grid1.user_id])
        frame = await client.next_of("test.thing.happened")
        assert set(frame) == {"seq", "type", "at", "data"} and frame["data"] == {"n": 1}
        await raise_event("test.thing.happened", {"n": 2}, users=[personas.grid1.user_id])
        second = await client.next_of("test.thing.happened")
        assert second["seq"] == frame["seq"] + 1
        await client.close()

    async def test_rollback_publishes_nothing_and_leaves_no_outbox_row(
        self, live_server, personas: Personas, gateway
    ):
        client = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        marker = f"rollback-{id(client)}"
        with pytest.raises(RuntimeError):
            async with get_db().unit_of_work() as session:
                publish_event(session, "test.rolled.back", {"marker": marker}, users=[personas.grid1.user_id])
                outbox.enqueue(session, "test.noop", {"marker": marker})
                await session.flush()
                raise RuntimeError("business rule failed")
        await gateway.flush()
        assert [f for f in await client.drain(0.3) if f["type"] == "test.rolled.back"] == []
        async with get_db().unit_of_work(readonly=True) as session:
            rows = (
                await session.execute(
                    select(func.count())
                    .select_from(outbox.OutboxRow)
                    .where(outbox.OutboxRow.handler == "test.noop")
                )
            ).scalar_one()
        assert rows == 0
        await client.close()

    async def test_unit_event_reaches_members_of_that_subtree_only(self, live_server, personas: Personas):
        one = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        two = await WsClient.connect(live_server.ws_url(personas.grid2.token))
        await raise_event("test.village.notified", {}, units=[personas.grid1.unit_id])
        assert (await one.next_of("test.village.notified"))["type"] == "test.village.notified"
        assert [f for f in await two.drain(0.3) if f["type"] == "test.village.notified"] == []
        await one.close()
        await two.close()

    async def test_every_device_of_a_user_receives(self, live_server, personas: Personas):
        phone = await WsClient.connect(live_server.ws_url(personas.town.token))
        desk = await WsClient.connect(live_server.ws_url(personas.town.token))
        await raise_event("test.both.devices", {}, users=[personas.town.user_id])
        a = await phone.next_of("test.both.devices")
        b = await desk.next_of("test.both.devices")
        assert a["seq"] == b["seq"]
        await phone.close()
        await desk.close()


class TestResume:
    async def test_reconnect_with_last_seq_gets_exactly_the_missed_events(
        self, live_server, personas: Personas, gateway
    ):
        user = personas.grid2.user_id
        client = await WsClient.connect(live_server.ws_url(personas.grid2.token))
        await raise_event("test.before", {"i": 0}, users=[user])
        await client.next_of("test.before")
        last = client.last_seq
        await client.close()
        for i in range(1, 4):
            await raise_event("test.missed", {"i": i}, users=[user])
        await gateway.flush()
        again = await WsClient.connect(live_server.ws_url(personas.grid2.token, since=last))
        frames = [f for f in await again.drain(0.4) if "seq" in f]
        assert [f["data"]["i"] for f in frames] == [1, 2, 3]
        assert [f["seq"] for f in frames] == [last + 1, last + 2, last + 3]
        # live events continue the same sequence
        await raise_event("test.live", {}, users=[user])
        assert (await again.next_of("test.live"))["seq"] == last + 4
        await again.close()

    async def test_gap_older_than_the_store_asks_for_reload(self, live_server, personas: Personas, gateway):
        user = personas.xiuying.user_id
        client = await WsClient.connect(live_server.ws_url(personas.xiuying.token))
        await raise_event("test.before", {}, users=[user])
        await client.next_of("test.before")
        last = client.last_seq
        await client.close()
        saved = gateway.broker.max_events
        gateway.broker.max_events = 3
        try:
            for i in range(5):
                await raise_event("test.flood", {"i": i}, users=[user])
            await gateway.flush()
        finally:
            gateway.broker.max_events = saved
        again = await WsClient.connect(live_server.ws_url(personas.xiuying.token, since=last))
        frames = await again.drain(0.4)
        assert frames[0]["type"] == "realtime.reload"
        assert not [f for f in frames if f["type"] == "test.flood"]
        await again.close()

    async def test_since_from_the_future_asks_for_reload(self, live_server, personas: Personas):
        client = await WsClient.connect(live_server.ws_url(personas.grid1.token, since=10**15))
        frames = await client.drain(0.3)
        assert frames and frames[0]["type"] == "realtime.reload"
        await client.close()


class TestSession:
    async def test_revoked_session_closes_its_sockets(self, live_server, personas: Personas):
        client = await WsClient.connect(live_server.ws_url(personas.haikou.token))
        await raise_event(
            "accounts.session.revoked", {"session_id": "some-other-session"}, users=[personas.haikou.user_id]
        )
        await client.next_of("accounts.session.revoked")  # another session's: still open
        await client.conn.send("ping")
        assert (await client.next())["type"] == "pong"
        await raise_event("accounts.session.revoked", {"session_id": None}, users=[personas.haikou.user_id])
        with pytest.raises(websockets.ConnectionClosed) as info:
            for _ in range(5):
                await client.next()
        assert info.value.rcvd.code == 4401
