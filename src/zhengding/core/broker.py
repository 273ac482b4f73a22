"""Real-time brokers: per-user sequence numbers, a replay store, fan-out to the local node.

A published event becomes one frame per recipient user:

    {"seq": <per-user sequence>, "type": "...", "at": "...", "data": {...}}

The sequence is per user, shared by all of the user's devices and all nodes, so a client
that reconnects anywhere with its last `seq` gets exactly what it missed, or is told to
reload when the store no longer holds the gap (events are kept `retention` seconds, at most
`max_events` per user). A sequence starts at (unix seconds × 1000) when first used, so after
a reset (in-process store restarted, Redis key expired) numbers jump forward and an old
client sees a gap instead of mistaking new events for old ones.

- `InProcessBroker`: one node; sequence and store in memory. The default.
- `RedisBroker`: many nodes. One Lua call per publish assigns each recipient's sequence,
  stores the frame and PUBLISHes it on the user's channel "zd:u:<user_id>": one Redis message
  per channel, never one per recipient per node. A node SUBSCRIBEs only to the channels of
  users connected to it. Presence is a hash per user of node → lease expiry.

Frames are UTF-8 JSON as bytes, which is what a socket writes and Redis carries. The broker hands
each frame to `on_frame(user_id, seq, frame)` (the gateway) for local connections.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

log = logging.getLogger("zhengding.broker")

FrameSink = Callable[[str, int, bytes], None]  # (user_id, seq, frame)
CHANNEL_PREFIX = "zd:u:"
PRESENCE_LEASE = 90  # seconds; refreshed every PRESENCE_LEASE / 3


def frame_seq(frame: bytes) -> int:
    """The seq of a frame built by this module (b'{"seq":123,…')."""
    return int(frame[7 : frame.index(b",", 7)])


_FRAME = b'{"seq":%d,%b'


def make_frame(seq: int, tail: bytes) -> bytes:
    """The frame of one recipient: the event's JSON object with its seq first."""
    return _FRAME % (seq, tail)


def _seq_base() -> int:
    return int(time.time()) * 1000


