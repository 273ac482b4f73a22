"""A large fan-out is written in connection order (realtime/gateway.py `_in_attach_order`):
every connected recipient still gets exactly one frame, offline recipients' events are kept for
their resume, and people who are not recipients get nothing."""

from __future__ import annotations

import random

import orjson

from zhengding.core.events import Event
from zhengding.realtime.gateway import ATTACH_ORDER_MIN, Connection, Gateway


async def _refuse(message):  # type: ignore[no-untyped-def]
    raise AssertionError("a writable socket never needs the ASGI send")


async def test_large_fan_out_in_connection_order_reaches_everyone_once():
    gateway = Gateway()
    written: list[tuple[str, str]] = []
    users = [f"u{i:05d}" for i in range(ATTACH_ORDER_MIN * 3)]
    attach = users[:]
    random.Random(7).shuffle(attach)  # people connect in any order
    online, offline = attach[: len(attach) * 2 // 3], attach[len(attach) * 2 // 3 :]
    bystander = "someone-else"
    for user in [*online, bystander]:
        conn = Connection(user, None, _refuse, lambda frame, user=user: written.append((user, frame)) or True)
        await gateway.attach(conn, None)
    written.clear()  # the hellos

    recipients = sorted(users)  # member lists come in user-id order
    await gateway.publish([Event(type="test.fanout", payload={"n": 1}, user_ids=tuple(recipients))])

    assert [u for u, _ in written] == online  # each connected recipient once, in connection order
    assert all(orjson.loads(f)["data"] == {"n": 1} for _, f in written)
    for user in offline:  # kept for when they come back
        seq = await gateway.broker.current_seq(user)
        assert seq is not None
        frames = await gateway.broker.replay(user, seq - 1)
        assert frames is not None and [orjson.loads(f)["type"] for f in frames] == ["test.fanout"]


async def test_small_fan_out_keeps_the_given_order():
    gateway = Gateway()
    written: list[str] = []
    users = [f"s{i:03d}" for i in range(10)]
    for user in reversed(users):
        await gateway.attach(
            Connection(user, None, _refuse, lambda f, user=user: written.append(user) or True), None
        )
    written.clear()
    await gateway.publish([Event(type="test.fanout", payload={}, user_ids=tuple(users))])
    assert written == users
