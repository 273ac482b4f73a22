"""Shared test fixtures: one real database (SQLite by default, PostgreSQL when
ZD_TEST_DATABASE_URL is set), migrated with Alembic, Hainan's org tree and the named personas.

Tests share the database: each creates its own data (unique phones via `unique_phone`) and never
depends on another test's rows.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from zhengding import domains
from zhengding.config import Settings, set_settings
from zhengding.core import events as events_mod
from zhengding.core.clock import clock as global_clock
from zhengding.core.db import Database, set_db
from zhengding.core.migrate import upgrade_engine
from zhengding.privacy.crypto import reset_keyring

TEST_DB_URL = os.environ.get("ZD_TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("ZD_TEST_REDIS_URL")
_TMP = Path(tempfile.mkdtemp(prefix="zd-test-"))

# Unmasked personal data must never appear in a response body, except through the audited reveal.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
_PII_ALLOWED_PATHS = {"/api/privacy/reveal"}

# The same registries as the app, the worker and the CLI, whatever a test module imports first.
domains.install(domains.MANIFESTS)


def _settings() -> Settings:
    base = Settings.from_env()
    url = _run_database_url(TEST_DB_URL) if TEST_DB_URL else f"sqlite+aiosqlite:///{_TMP / 'test.db'}"
    return replace(
        base,
        demo=True,
        var_dir=_TMP,
        database_url=url,
        redis_url=TEST_REDIS_URL,
        secret_key="test-secret-key-0123456789abcdef",
        data_keys="k2:" + "MTIzNDU2Nzg5MGFiY2RlZg==" + ",demo:emhlbmdkaW5nLWRlbW8taw==",
        index_key="dGVzdC1pbmRleC1rZXktMzItYnl0ZXMtbG9uZyEh",
        run_worker=False,
        gc_tuning=False,
    )  # a test process starts many apps: nothing to freeze for good


def _run_database_url(url: str) -> str:
    """PostgreSQL: each test run gets its own database next to the given one (created from it
    and dropped afterwards), so that concurrent runs on one server do not collide."""
    if url.startswith("sqlite"):
        return url
    made = make_url(url)
    return made.set(database=f"{made.database}_run{os.getpid()}").render_as_string(hide_password=False)


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(statement))
    await engine.dispose()


async def _create_database(url: str) -> None:
    if url.startswith("sqlite"):
        await asyncio.to_thread(Path(url.split("///", 1)[1]).unlink, missing_ok=True)
        return
    name = make_url(url).database
    await _admin(TEST_DB_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(TEST_DB_URL, f'CREATE DATABASE "{name}"')


async def _drop_database(url: str) -> None:
    if not url.startswith("sqlite"):
        await _admin(TEST_DB_URL, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


SETTINGS = _settings()
set_settings(SETTINGS)
reset_keyring()


@dataclass
class Persona:
    username: str
    name: str
    phone: str
    user_id: str
    unit_id: str
    unit_name: str
    role: str | None
    totp_secret: str | None = None
    token: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Personas(dict):
    def __getattr__(self, name: str) -> Persona:
        return self[name]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return SETTINGS


@pytest.fixture
def keys():
    """Switch the personal-data keys for a moment; the test settings come back afterwards."""

    def use(data_keys: str) -> None:
        set_settings(replace(SETTINGS, data_keys=data_keys))
        reset_keyring()

    yield use
    set_settings(SETTINGS)
    reset_keyring()


@pytest.fixture
def configure():
    """Change settings for one test (`configure(sms_notice_per_day=2)`), as an operator would
    with the ZD_* variable; the test settings come back afterwards."""

    def use(**fields: Any) -> None:
        set_settings(replace(SETTINGS, **fields))

    yield use
    set_settings(SETTINGS)


@pytest.fixture(scope="session")
async def db() -> AsyncIterator[Database]:
    await _create_database(SETTINGS.database_url)
    database = Database(SETTINGS.database_url)
    await upgrade_engine(database.write_engine)
    set_db(database)
    from zhengding import demo

    async with database.unit_of_work() as session:
        await demo.seed_org_tree(session)
    yield database
    await database.dispose()
    set_db(None)
    await _drop_database(SETTINGS.database_url)


@pytest.fixture(scope="session")
async def app(db: Database):
    from zhengding.app import create_app

    return create_app(SETTINGS, manage_db=False)


async def _check_pii(response: httpx.Response) -> None:
    await response.aread()
    kind = response.headers.get("content-type", "")
    if response.request.url.path in _PII_ALLOWED_PATHS or not kind.startswith(("application/json", "text/")):
        return
    body = response.text
    for pattern, what in ((_ID_RE, "ID number"), (_PHONE_RE, "phone")):
        match = pattern.search(body)
        if match:
            raise AssertionError(
                f"unmasked {what} {match.group()} in response to {response.request.url.path}"
            )


@pytest.fixture(scope="session")
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks={"response": [_check_pii]}
    ) as c:
        yield c


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).at(global_clock.now())


async def login(
    client: httpx.AsyncClient, login_name: str, password: str, totp_secret: str | None = None
) -> str:
    """Log in as a user would; with a TOTP secret, complete the second step. Returns the token."""
    r = await client.post("/api/auth/login", json={"login": login_name, "password": password})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    if r.json()["mfa"] == "required":
        assert totp_secret, f"{login_name} needs a TOTP code"
        v = await client.post(
            "/api/auth/totp/verify",
            json={"code": totp_now(totp_secret)},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert v.status_code == 200, v.text
    return token


@pytest.fixture(scope="session")
async def personas(db: Database, client: httpx.AsyncClient) -> Personas:
    from zhengding import demo

    async with db.unit_of_work() as session:
        seeded = await demo.seed_personas(session)
    result = Personas()
    for username, info in seeded.items():
        p = Persona(
            username=username,
            name=info["name"],
            phone=info["phone"],
            user_id=info["id"],
            unit_id=info["unit_id"],
            unit_name=info["unit_name"],
            role=info["role"],
            totp_secret=info["totp_secret"],
        )
        p.token = await login(client, username, demo.DEMO_PASSWORD, p.totp_secret)
        p.headers = {"Authorization": f"Bearer {p.token}"}
        result[username] = p
    global_clock.advance(seconds=31)  # the admins' TOTP codes above may not be reused
    return result


@pytest.fixture
def clock():
    yield global_clock
    global_clock.reset()
    global_clock.advance(seconds=31)


@pytest.fixture
def captured_events():
    captured: list = []

    async def sink(events: list) -> None:
        captured.extend(events)

    events_mod.add_sink(sink)
    yield captured
    events_mod.remove_sink(sink)


_phone_counter = iter(range(10_000_000))


@pytest.fixture
def unique_phone():
    """Fresh valid mobile numbers, distinct across the whole run (and across runs on PostgreSQL)."""
    import os as _os

    salt = int.from_bytes(_os.urandom(2), "big") % 90 + 10

    def make() -> str:
        return f"15{salt}{next(_phone_counter):07d}"

    return make


def is_postgres() -> bool:
    return bool(TEST_DB_URL) and "postgresql" in TEST_DB_URL
