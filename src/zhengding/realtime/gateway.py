"""The WebSocket gateway of one node: connections per user, fan-out, resume by sequence.

Use-cases: `attach` a freshly authenticated connection (subscribe, replay what it missed or
tell it to reload), `detach` it, `deliver` committed events (the after-commit sink), and
`online` (presence).

Sending: a frame is written at once through the server's synchronous write when it offers one
(`zhengding serve`: realtime/wsprotocol.py), else by stepping the ASGI `send` coroutine in place.
With a writable socket either completes without suspending, so a fan-out to thousands of sockets
costs no task per frame; when a socket pushes back (its buffer is full), the suspended send
is finished by a task and later frames queue behind it, so one slow client never holds up
the others. A connection whose queue passes MAX_PENDING is closed: the client reconnects and
resumes from its sequence number.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import orjson

from zhengding.config import Settings
from zhengding.core.broker import Broker, InProcessBroker, frame_seq, make_broker
from zhengding.core.db import get_db
from zhengding.core.events import Event

log = logging.getLogger("zhengding.realtime")

MAX_PENDING = 1000
SESSION_REVOKED = "accounts.session.revoked"  # payload {"session_id"}: its sockets are closed
CLOSE_SESSION_ENDED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_INTERNAL = 1011
ATTACH_ORDER_MIN = 256  # recipients from which a fan-out is written in connection order

ASGISend = Callable[[dict[str, Any]], Awaitable[None]]


def _control(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


_REVOKED = b'"type":"' + SESSION_REVOKED.encode() + b'"'  # frames start {"seq":N,"type":…


class Connection:
    """One WebSocket of a user. Frames are bytes (UTF-8 JSON) with their seq; control frames
    (hello, reload, pong) have seq 0."""

    __slots__ = (
        "user_id",
        "session_id",
        "_send",
        "_send_now",
        "_pending",
        "_busy",
        "_replaying",
        "closed",
        "_last_seq",
        "__weakref__",
    )

    def __init__(
        self,
        user_id: str,
        session_id: str | None,
        send: ASGISend,
        send_now: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.user_id = user_id
        self.session_id = session_id
        self._send = send
        self._send_now = (
            send_now  # the server's synchronous write, when it offers one (realtime/wsprotocol.py)
        )
        self._pending: deque[tuple[int, bytes]] | None = None
        self._busy = False
        self._replaying = False
        self.closed = False
        self._last_seq = 0  # highest seq sent, so replay and live frames never repeat

    @property
    def writes_directly(self) -> bool:
        """Whether the server offered its synchronous write (else every frame goes through ASGI)."""
        return self._send_now is not None

    @property
    def queued(self) -> int:
        """Frames waiting behind a send the socket pushed back on."""
        return len(self._pending) if self._pending else 0

    def push(self, seq: int, frame: bytes) -> None:
        if self.closed:
            return
        if self._busy or self._replaying:
            pending = self._pending
            if pending is None:
                pending = self._pending = deque()
            if len(pending) >= MAX_PENDING:
                self.abort(CLOSE_TOO_SLOW)
                return
            pending.append((seq, frame))
            return
        if seq:
            if seq <= self._last_seq:
                return
            self._last_seq = seq
        send_now = self._send_now
        if send_now is not None and send_now(frame):
            return
        coro = self._send({"type": "websocket.send", "text": frame.decode()})
        try:
            yielded = coro.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return
        except Exception:
            self.closed = True
            return
        self._busy = True
        asyncio.ensure_future(self._finish(coro, yielded))  # type: ignore[arg-type]

    async def _finish(self, coro: Coroutine[Any, Any, None], yielded: Any) -> None:
        try:
            while True:
                if yielded is None:
                    await asyncio.sleep(0)
                else:
                    # as asyncio.Task does with a future a coroutine yields: we wait on it here, and
                    # the coroutine's own await finds it done when resumed
                    yielded._asyncio_future_blocking = False
                    try:
                        await yielded
                    except BaseException:  # the coroutine sees the outcome when resumed
                        pass
                try:
                    yielded = coro.send(None)
                except StopIteration:
                    break
            while self._pending and not self.closed:
                seq, frame = self._pending.popleft()
                if seq:
                    if seq <= self._last_seq:
                        continue
                    self._last_seq = seq
                await self._send({"type": "websocket.send", "text": frame.decode()})
        except OSError:  # the peer is gone (uvicorn's ClientDisconnected)
            self.closed = True
        except Exception:
            log.warning("sending to a connection of %s failed; closing it", self.user_id, exc_info=True)
            self.abort(CLOSE_INTERNAL)  # the client reconnects and resumes from its sequence number
        finally:
            self._busy = False

    def begin_replay(self) -> None:
        self._replaying = True

    def end_replay(self, frames: list[tuple[int, bytes]]) -> None:
        """Send the replayed frames, then whatever arrived live meanwhile (duplicates skipped)."""
        self._replaying = False
        live = self._pending
        self._pending = None
        for seq, frame in frames:
            self.push(seq, frame)
        for seq, frame in live or ():
            self.push(seq, frame)

    def send_control(self, message: dict[str, Any]) -> None:
        self.push(0, _control(message))

    def abort(self, code: int) -> None:
        if self.closed:
            return
        self.closed = True
        self._pending = None

        async def close() -> None:
            try:
                await self._send({"type": "websocket.close", "code": code})
            except Exception:
                pass

        asyncio.ensure_future(close())


class Gateway:
    def __init__(
        self,
        *,
        redis_url: str | None = None,
        node_id: str = "local",
        retention: float = 3600.0,
        max_events: int = 1000,
        publish_only: bool = False,
    ) -> None:
        self.node_id = node_id
        self.connections: dict[str, set[Connection]] = {}
        self.broker: Broker = make_broker(
            self._on_frame,
            redis_url=redis_url,
            node_id=node_id,
            publish_only=publish_only,
            retention=retention,
            max_events=max_events,
        )
        self._queue: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.frames_out = 0

    # --- lifecycle ---

    async def start(self) -> None:
        await self.broker.start()
        self._publisher = asyncio.create_task(self._publish_loop(), name="realtime-publisher")
        if isinstance(self.broker, InProcessBroker):
            self._sweeper = asyncio.create_task(self._sweep_loop(), name="realtime-sweeper")

    async def stop(self) -> None:
        await self.flush()
        for task in (self._publisher, self._sweeper):
            if task:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        for conns in list(self.connections.values()):
            for conn in list(conns):
                conn.abort(1012)  # service restart: clients reconnect elsewhere and resume
        await self.broker.stop()

    async def flush(self) -> None:
        """Wait until every event handed to the sink so far is published (tests, shutdown)."""
        await self._queue.join()

    # --- connections ---

    async def attach(self, conn: Connection, since: int | None) -> None:
        conns = self.connections.get(conn.user_id)
        first = not conns
        if first:
            conns = self.connections[conn.user_id] = set()
        conns.add(conn)  # type: ignore[union-attr]
        # Live frames arriving while we subscribe and read the store queue behind the replay.
        conn.begin_replay()
        out: list[tuple[int, bytes]] = []
        try:
            if first:
                await self.broker.watch(conn.user_id)
            current = await self.broker.current_seq(conn.user_id)
            out.append(
                (
                    0,
                    _control(
                        {
                            "type": "realtime.hello",
                            "data": {"user_id": conn.user_id, "seq": current or 0, "node": self.node_id},
                        }
                    ),
                )
            )
            if since is not None:
                replayed = await self.broker.replay(conn.user_id, since)
                if replayed is None:
                    out.append(
                        (0, _control({"type": "realtime.reload", "data": {"since": since, "seq": current}}))
                    )
                else:
                    conn._last_seq = since
                    out += ((frame_seq(f), f) for f in replayed)
        finally:
            conn.end_replay(out)

    async def detach(self, conn: Connection) -> None:
        conn.closed = True
        conns = self.connections.get(conn.user_id)
        if not conns:
            return
        conns.discard(conn)
        if not conns:
            del self.connections[conn.user_id]
            try:
                await self.broker.unwatch(conn.user_id)
            except Exception:
                log.warning("unwatch of %s failed", conn.user_id)

    def _on_frame(self, user_id: str, seq: int, frame: bytes) -> None:
        conns = self.connections.get(user_id)
        if not conns:
            return
        for conn in conns:
            conn.push(seq, frame)
        self.frames_out += len(conns)
        if frame.find(_REVOKED, 0, 64) >= 0:
            self._close_revoked(user_id, frame)

    def _close_revoked(self, user_id: str, frame: bytes) -> None:
        try:
            envelope = orjson.loads(frame)
        except orjson.JSONDecodeError:
            return
        if envelope.get("type") != SESSION_REVOKED:
            return
        session_id = (envelope.get("data") or {}).get("session_id")
        for conn in list(self.connections.get(user_id, ())):
            if session_id is None or conn.session_id == session_id:
                conn.abort(CLOSE_SESSION_ENDED)

    async def online(self, user_ids: list[str]) -> set[str]:
        return await self.broker.online(user_ids)

    @property
    def connection_count(self) -> int:
        return sum(len(c) for c in self.connections.values())

    # --- publishing (after commit) ---

    async def sink(self, events: list[Event]) -> None:
        self._queue.put_nowait(events)

    async def _publish_loop(self) -> None:
        while True:
            events = await self._queue.get()
            try:
                await self.publish(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("publishing %d events failed", len(events))
            finally:
                self._queue.task_done()

    async def publish(self, events: Iterable[Event]) -> None:
        events = list(events)
        units = {u for e in events for u in e.unit_ids}
        members: dict[str, tuple[str, ...]] = {}
        if units:
            members = await _unit_members(sorted(units))
        for event in events:
            recipients = list(event.user_ids)
            for unit_id in event.unit_ids:
                recipients += members.get(unit_id, ())
            if not recipients:
                continue
            # "type" first: _on_frame looks for a revocation right after the seq
            body = orjson.dumps({"type": event.type, "at": event.at, "data": event.payload})
            await self.broker.publish(self._in_attach_order(dict.fromkeys(recipients)), body[1:])

    def _in_attach_order(self, recipients: dict[str, None]) -> Iterable[str]:
        """Large fan-outs: this node's connected recipients first, in the order they connected,
        then the others. Connections made one after another sit near each other in memory (ours
        and the kernel's): a bare uvicorn loop writing to 9,000 sockets in shuffled order cost
        15–28% more CPU per frame than in connection order (measured beside bench_realtime), and
        member lists come in user-id order, unrelated to when people connected. Live frames also
        go out before the frames merely kept for offline users."""
        conns = self.connections
        if len(recipients) < ATTACH_ORDER_MIN or len(recipients) * 4 < len(conns):
            return recipients
        live = [u for u in conns if u in recipients]
        if len(live) < len(recipients):
            live += [u for u in recipients if u not in conns]
        return live

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(60)
            assert isinstance(self.broker, InProcessBroker)
            self.broker.sweep()


async def _unit_members(unit_ids: list[str]) -> dict[str, tuple[str, ...]]:
    """Members of each unit's subtree (kept per org version: orgs/service.py `subtree_members`)."""
    from zhengding.orgs import service as org_service

    async with get_db().unit_of_work(readonly=True) as session:
        return await org_service.subtree_members(session, unit_ids)


# --- the node's gateway ----------------------------------------------------------------------

_gateway: Gateway | None = None


def current() -> Gateway | None:
    return _gateway


def set_current(gateway: Gateway | None) -> None:
    global _gateway
    _gateway = gateway


def node_id_of(settings: Settings) -> str:
    """ZD_NODE_ID, or this host and process."""
    return settings.node_id or f"{socket.gethostname()}:{os.getpid()}"
