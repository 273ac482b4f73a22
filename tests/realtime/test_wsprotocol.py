"""The synchronous text-frame write `zhengding serve` adds to uvicorn's WebSocket protocol
(realtime/wsprotocol.py): frames of every length class arrive intact, and a reader that stops
reading gets every frame, in order, once it reads again (the gateway switches to the ASGI send
while the socket pushes back, then back); once the client has sent its close, nothing more is
written directly."""

from __future__ import annotations

import asyncio

import orjson
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.uri import parse_uri

from tests.conftest import Personas
from tests.realtime.support import WsClient
from zhengding.realtime.gateway import Connection, Gateway
from zhengding.realtime.wsprotocol import text_frame


def _new_connection(gateway: Gateway, user_id: str, before: set[Connection]) -> Connection:
    (conn,) = gateway.connections.get(user_id, set()) - before
    return conn


def _tail(type_: str, data: dict) -> str:
    return orjson.dumps({"type": type_, "at": "2026-11-29T00:00:00+08:00", "data": data})[1:]


def test_text_frame_header_for_each_length_class():
    assert text_frame(b"a" * 125)[:2] == b"\x81\x7d"
    assert text_frame(b"a" * 126)[:4] == b"\x81\x7e\x00\x7e"
    assert text_frame(b"a" * 65536)[:10] == b"\x81\x7f" + (65536).to_bytes(8, "big")
    assert len(text_frame(b"a" * 70000)) == 10 + 70000


async def test_frames_of_every_length_arrive_intact(live_server, gateway, personas: Personas):
    user = personas.grid1.user_id
    before = set(gateway.connections.get(user, ()))
    client = await WsClient.connect(live_server.ws_url(personas.grid1.token))
    conn = _new_connection(gateway, user, before)
    assert conn.writes_directly
    texts = ["短", "网格" * 60, "核查任务" * 20000]  # frames < 126 bytes, < 64 KiB, > 64 KiB (UTF-8)
    for i, text in enumerate(texts):
        await gateway.broker.publish([user], _tail("test.frame.size", {"i": i, "text": text}))
    got = [await client.next_of("test.frame.size") for _ in texts]
    assert [f["data"] for f in got] == [{"i": i, "text": t} for i, t in enumerate(texts)]
    assert [f["seq"] for f in got] == list(range(got[0]["seq"], got[0]["seq"] + 3))
    await client.close()


async def test_reader_that_stops_reading_gets_every_frame_in_order(live_server, gateway, personas: Personas):
    user = personas.grid2.user_id
    before = set(gateway.connections.get(user, ()))
    protocol = ClientProtocol(parse_uri(live_server.ws_url(personas.grid2.token)), max_size=None)
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    protocol.send_request(protocol.connect())
    for data in protocol.data_to_send():
        writer.write(data)
    texts: list[str] = []
    conn: Connection | None = None

    async def read_until(count: int) -> None:
        while len(texts) < count:
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 16), 10)
            except TimeoutError:
                raise AssertionError(
                    f"stalled after {len(texts)} frames; queued {conn and conn.queued}, "
                    f"closed {conn and conn.closed}"
                ) from None
            assert chunk, "server closed the connection"
            protocol.receive_data(chunk)
            for event in protocol.events_received():
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    texts.append(event.data.decode())

    await read_until(1)  # hello
    conn = _new_connection(gateway, user, before)
    assert conn.writes_directly
    # ~24 MB while nobody reads: the kernel buffers fill, the transport pauses, frames queue
    count, blob = 800, "回" * 10000
    for i in range(count):
        await gateway.broker.publish([user], _tail("test.backpressure", {"i": i, "blob": blob}))
    assert conn.queued > 0 and not conn.closed
    await read_until(1 + count)
    frames = [orjson.loads(t) for t in texts[1:]]
    assert [f["data"]["i"] for f in frames] == list(range(count))
    assert [f["seq"] for f in frames] == list(range(frames[0]["seq"], frames[0]["seq"] + count))
    # after the queue drained, frames are written directly again
    assert conn.queued == 0
    await gateway.broker.publish([user], _tail("test.backpressure", {"i": count, "blob": ""}))
    await read_until(2 + count)
    assert orjson.loads(texts[-1])["data"]["i"] == count
    writer.close()


async def test_nothing_is_written_directly_after_the_client_sent_its_close(
    live_server, gateway, personas: Personas
):
    user = personas.grid2.user_id
    before = set(gateway.connections.get(user, ()))
    protocol = ClientProtocol(parse_uri(live_server.ws_url(personas.grid2.token)))
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    protocol.send_request(protocol.connect())
    writer.write(b"".join(protocol.data_to_send()))
    events: list[Frame] = []
    while not events:
        protocol.receive_data(await asyncio.wait_for(reader.read(1 << 16), 10))
        events += [e for e in protocol.events_received() if isinstance(e, Frame)]  # the hello
    conn = _new_connection(gateway, user, before)
    server_side = conn._send_now.__self__  # type: ignore[union-attr]
    assert server_side.send_text_now(b'{"type":"test.before.close"}')

    protocol.send_close(1000)
    writer.write(b"".join(protocol.data_to_send()))
    for _ in range(200):
        if server_side.conn.state is not State.OPEN:
            break
        await asyncio.sleep(0.01)
    assert server_side.send_text_now(b'{"type":"test.after.close"}') is False
    await gateway.broker.publish([user], _tail("test.after.close", {}))

    while chunk := await asyncio.wait_for(reader.read(1 << 16), 10):  # until the server closes
        protocol.receive_data(chunk)
        events += [e for e in protocol.events_received() if isinstance(e, Frame)]
    texts = [orjson.loads(e.data)["type"] for e in events if e.opcode is Opcode.TEXT]
    assert texts[1:] == ["test.before.close"]
    assert events[-1].opcode is Opcode.CLOSE
    writer.close()


async def test_keepalive_pings_of_a_crowd_that_connected_at_once_are_spread():
    import uvicorn

    from tests.realtime.support import free_port
    from zhengding.realtime.wsprotocol import IMPORT_PATH

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    interval, port = 1.0, free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            ws=IMPORT_PATH,
            lifespan="off",
            ws_ping_interval=interval,
            ws_ping_timeout=5.0,
            log_level="warning",
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(250):
        if server.started:
            break
        await asyncio.sleep(0.02)
    loop = asyncio.get_running_loop()

    async def first_ping_after_connect() -> float:
        protocol = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/"))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        protocol.send_request(protocol.connect())
        writer.write(b"".join(protocol.data_to_send()))
        start = None
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(1 << 16), 5)
                assert chunk
                protocol.receive_data(chunk)
                writer.write(b"".join(protocol.data_to_send()))  # the pong
                for event in protocol.events_received():
                    if start is None:
                        start = loop.time()  # the handshake answer
                    if isinstance(event, Frame) and event.opcode is Opcode.PING:
                        return loop.time() - start
        finally:
            writer.close()

    try:
        delays = await asyncio.gather(*(first_ping_after_connect() for _ in range(30)))
    finally:
        server.should_exit = True
        await task
    assert all(0.45 * interval <= d <= 1.6 * interval for d in delays), delays
    assert max(delays) - min(delays) > 0.3 * interval, delays  # uvicorn alone: all within a few ms
