from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.realtime.support import LiveServer, ensure_tables, shared_server


@pytest.fixture(scope="session", autouse=True)
async def notify_tables(db):
    await ensure_tables(db)


@pytest.fixture(scope="session")
async def live_server(app, notify_tables) -> AsyncIterator[LiveServer]:
    server, owner = await shared_server(app)
    yield server
    if owner:
        await server.stop()


@pytest.fixture
def gateway(live_server):
    from zhengding.realtime import gateway as gateway_mod

    gw = gateway_mod.current()
    assert gw is not None
    return gw
