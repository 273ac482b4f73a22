"""Fixtures of the returnee tests: an inbound source, signed posting, registrations, live server."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from tests.realtime.support import LiveServer, shared_server
from zhengding.core.clock import now
from zhengding.privacy.idcard import check_digit
from zhengding.returnees import signing

SINGLE = "/api/inbound/registrations"
BATCH = "/api/inbound/registrations/batch"
GRID1_DEST = "海口市秀英区秀华社区5栋302"  # grid1's village (秀华社区), written as a traveller would
GRID2_DEST = "海南省海口市秀英区秀英街道秀海社区居民委员会"  # grid2's village (秀海社区)

_serial = itertools.count(1)
_salt = int.from_bytes(os.urandom(3), "big")


def id_number(n: int) -> str:
    first17 = f"460105199{(n % 10)}0101" + f"{(_salt + n) % 1000:03d}"[:3]
    first17 = first17[:17].ljust(17, "1")
    return first17 + check_digit(first17)


def registration(**overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    item = {
        "registration_id": f"HC-{_salt:06x}-{n:06d}",
        "name": "张海" + "一二三四五六七八九十"[n % 10],
        "id_number": id_number(n),
        "phone": f"139{_salt % 10000:04d}{n % 10000:04d}",
        "origin_province": "广东省",
        "origin_city": "广州市",
        "origin_risk_area": False,
        "port_of_entry": "海口美兰国际机场",
        "arrived_at": now().replace(microsecond=0).isoformat(),
        "transport": "flight",
        "transport_no": "CZ6731",
        "destination": GRID1_DEST,
        "health_code": "green",
    }
    item.update(overrides)
    return {k: v for k, v in item.items() if v is not ...}


class Sender:
    """The health-code system's side: signs and posts as the reference sender does."""

    def __init__(self, client: httpx.AsyncClient, key_id: str, secret: str) -> None:
        self.client, self.key_id, self.secret = client, key_id, secret

    def headers(self, path: str, body: bytes, **kw: Any) -> dict[str, str]:
        return signing.signed_headers(self.key_id, self.secret, "POST", path, body, **kw)

    async def post(self, path: str, payload: Any, **kw: Any) -> httpx.Response:
        body = orjson.dumps(payload)
        return await self.client.post(path, content=body, headers=self.headers(path, body, **kw))

    async def one(self, item: dict[str, Any]) -> httpx.Response:
        return await self.post(SINGLE, item)


@pytest.fixture(scope="session")
async def inbound_source(db) -> tuple[str, str]:
    from zhengding.returnees.service import inbound

    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(session, f"健康码系统-{os.getpid()}-{_salt}")
        return source.key_id, secret


@pytest.fixture
def sender(client, inbound_source) -> Sender:
    return Sender(client, *inbound_source)


@pytest.fixture(scope="session")
async def live_server(app) -> AsyncIterator[LiveServer]:
    server, owner = await shared_server(app)
    yield server
    if owner:
        await server.stop()
