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
        self.frames: list[tuple[str, str]] = []

    def __call__(self, user_id: str, frame: str) -> None:
        self.frames.append((user_id, frame))


async def test_in_process_sequences_and_replay():
    got = Collector()
    broker = InProcessBroker(got, max_events=5)
    a, b = new_id(), new_id()
    await broker.watch(a)
    await broker.publish([a, b], '"type":"t","data":{}}')
    await broker.publish([a], '"type":"u","data":{}}')
    assert [u for u, _ in got.frames] == [a, a]  # b is not connected here
    first, second = (frame_seq(f) for _, f in got.frames)
    assert second == first + 1
    assert await broker.replay(a, first) == [got.frames[1][1]]
    assert await broker.replay(a, second) == []
    for _ in range(6):
        await broker.publish([a], '"type":"v","data":{}}')
    assert await broker.replay(a, first) is None  # trimmed: reload


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
        await node.publish(users, '"type":"t","at":"","data":{}}')
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
