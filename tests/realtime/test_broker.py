"""Brokers: per-user sequences, replay, and on Redis one message per channel with
subscriptions only for users connected to the node."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from tests.conftest import TEST_REDIS_URL
from zhengding.core.broker import InProcessBroker, RedisBroker, frame_seq
from zhengding.core.ids import new_id


class Collector:
    def __init__(self) -> None:
        self.frames: list[tuple[str, bytes]] = []

    def __call__(self, user_id: str, seq: int, frame: bytes) -> None:
        assert frame_seq(frame) == seq
        self.frames.append((user_id, frame))


async def test_in_process_sequences_and_replay():
    got = Collector()
    broker = InProcessBroker(got, max_events=5)
    a, b = new_id(), new_id()
    await broker.watch(a)
    await broker.publish([a, b], b'"type":"t","data":{}}')
    await broker.publish([a], b'"type":"u","data":{}}')
    assert [u for u, _ in got.frames] == [a, a]  # b is not connected here
    first, second = (frame_seq(f) for _, f in got.frames)
    assert second == first + 1
    assert await broker.replay(a, first) == [got.frames[1][1]]
    assert await broker.replay(a, second) == []
    for _ in range(6):
        await broker.publish([a], b'"type":"v","data":{}}')
    assert await broker.replay(a, first) is None  # trimmed: reload


async def test_in_process_expired_events_ask_for_reload_and_the_sequence_goes_on():
    got = Collector()
    broker = InProcessBroker(got, retention=0.2)
    a = new_id()
    await broker.watch(a)
    await broker.publish([a], b'"type":"t","data":{}}')
    await broker.publish([a], b'"type":"t","data":{}}')
    first, second = (frame_seq(f) for _, f in got.frames)
    assert await broker.replay(a, first) == [got.frames[1][1]]
    await asyncio.sleep(0.3)
    assert await broker.replay(a, first) is None  # expired: reload
    broker.sweep()
    assert await broker.current_seq(a) == second  # numbers never repeat after a sweep
    await broker.publish([a], b'"type":"t","data":{}}')
    assert frame_seq(got.frames[-1][1]) == second + 1
    assert await broker.replay(a, second) == [got.frames[-1][1]]


async def test_in_process_keeps_one_copy_of_an_event_for_all_its_recipients():
    import tracemalloc

    sent: list[int] = []
    broker = InProcessBroker(lambda user_id, seq, frame: sent.append(len(frame)))  # frames written, then gone
    users = [new_id() for _ in range(2000)]
    for u in users[:1000]:
        await broker.watch(u)
    await broker.publish(users, b'"type":"warm","data":{}}')  # each recipient's log exists
    tail = b'"type":"big","data":{"text":"' + "网格".encode() * 2000 + b'"}}'  # 12 KB
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await broker.publish(users, tail)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert sent[-1] > len(tail) and len(sent) == 2000  # the 1,000 connected users got theirs
    assert grown < len(tail) * 20  # not 2,000 copies (24 MB)
    frames = await broker.replay(users[1500], await broker.current_seq(users[1500]) - 1)
    assert frames is not None and frames[0].endswith(tail)


redis_only = pytest.mark.skipif(not TEST_REDIS_URL, reason="ZD_TEST_REDIS_URL not set")


@redis_only
async def test_redis_one_message_per_channel_and_only_connected_users_subscribed():
    got = Collector()
    node = RedisBroker(got, TEST_REDIS_URL, node_id="test-" + new_id())
    await node.start()
    spy = redis.Redis.from_url(TEST_REDIS_URL)
    users = [new_id() for _ in range(3)]
    pubsub = spy.pubsub()
    await pubsub.psubscribe(*[f"zd:u:{u}" for u in users])
    try:
        await node.watch(users[0])
        channels = {c.decode() for c in await spy.pubsub_channels("zd:u:*")}
        assert f"zd:u:{users[0]}" in channels
        assert not {f"zd:u:{u}" for u in users[1:]} & channels
        await node.publish(users, b'"type":"t","at":"","data":{}}')
        seen: list[str] = []
        deadline = asyncio.get_running_loop().time() + 1.0
        while asyncio.get_running_loop().time() < deadline:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if msg is not None and msg["type"] == "pmessage":
                seen.append(msg["channel"].decode())
        assert sorted(seen) == sorted(f"zd:u:{u}" for u in users)  # exactly one message per channel
        for _ in range(50):
            if got.frames:
                break
            await asyncio.sleep(0.02)
        assert [u for u, _ in got.frames] == [users[0]]
        seq = frame_seq(got.frames[0][1])
        assert await node.replay(users[0], seq - 1) == [got.frames[0][1]]
        assert await node.online(users) == {users[0]}
        await node.unwatch(users[0])
        assert f"zd:u:{users[0]}" not in {c.decode() for c in await spy.pubsub_channels("zd:u:*")}
        assert await node.online(users) == set()
    finally:
        await pubsub.aclose()
        await spy.aclose()
        await node.stop()
