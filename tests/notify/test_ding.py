"""DING: recipients within scope (people and whole units), live push + inbox, read receipts
live to the sender, SMS escalation after the delay, re-remind only the unread."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Personas
from tests.realtime.support import WsClient
from zhengding.core import outbox
from zhengding.core.db import get_db
from zhengding.notify import jobs as notify_jobs  # noqa: F401  (registers the handlers)
from zhengding.notify.models import SmsMessage
from zhengding.notify.sms import providers


@pytest.fixture(autouse=True)
def log_sms(configure):
    provider = providers.LogProvider()
    providers.set_provider(provider)
    configure(sms_notice_per_day=10000)
    yield provider
    providers.set_provider(None)


async def send(client, sender, **body):
    r = await client.post(
        "/api/ding", json={"content": "今晚20:00前上报返乡人员核查情况", **body}, headers=sender.headers
    )
    return r


async def sms_for(ding_id: str) -> list[tuple[str, str]]:
    async with get_db().unit_of_work(readonly=True) as session:
        rows = (
            await session.execute(
                select(SmsMessage.user_id, SmsMessage.status).where(SmsMessage.object_id == ding_id)
            )
        ).all()
    return sorted((u, s) for u, s in rows)


class TestSendDing:
    async def test_people_and_units_resolve_to_recipients_who_get_push_and_inbox(
        self, client, personas: Personas, live_server
    ):
        grid1 = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        grid2 = await WsClient.connect(live_server.ws_url(personas.grid2.token))
        r = await send(
            client, personas.town, user_ids=[personas.grid1.user_id], unit_ids=[personas.grid2.unit_id]
        )
        assert r.status_code == 201, r.text
        ding = r.json()
        ids = {p["user_id"] for p in ding["unread"]}
        assert {personas.grid1.user_id, personas.grid2.user_id} <= ids
        assert personas.town.user_id not in ids and ding["read"] == []
        for ws in (grid1, grid2):
            frame = await ws.next_of("notify.ding.received")
            assert (
                frame["data"]["ding_id"] == ding["id"] and frame["data"]["sender_name"] == personas.town.name
            )
        inbox = await client.get("/api/notifications?unread=true", headers=personas.grid1.headers)
        entry = next(i for i in inbox.json()["items"] if i["object_id"] == ding["id"])
        assert entry["kind"] == "ding" and entry["link"] == f"/ding/{ding['id']}"
        await grid1.close()
        await grid2.close()

    async def test_grid_worker_may_not_send(self, client, personas: Personas):
        r = await send(client, personas.grid1, user_ids=[personas.grid2.user_id])
        assert r.status_code == 403

    async def test_unit_and_person_outside_scope_are_404(self, client, personas: Personas):
        assert (await send(client, personas.town, unit_ids=[personas.outsider.unit_id])).status_code == 404
        assert (await send(client, personas.town, user_ids=[personas.outsider.user_id])).status_code == 404
        assert (await send(client, personas.town, user_ids=[personas.haikou.user_id])).status_code == 404

    async def test_only_sender_and_recipients_see_it(self, client, personas: Personas):
        ding = (await send(client, personas.town, user_ids=[personas.grid1.user_id])).json()
        assert (
            await client.get(f"/api/ding/{ding['id']}", headers=personas.grid1.headers)
        ).status_code == 200
        assert (
            await client.get(f"/api/ding/{ding['id']}", headers=personas.grid2.headers)
        ).status_code == 404
        as_recipient = (await client.get(f"/api/ding/{ding['id']}", headers=personas.grid1.headers)).json()
        assert "unread" not in as_recipient  # the read lists are the sender's


class TestReadReceipts:
    async def test_confirm_reaches_sender_live_with_time_and_counts(
        self, client, personas: Personas, live_server
    ):
        sender_ws = await WsClient.connect(live_server.ws_url(personas.town.token))
        ding = (
            await send(client, personas.town, user_ids=[personas.grid1.user_id, personas.grid2.user_id])
        ).json()
        r = await client.post(f"/api/ding/{ding['id']}/confirm", headers=personas.grid1.headers)
        assert r.status_code == 200 and r.json()["read_at"]
        frame = await sender_ws.next_of("notify.ding.read")
        assert frame["data"]["user_id"] == personas.grid1.user_id
        assert (frame["data"]["read_count"], frame["data"]["unread_count"]) == (1, 1)
        detail = (await client.get(f"/api/ding/{ding['id']}", headers=personas.town.headers)).json()
        assert [p["user_id"] for p in detail["read"]] == [personas.grid1.user_id]
        assert detail["read"][0]["read_at"] and detail["read"][0]["name"] == personas.grid1.name
        assert [p["user_id"] for p in detail["unread"]] == [personas.grid2.user_id]
        # confirming twice changes nothing and tells the sender nothing new
        again = await client.post(f"/api/ding/{ding['id']}/confirm", headers=personas.grid1.headers)
        assert again.json()["read_at"] == r.json()["read_at"]
        assert not [f for f in await sender_ws.drain(0.3) if f["type"] == "notify.ding.read"]
        await sender_ws.close()

    async def test_confirm_marks_the_inbox_entry_read_but_read_all_does_not_confirm(self, client, personas):
        ding = (
            await send(client, personas.town, user_ids=[personas.grid1.user_id, personas.grid2.user_id])
        ).json()
        await client.post("/api/notifications/read-all", headers=personas.grid2.headers)
        detail = (await client.get(f"/api/ding/{ding['id']}", headers=personas.town.headers)).json()
        assert personas.grid2.user_id in [p["user_id"] for p in detail["unread"]]
        # …and the DING's inbox entry stays unread (in the badge) until it is confirmed
        inbox2 = (await client.get("/api/notifications?kind=ding", headers=personas.grid2.headers)).json()
        assert next(i for i in inbox2["items"] if i["object_id"] == ding["id"])["read"] is False
        await client.post(f"/api/ding/{ding['id']}/confirm", headers=personas.grid1.headers)
        inbox = (await client.get("/api/notifications?kind=ding", headers=personas.grid1.headers)).json()
        entry = next(i for i in inbox["items"] if i["object_id"] == ding["id"])
        assert entry["read"] is True

    async def test_non_recipient_cannot_confirm(self, client, personas):
        ding = (await send(client, personas.town, user_ids=[personas.grid1.user_id])).json()
        r = await client.post(f"/api/ding/{ding['id']}/confirm", headers=personas.grid2.headers)
        assert r.status_code == 404


class TestEscalation:
    async def test_unread_after_the_delay_get_an_sms_once(
        self, client, personas: Personas, clock, db, log_sms, live_server
    ):
        sender_ws = await WsClient.connect(live_server.ws_url(personas.town.token))
        ding = (
            await send(client, personas.town, user_ids=[personas.grid1.user_id, personas.grid2.user_id])
        ).json()
        await client.post(f"/api/ding/{ding['id']}/confirm", headers=personas.grid1.headers)
        clock.advance(minutes=9)
        await outbox.drain(db)
        assert await sms_for(ding["id"]) == []
        clock.advance(minutes=1, seconds=1)
        await outbox.drain(db)
        assert await sms_for(ding["id"]) == [(personas.grid2.user_id, "delivered")]
        assert any(m["phone"] == personas.grid2.phone and "林镇干" in m["text"] for m in log_sms.sent)
        frame = await sender_ws.next_of("notify.ding.escalated")
        while frame["data"]["ding_id"] != ding["id"]:  # earlier tests' DINGs escalate too
            frame = await sender_ws.next_of("notify.ding.escalated")
        assert frame["data"]["user_ids"] == [personas.grid2.user_id]
        detail = (await client.get(f"/api/ding/{ding['id']}", headers=personas.town.headers)).json()
        assert detail["unread"][0]["sms_at"]
        clock.advance(minutes=30)
        await outbox.drain(db)
        assert len(await sms_for(ding["id"])) == 1
        await sender_ws.close()

    async def test_configurable_delay_and_no_sms_when_disabled(self, client, personas, clock, db):
        quick = (
            await send(client, personas.town, user_ids=[personas.grid1.user_id], escalate_after_minutes=2)
        ).json()
        silent = (await send(client, personas.town, user_ids=[personas.grid1.user_id], sms=False)).json()
        clock.advance(minutes=2, seconds=1)
        await outbox.drain(db)
        assert await sms_for(quick["id"]) == [(personas.grid1.user_id, "delivered")]
        clock.advance(minutes=60)
        await outbox.drain(db)
        assert await sms_for(silent["id"]) == []


class TestRemind:
    async def test_remind_reaches_only_the_unread(self, client, personas: Personas, live_server, clock):
        grid1 = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        grid2 = await WsClient.connect(live_server.ws_url(personas.grid2.token))
        ding = (
            await send(client, personas.town, user_ids=[personas.grid1.user_id, personas.grid2.user_id])
        ).json()
        await client.post(f"/api/ding/{ding['id']}/confirm", headers=personas.grid1.headers)
        r = await client.post(f"/api/ding/{ding['id']}/remind", headers=personas.town.headers)
        assert r.status_code == 200 and r.json()["reminded"] == 1
        frame = await grid2.next_of("notify.ding.reminded")
        assert frame["data"]["ding_id"] == ding["id"]
        assert not [f for f in await grid1.drain(0.3) if f["type"] == "notify.ding.reminded"]
        too_soon = await client.post(f"/api/ding/{ding['id']}/remind", headers=personas.town.headers)
        assert too_soon.status_code == 429
        clock.advance(minutes=1, seconds=1)
        with_sms = await client.post(
            f"/api/ding/{ding['id']}/remind", json={"sms": True}, headers=personas.town.headers
        )
        assert with_sms.json() == {"ding_id": ding["id"], "reminded": 1, "sms": True}
        assert [u for u, _ in await sms_for(ding["id"])] == [personas.grid2.user_id]
        detail = (await client.get(f"/api/ding/{ding['id']}", headers=personas.town.headers)).json()
        assert detail["unread"][0]["remind_count"] == 2
        await grid1.close()
        await grid2.close()

    async def test_only_the_sender_reminds(self, client, personas):
        ding = (await send(client, personas.town, user_ids=[personas.grid1.user_id])).json()
        r = await client.post(f"/api/ding/{ding['id']}/remind", headers=personas.xiuying.headers)
        assert r.status_code == 404

    async def test_sent_and_received_lists(self, client, personas):
        ding = (await send(client, personas.town, user_ids=[personas.grid1.user_id])).json()
        sent = (await client.get("/api/ding/sent", headers=personas.town.headers)).json()
        assert sent[0]["id"] == ding["id"] and sent[0]["unread_count"] == 1
        received = (await client.get("/api/ding/received?unread=true", headers=personas.grid1.headers)).json()
        assert ding["id"] in [d["id"] for d in received]
