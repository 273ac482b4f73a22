"""X-Forwarded-For / X-Real-IP are believed only from ZD_TRUSTED_PROXIES; otherwise the peer
address is what the audit row records (issue #13, point 11)."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import SETTINGS, Personas
from zhengding.audit.models import AuditEntry
from zhengding.http.middleware import client_address

TRUSTED = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "127.0.0.1", "::1"))


class TestClientAddress:
    @pytest.mark.parametrize(
        ("peer", "headers", "expected"),
        [
            # an untrusted peer: its headers are whatever it likes, the peer is what we know
            ("198.51.100.2", {b"x-real-ip": b"10.1.2.3", b"x-forwarded-for": b"10.1.2.3"}, "198.51.100.2"),
            # a trusted proxy: the right-most address it did not add itself
            ("10.0.0.5", {b"x-forwarded-for": b"6.6.6.6, 203.0.113.7, 10.0.0.9"}, "203.0.113.7"),
            ("10.0.0.5", {b"x-forwarded-for": b"203.0.113.7"}, "203.0.113.7"),
            ("10.0.0.5", {b"x-real-ip": b"203.0.113.8"}, "203.0.113.8"),
            ("10.0.0.5", {b"x-real-ip": b"203.0.113.8", b"x-forwarded-for": b"203.0.113.7"}, "203.0.113.7"),
            ("::ffff:10.0.0.5", {b"x-forwarded-for": b"2001:db8::1"}, "2001:db8::1"),
            # every hop trusted: the farthest one
            ("10.0.0.5", {b"x-forwarded-for": b"10.0.0.7, 10.0.0.6"}, "10.0.0.7"),
            # garbage in the chain stops the walk at the last address a trusted proxy vouched for
            ("10.0.0.5", {b"x-forwarded-for": b"<script>, 10.0.0.6"}, "10.0.0.6"),
            ("10.0.0.5", {b"x-forwarded-for": b"203.0.113.7, bogus"}, "10.0.0.5"),
            ("10.0.0.5", {b"x-real-ip": b"not-an-address"}, "10.0.0.5"),
            ("10.0.0.5", {}, "10.0.0.5"),
        ],
    )
    def test_the_address_audited(self, peer, headers, expected):
        assert client_address(peer, headers, TRUSTED) == expected

    def test_no_proxy_is_trusted_by_default(self):
        assert SETTINGS.trusted_proxies == ()
        assert client_address("127.0.0.1", {b"x-real-ip": b"10.1.2.3"}, ()) == "127.0.0.1"


async def _audited_ip(client: httpx.AsyncClient, db, persona, headers: dict[str, str]) -> str | None:
    rid = f"req-{uuid.uuid4().hex}"
    r = await client.post(
        "/api/downloads/log",
        json={"name": "名单.xlsx", "kind": "xlsx"},
        headers={**persona.headers, "X-Request-Id": rid, **headers},
    )
    assert r.status_code == 200, r.text
    async with db.new_session(readonly=True) as s:
        (ip,) = (await s.execute(select(AuditEntry.ip).where(AuditEntry.request_id == rid))).scalars()
    return ip


@pytest.fixture
async def proxied_app(db):
    from zhengding.app import create_app

    return create_app(replace(SETTINGS, trusted_proxies=TRUSTED), manage_db=False)


@asynccontextmanager
async def _client(app, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(peer, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


SPOOF = {"X-Real-IP": "10.1.2.3", "X-Forwarded-For": "10.1.2.3"}


class TestAuditedAddress:
    async def test_a_spoofed_header_from_the_local_peer_is_ignored_by_default(
        self, client, db, personas: Personas
    ):
        assert await _audited_ip(client, db, personas.grid1, SPOOF) == "127.0.0.1"

    async def test_a_spoofed_header_from_an_untrusted_peer_is_ignored(
        self, proxied_app, db, personas: Personas
    ):
        async with _client(proxied_app, "198.51.100.2") as c:
            assert await _audited_ip(c, db, personas.grid1, SPOOF) == "198.51.100.2"

    async def test_the_forwarded_address_from_a_trusted_proxy_is_audited(
        self, proxied_app, db, personas: Personas
    ):
        async with _client(proxied_app, "10.0.0.5") as c:
            assert (
                await _audited_ip(c, db, personas.grid1, {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
                == "203.0.113.7"
            )
            assert await _audited_ip(c, db, personas.grid1, {"X-Real-IP": "203.0.113.8"}) == "203.0.113.8"
