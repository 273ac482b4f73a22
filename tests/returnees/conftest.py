"""Fixtures of the returnee tests: an inbound source, signed posting, registrations, live server."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import login
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


@dataclass
class Staff:
    user_id: str
    unit_id: str
    token: str
    headers: dict[str, str]


async def make_staff(db, client, division_code: str, role: str, position: str) -> Staff:
    """An active account that is a member of the unit of a division, with a role anchored there."""
    from zhengding.orgs import service as org_service

    async with db.unit_of_work(readonly=True) as s:
        unit = await org_service.unit_for_division(s, division_code)
        assert unit is not None
        unit_id = unit.id
    return await staff_in_unit(db, client, unit_id, role, position)


async def staff_in_unit(db, client, unit_id: str, role: str, position: str) -> Staff:
    """An active account, a member of the unit, with a role anchored there; signed in."""
    from zhengding import demo
    from zhengding.accounts.enums import UserStatus
    from zhengding.accounts.models import RoleAssignment, User
    from zhengding.accounts.passwords import hash_password
    from zhengding.accounts.service.users import user_row, validate_new_user
    from zhengding.orgs.models import Membership

    n = next(_serial)
    username = f"staff_{os.getpid()}_{_salt:x}_{n}"
    phone = f"166{(_salt * 7 + n) % 10**8:08d}"
    async with db.unit_of_work() as s:
        row = user_row(
            validate_new_user("值班员" + "甲乙丙丁戊"[n % 5], phone, unit_id, position, username=username)
        )
        row.update(
            status=str(UserStatus.ACTIVE),
            password_hash=hash_password(demo.DEMO_PASSWORD),
            activated_at=now(),
            password_changed_at=now(),
        )
        s.add(User(**row))
        await s.flush()
        s.add(Membership(user_id=row["id"], unit_id=unit_id, position=position))
        s.add(RoleAssignment(user_id=row["id"], role=role, unit_id=unit_id))
    from zhengding.returnees import oversight

    oversight.forget_staff()  # the commands' staff are cached for a few seconds
    token = await login(client, username, demo.DEMO_PASSWORD)
    return Staff(row["id"], unit_id, token, {"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="session")
async def sanya_command(db, client, personas) -> Staff:
    """A city command of another city (三亚市): hears nothing of Haikou's returnees."""
    from zhengding import demo

    return await make_staff(db, client, demo.SANYA, "city_command", "市指挥部值班员")


@pytest.fixture(scope="session")
async def town_colleague(db, client, personas) -> Staff:
    """A second officer of the persona town (秀英街道), working the same routing queue."""
    from zhengding import demo

    return await make_staff(db, client, demo.XIUYING_STREET, "town_command", "街道干部")


@pytest.fixture(scope="session")
async def live_server(app) -> AsyncIterator[LiveServer]:
    server, owner = await shared_server(app)
    yield server
    if owner:
        await server.stop()
