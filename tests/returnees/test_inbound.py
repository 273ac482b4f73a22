"""The inbound API: signatures, nonces, idempotency, batches, dispatch and the live push."""

from __future__ import annotations

import asyncio

import orjson
from sqlalchemy import func, select

from tests.conftest import Personas
from tests.realtime.support import WsClient
from tests.returnees.conftest import BATCH, GRID2_DEST, SINGLE, Sender, registration
from zhengding.core.clock import now
from zhengding.returnees.models import InboundNonce, Returnee


async def count_returnees(db, registration_id: str) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return (
            await session.execute(
                select(func.count()).select_from(Returnee).where(Returnee.registration_id == registration_id)
            )
        ).scalar_one()


async def count_nonce(db, nonce: str) -> int:
    async with db.unit_of_work(readonly=True) as session:
        return (
            await session.execute(
                select(func.count()).select_from(InboundNonce).where(InboundNonce.nonce == nonce)
            )
        ).scalar_one()


async def frames_about(ws: WsClient, returnee_id: str, quiet: float = 0.4) -> list[dict]:
    return [
        f
        for f in await ws.drain(quiet)
        if (f.get("data") or {}).get("id") == returnee_id
        or (f.get("data") or {}).get("object_id") == returnee_id
    ]


class TestDispatchLive:
    async def test_signed_post_reaches_the_villages_grid_worker_live_and_not_the_sibling(
        self, sender: Sender, client, personas: Personas, live_server, db
    ):
        grid1 = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        grid2 = await WsClient.connect(live_server.ws_url(personas.grid2.token))
        item = registration()
        r = await sender.one(item)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["dispatch"] == "village" and body["unit_id"] == personas.grid1.unit_id
        assert body["resolved"]["level"] == 5
        # (a previous test's arrival may still be on its way to grid1: wait for this one)
        frame = await grid1.next_of("returnees.returnee.dispatched", timeout=5)
        while frame["data"]["id"] != body["id"]:
            frame = await grid1.next_of("returnees.returnee.dispatched", timeout=5)
        assert (
            frame["data"]["name_masked"].endswith("*") and item["phone"] not in orjson.dumps(frame).decode()
        )
        assert await frames_about(grid2, body["id"]) == []
        # Lists: grid1 sees it, grid2 does not; the town, county and city see it for oversight.
        mine = (await client.get("/api/returnees", headers=personas.grid1.headers)).json()["items"]
        assert body["id"] in [x["id"] for x in mine]
        theirs = (await client.get("/api/returnees", headers=personas.grid2.headers)).json()["items"]
        assert body["id"] not in [x["id"] for x in theirs]
        for who in ("town", "xiuying", "haikou"):
            seen = (await client.get("/api/returnees", headers=personas[who].headers)).json()["items"]
            assert body["id"] in [x["id"] for x in seen], who
        inbox = (await client.get("/api/notifications", headers=personas.grid1.headers)).json()["items"]
        assert any(n["object_id"] == body["id"] for n in inbox)
        await grid1.close()
        await grid2.close()

    async def test_detail_scope_trio(self, sender: Sender, client, personas: Personas):
        from tests.helpers import assert_scope_trio

        rid = (await sender.one(registration())).json()["id"]
        ok = await assert_scope_trio(
            client,
            f"/api/returnees/{rid}",
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
        )
        assert ok.json()["history"][0]["kind"] == "dispatched"

    async def test_list_scope_trio(self, sender: Sender, client, personas: Personas):
        from tests.helpers import assert_list_scope_trio

        rid = (await sender.one(registration())).json()["id"]
        await assert_list_scope_trio(
            client,
            "/api/returnees",
            rid,
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
            items_key="items",
        )

    async def test_reveal_goes_through_scope_and_is_audited(self, sender: Sender, client, personas: Personas):
        item = registration()
        rid = (await sender.one(item)).json()["id"]
        ok = await client.post(
            "/api/privacy/reveal",
            headers=personas.grid1.headers,
            json={
                "target_type": "returnee",
                "target_id": rid,
                "field": "phone",
                "reason": "电话联系核实行程",
            },
        )
        assert ok.status_code == 200 and ok.json()["value"] == item["phone"]
        hidden = await client.post(
            "/api/privacy/reveal",
            headers=personas.grid2.headers,
            json={
                "target_type": "returnee",
                "target_id": rid,
                "field": "phone",
                "reason": "电话联系核实行程",
            },
        )
        assert hidden.status_code == 404

    async def test_a_sibling_village_arrival_goes_to_grid2_only(
        self, sender: Sender, personas: Personas, captured_events
    ):
        body = (await sender.one(registration(destination=GRID2_DEST))).json()
        assert body["unit_id"] == personas.grid2.unit_id
        pushed = [e for e in captured_events if e.type == "returnees.returnee.dispatched"]
        assert len(pushed) == 1
        assert (
            personas.grid2.user_id in pushed[0].user_ids and personas.grid1.user_id not in pushed[0].user_ids
        )