class Broker(abc.ABC):
    """Interface shared by the brokers (in-process, Redis)."""

    node_id: str = "local"

    def __init__(self, on_frame: FrameSink, *, retention: float = 3600.0, max_events: int = 1000) -> None:
        self.on_frame = on_frame
        self.retention = retention
        self.max_events = max_events

    async def start(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        return None

    async def stop(self) -> None:  # noqa: B027 - optional hook
        return None

    async def watch(self, user_id: str) -> None:  # noqa: B027 - optional hook
        """Start receiving this user's frames on this node (first local connection)."""

    async def unwatch(self, user_id: str) -> None:  # noqa: B027 - optional hook
        """Stop receiving (last local connection gone)."""

    @abc.abstractmethod
    async def publish(self, user_ids: Iterable[str], tail: bytes) -> None:
        """Publish one event to users; `tail` is the event's JSON object without its opening '{'."""

    @abc.abstractmethod
    async def replay(self, user_id: str, since: int) -> list[bytes] | None:
        """Frames with seq > since, or None when the gap cannot be filled (reload)."""

    @abc.abstractmethod
    async def current_seq(self, user_id: str) -> int | None:
        """The user's latest seq (None when the user never received an event)."""

    @abc.abstractmethod
    async def online(self, user_ids: list[str]) -> set[str]:
        """Which of these users have a connection on any node."""


class _UserLog:
    """One user's sequence and kept events. `events` holds (time, tail) records shared by all
    recipients of an event, oldest first; the last has seq `seq`, so event i has
    seq - len(events) + 1 + i and a publish allocates nothing per recipient."""

    __slots__ = ("seq", "events", "watched")

    def __init__(self) -> None:
        self.seq = 0  # 0: never received an event
        self.events: deque[tuple[float, bytes]] | None = None
        self.watched = False


class InProcessBroker(Broker):
    """Sequences and the replay store in this process. An event is kept once, as a (time, tail)
    record that each recipient's log points to; a recipient's frame is only built when it is
    sent (live or replayed). Expired records are dropped by `sweep` and skipped by `replay`."""

    def __init__(self, on_frame: FrameSink, **kwargs: Any) -> None:
        super().__init__(on_frame, **kwargs)
        self._logs: dict[str, _UserLog] = {}

    def _log(self, user_id: str) -> _UserLog:
        log = self._logs.get(user_id)
        if log is None:
            log = self._logs[user_id] = _UserLog()
        return log

    async def watch(self, user_id: str) -> None:
        self._log(user_id).watched = True

    async def unwatch(self, user_id: str) -> None:
        log = self._logs.get(user_id)
        if log is not None:
            log.watched = False

    async def publish(self, user_ids: Iterable[str], tail: bytes) -> None:
        self.publish_now(user_ids, tail)

    def publish_now(self, user_ids: Iterable[str], tail: bytes) -> None:
        record = (time.monotonic(), tail)
        base = _seq_base()
        logs, on_frame, keep, frame = self._logs, self.on_frame, self.max_events, _FRAME
        for user_id in user_ids:
            log = logs.get(user_id)
            if log is None:
                log = logs[user_id] = _UserLog()
            seq = log.seq = (log.seq or base) + 1
            events = log.events
            if events is None:
                events = log.events = deque()
            events.append(record)
            while len(events) > keep:
                events.popleft()
            if log.watched:
                on_frame(user_id, seq, frame % (seq, tail))  # make_frame, inlined

    async def replay(self, user_id: str, since: int) -> list[bytes] | None:
        log = self._logs.get(user_id)
        if log is None or not log.seq or since > log.seq:
            return None
        if since == log.seq:
            return []
        events = log.events or deque()
        first = log.seq - len(events) + 1  # seq of events[0]
        start = since + 1 - first
        if start < 0 or events[start][0] < time.monotonic() - self.retention:
            return None  # trimmed or expired: the gap cannot be filled
        return [make_frame(seq, tail) for seq, (_, tail) in enumerate(islice(events, start, None), since + 1)]

    async def current_seq(self, user_id: str) -> int | None:
        log = self._logs.get(user_id)
        return log.seq if log is not None and log.seq else None

    async def online(self, user_ids: list[str]) -> set[str]:
        logs = self._logs
        return {u for u in user_ids if (log := logs.get(u)) is not None and log.watched}

    def sweep(self) -> None:
        """Drop expired events (a user's sequence is kept: numbers never repeat)."""
        cutoff = time.monotonic() - self.retention
        for log in self._logs.values():
            events = log.events
            if events is None:
                continue
            while events and events[0][0] < cutoff:
                events.popleft()
            if not events:
                log.events = None


# KEYS: per recipient, its seq key then its events key. ARGV: tail, now_ms, retention_ms,
# max_events, seq base, then the recipients' channels.
_PUBLISH_LUA = """
local tail = ARGV[1]
local now = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
local maxlen = tonumber(ARGV[4])
local base = ARGV[5]
local cutoff = now - keep
for i = 1, #KEYS / 2 do
  local sk = KEYS[2 * i - 1]
  local ek = KEYS[2 * i]
  if redis.call('EXISTS', sk) == 0 then redis.call('SET', sk, base) end
  local seq = redis.call('INCR', sk)
  local frame = '{"seq":' .. string.format('%d', seq) .. ',' .. tail
  redis.call('ZADD', ek, seq, ARGV[2] .. '|' .. frame)
  for _ = 1, 16 do
    local first = redis.call('ZRANGE', ek, 0, 0)
    if #first == 0 then break end
    local ts = tonumber(string.match(first[1], '^(%d+)|'))
    if ts >= cutoff then break end
    redis.call('ZREMRANGEBYRANK', ek, 0, 0)
  end
  redis.call('ZREMRANGEBYRANK', ek, 0, -(maxlen + 1))
  redis.call('PEXPIRE', ek, keep)
  redis.call('PEXPIRE', sk, keep * 24 + 86400000)
  redis.call('PUBLISH', ARGV[5 + i], frame)
end
return #KEYS / 2
"""


class RedisBroker(Broker):
    def __init__(
        self, on_frame: FrameSink, url: str, *, node_id: str, publish_only: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(on_frame, **kwargs)
        import redis.asyncio as redis

        self.url = url
        self.node_id = node_id
        self.publish_only = publish_only
        self.redis = redis.Redis.from_url(url)
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._script: Any = None
        self._watched: set[str] = set()
        self._lock = asyncio.Lock()

    @staticmethod
    def seq_key(user_id: str) -> str:
        return f"zd:seq:{{{user_id}}}"

    @staticmethod
    def events_key(user_id: str) -> str:
        return f"zd:ev:{{{user_id}}}"

    async def start(self) -> None:
        self._script = self.redis.register_script(_PUBLISH_LUA)
        if self.publish_only:
            return
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        # A node channel keeps the subscription connection open even with no users yet.
        await self._pubsub.subscribe(f"zd:node:{self.node_id}")
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")
        self._refresher = asyncio.create_task(self._refresh_presence(), name="redis-presence")

    async def stop(self) -> None:
        for task in (self._reader, self._refresher):
            if task:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        if self._watched:
            try:
                pipe = self.redis.pipeline(transaction=False)
                for user_id in self._watched:
                    pipe.hdel(f"zd:presence:{user_id}", self.node_id)
                await pipe.execute()
            except Exception:
                log.warning("could not clear presence of node %s", self.node_id)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self.redis.aclose()

    async def _read(self) -> None:
        on_frame = self.on_frame
        prefix = len(CHANNEL_PREFIX)
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis subscription failed; retrying")
                await asyncio.sleep(1)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            if not channel.startswith(CHANNEL_PREFIX):
                continue
            data = message["data"]
            if isinstance(data, str):
                data = data.encode()
            try:
                on_frame(channel[prefix:], frame_seq(data), data)
            except Exception:
                log.exception("frame delivery failed")

    async def _refresh_presence(self) -> None:
        while True:
            await asyncio.sleep(PRESENCE_LEASE / 3)
            try:
                expiry = int(time.time()) + PRESENCE_LEASE
                pipe = self.redis.pipeline(transaction=False)
                for user_id in list(self._watched):
                    key = f"zd:presence:{user_id}"
                    pipe.hset(key, self.node_id, expiry)
                    pipe.expire(key, PRESENCE_LEASE)
                await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("presence refresh failed")

    async def watch(self, user_id: str) -> None:
        async with self._lock:
            self._watched.add(user_id)
            await self._pubsub.subscribe(CHANNEL_PREFIX + user_id)
        key = f"zd:presence:{user_id}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, self.node_id, int(time.time()) + PRESENCE_LEASE)
        pipe.expire(key, PRESENCE_LEASE)
        await pipe.execute()

    async def unwatch(self, user_id: str) -> None:
        async with self._lock:
            self._watched.discard(user_id)
            await self._pubsub.unsubscribe(CHANNEL_PREFIX + user_id)
        await self.redis.hdel(f"zd:presence:{user_id}", self.node_id)

    async def publish(self, user_ids: Iterable[str], tail: bytes) -> None:
        users = list(dict.fromkeys(user_ids))
        if not users:
            return
        # Chunks keep one Lua call from holding Redis for long on a very large fan-out.
        for start in range(0, len(users), 1000):
            chunk = users[start : start + 1000]
            keys: list[str] = []
            for u in chunk:
                keys += (self.seq_key(u), self.events_key(u))
            args = [tail, int(time.time() * 1000), int(self.retention * 1000), self.max_events, _seq_base()]
            args += [CHANNEL_PREFIX + u for u in chunk]
            await self._script(keys=keys, args=args)

    async def replay(self, user_id: str, since: int) -> list[bytes] | None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.get(self.seq_key(user_id))
        pipe.zrangebyscore(self.events_key(user_id), f"({since}", "+inf")
        current_raw, entries = await pipe.execute()
        if current_raw is None:
            return None
        current = int(current_raw)
        if since > current:
            return None
        if since == current:
            return []
        cutoff = int((time.time() - self.retention) * 1000)
        frames: list[bytes] = []
        for entry in entries:
            ts, _, frame = entry.partition(b"|")
            if int(ts) >= cutoff:
                frames.append(frame)
        if not frames or frame_seq(frames[0]) != since + 1:
            return None
        return frames

    async def current_seq(self, user_id: str) -> int | None:
        raw = await self.redis.get(self.seq_key(user_id))
        return int(raw) if raw is not None else None

    async def online(self, user_ids: list[str]) -> set[str]:
        if not user_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hvals(f"zd:presence:{user_id}")
        now_s = int(time.time())
        result = await pipe.execute()
        return {u for u, vals in zip(user_ids, result, strict=True) if any(int(v) > now_s for v in vals)}


def make_broker(
    on_frame: FrameSink,
    *,
    redis_url: str | None,
    node_id: str,
    publish_only: bool = False,
    retention: float = 3600.0,
    max_events: int = 1000,
) -> Broker:
    if redis_url:
        return RedisBroker(
            on_frame,
            redis_url,
            node_id=node_id,
            publish_only=publish_only,
            retention=retention,
            max_events=max_events,
        )
    return InProcessBroker(on_frame, retention=retention, max_events=max_events)
