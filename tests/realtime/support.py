"""Test support for real-time and notify tests: their tables, a live server, a WebSocket client."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import orjson
import websockets

from zhengding.core.db import Database
from zhengding.realtime.wsprotocol import IMPORT_PATH as WS_PROTOCOL

MY_TABLES = ("outbox", "notifications", "dings", "ding_recipients", "sms_messages")


async def ensure_tables(db: Database) -> None:
    """Create this issue's tables when the migrations do not have them yet."""
    import zhengding.models  # noqa: F401
    from zhengding.core.models import Base

    tables = [Base.metadata.tables[name] for name in MY_TABLES]
    async with db.write_engine.begin() as conn:
        await conn.run_sync(lambda sync: Base.metadata.create_all(sync, tables=tables, checkfirst=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The test app served by uvicorn inside the test event loop (lifespan: gateway on)."""

    def __init__(self, app: Any, ws: str = WS_PROTOCOL) -> None:
        import uvicorn

        self.port = free_port()
        self.config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws_ping_interval=None,
            ws=ws,
        )
        self.server = uvicorn.Server(self.config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        for _ in range(200):
            if self.server.started:
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("uvicorn did not start")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task:
            await self.task

    def ws_url(self, token: str, since: int | None = None) -> str:
        url = f"ws://127.0.0.1:{self.port}/ws?token={token}"
        return url + (f"&since={since}" if since is not None else "")


class WsClient:
    """A WebSocket client that collects envelopes; `last_seq` as the web client keeps it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.frames: list[dict[str, Any]] = []
        self.last_seq: int | None = None

    @classmethod
    async def connect(cls, url: str) -> WsClient:
        client = cls(await websockets.connect(url, max_queue=None))
        hello = await client.next(timeout=5)
        assert hello["type"] == "realtime.hello", hello
        return client

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        raw = await asyncio.wait_for(self.conn.recv(), timeout)
        frame = orjson.loads(raw)
        if isinstance(frame.get("seq"), int):
            self.last_seq = frame["seq"]
        self.frames.append(frame)
        return frame

    async def next_of(self, type_: str, timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.next(max(0.01, deadline - loop.time()))
            if frame["type"] == type_:
                return frame

    async def drain(self, quiet: float = 0.3) -> list[dict[str, Any]]:
        """Frames until none arrives for `quiet` seconds."""
        out = []
        while True:
            try:
                out.append(await self.next(quiet))
            except TimeoutError:
                return out

    async def close(self) -> None:
        await self.conn.close()


_shared: LiveServer | None = None


async def shared_server(app: Any) -> tuple[LiveServer, bool]:
    """One live server per test session, whichever directory's fixture asks first (owner stops it)."""
    global _shared
    if _shared is not None:
        return _shared, False
    _shared = LiveServer(app)
    await _shared.start()
    return _shared, True