class TestIdempotency:
    async def test_replay_creates_nothing_and_pushes_nothing(self, sender: Sender, db, captured_events):
        item = registration()
        first = await sender.one(item)
        assert first.status_code == 201
        pushed = len(captured_events)
        again = await sender.one(item)  # a fresh nonce: a legitimate retry of the same record
        assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert await count_returnees(db, item["registration_id"]) == 1
        assert len(captured_events) == pushed

    async def test_same_id_with_another_body_is_a_conflict(self, sender: Sender, db):
        item = registration()
        assert (await sender.one(item)).status_code == 201
        changed = await sender.one({**item, "destination": GRID2_DEST})
        assert changed.status_code == 409 and changed.json()["error"]["code"] == "conflict"
        assert await count_returnees(db, item["registration_id"]) == 1

    async def test_concurrent_first_posts_of_one_id_make_one_row(self, sender: Sender, db):
        item = registration()
        answers = await asyncio.gather(*[sender.one(item) for _ in range(4)])
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
        assert len({a.json()["id"] for a in answers}) == 1
        assert await count_returnees(db, item["registration_id"]) == 1


class TestSignature:
    async def test_bad_signature_is_401_and_stores_nothing(self, sender: Sender, client, db):
        item = registration()
        body = orjson.dumps(item)
        headers = sender.headers(SINGLE, body)
        headers["X-ZD-Signature"] = "0" * 64
        r = await client.post(SINGLE, content=body, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        assert await count_returnees(db, item["registration_id"]) == 0
        assert await count_nonce(db, headers["X-ZD-Nonce"]) == 0

    async def test_body_changed_after_signing_is_401(self, sender: Sender, client, db):
        item = registration()
        headers = sender.headers(SINGLE, orjson.dumps(item))
        tampered = orjson.dumps({**item, "destination": GRID2_DEST})
        r = await client.post(SINGLE, content=tampered, headers=headers)
        assert r.status_code == 401
        assert await count_returnees(db, item["registration_id"]) == 0

    async def test_stale_timestamp_is_401(self, sender: Sender, db):
        item = registration()
        for skew in (-301, 301):
            r = await sender.post(SINGLE, item, timestamp=int(now().timestamp()) + skew)
            assert r.status_code == 401, skew
        assert await count_returnees(db, item["registration_id"]) == 0
        ok = await sender.post(SINGLE, item, timestamp=int(now().timestamp()) - 290)
        assert ok.status_code == 201

    async def test_reused_nonce_is_401_and_stores_nothing(self, sender: Sender, db):
        first, second = registration(), registration()
        nonce = "n0nce-" + first["registration_id"].replace("-", "")
        assert (await sender.post(SINGLE, first, nonce=nonce)).status_code == 201
        r = await sender.post(SINGLE, second, nonce=nonce)
        assert r.status_code == 401 and "随机串" in r.json()["error"]["message"]
        assert await count_returnees(db, second["registration_id"]) == 0

    async def test_unknown_key_and_missing_headers_are_401(self, client, inbound_source):
        item = registration()
        body = orjson.dumps(item)
        from zhengding.returnees import signing

        headers = signing.signed_headers("ak_unknown", inbound_source[1], "POST", SINGLE, body)
        assert (await client.post(SINGLE, content=body, headers=headers)).status_code == 401
        assert (
            await client.post(SINGLE, content=body, headers={"Content-Type": "application/json"})
        ).status_code == 401

    async def test_expired_nonces_are_pruned(self, sender: Sender, db, clock):
        from zhengding.returnees.service import inbound

        nonce = "prune-" + registration()["registration_id"].replace("-", "")
        assert (await sender.post(SINGLE, registration(), nonce=nonce)).status_code == 201
        clock.advance(seconds=601)
        async with db.unit_of_work() as session:
            assert await inbound.prune_nonces(session) >= 1
        assert await count_nonce(db, nonce) == 0


class TestValidation:
    async def test_single_invalid_is_422_with_field_reasons(self, sender: Sender, db):
        item = registration(id_number="460105199001011234", phone="12345", health_code="purple")
        r = await sender.one(item)
        assert r.status_code == 422
        fields = {d["field"] for d in r.json()["error"]["details"]}
        assert {"id_number", "phone", "health_code"} <= fields
        assert await count_returnees(db, item["registration_id"]) == 0

    async def test_unknown_fields_are_refused(self, sender: Sender, db):
        item = registration(religion="无", home_address="海口市")
        r = await sender.one(item)
        assert r.status_code == 422
        assert {"religion", "home_address"} <= {d["field"] for d in r.json()["error"]["details"]}

    async def test_batch_keeps_valid_items_and_explains_the_rest(self, sender: Sender, db, personas):
        good = [registration() for _ in range(3)]
        bad_id = registration(id_number="123")
        unknown = registration(passport="E1234")
        missing = registration(destination=...)
        r = await sender.post(BATCH, {"items": [good[0], bad_id, good[1], unknown, missing, good[2], "x"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["accepted"], body["rejected"]) == (3, 4)
        statuses = [i["status"] for i in body["items"]]
        assert statuses == [
            "accepted",
            "rejected",
            "accepted",
            "rejected",
            "rejected",
            "accepted",
            "rejected",
        ]
        assert body["items"][1]["errors"][0]["field"] == "id_number"
        assert body["items"][3]["errors"][0]["field"] == "passport"
        assert body["items"][4]["errors"][0] == {"field": "destination", "reason": "必填"}
        for g in good:
            assert await count_returnees(db, g["registration_id"]) == 1
        assert await count_returnees(db, bad_id["registration_id"]) == 0
        again = (await sender.post(BATCH, {"items": good})).json()
        assert again["replayed"] == 3 and again["accepted"] == 0

    async def test_batch_limits_and_shape(self, sender: Sender):
        assert (await sender.post(BATCH, {"items": []})).status_code == 422
        assert (await sender.post(BATCH, {"items": [registration()], "extra": 1})).status_code == 422
        too_many = await sender.post(BATCH, {"items": [registration() for _ in range(501)]})
        assert too_many.status_code == 422
