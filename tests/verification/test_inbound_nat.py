"""The signed inbound API for nucleic-acid results: per-item answers, replays, the positive
alert to the owning unit's members, and signature failures that store nothing."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from tests.verification.support import batch_tasks, dispatch, import_rows, new_id_number
from zhengding.core.clock import now
from zhengding.notify.models import Notification
from zhengding.notify.service import ding as ding_service
from zhengding.orgs import service as org_service
from zhengding.privacy.crypto import blind_index
from zhengding.returnees import signing
from zhengding.returnees.models import InboundNonce
from zhengding.verification import nat
from zhengding.verification.models import NatInboundReceipt, NatTestResult

PATH = "/api/inbound/nat-results"


@pytest.fixture(scope="session")
async def nat_source(db) -> tuple[str, str]:
    from zhengding.returnees.service import inbound

    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(session, f"检测机构-{os.getpid()}-{os.urandom(3).hex()}")
        return source.key_id, secret


class Lab:
    def __init__(self, client: Any, key_id: str, secret: str) -> None:
        self.client, self.key_id, self.secret = client, key_id, secret

    async def post(self, payload: Any, *, secret: str | None = None, **kw: Any) -> Any:
        body = orjson.dumps(payload)
        headers = signing.signed_headers(self.key_id, secret or self.secret, "POST", PATH, body, **kw)
        return await self.client.post(PATH, content=body, headers=headers)


@pytest.fixture
def lab(client, nat_source) -> Lab:
    return Lab(client, *nat_source)


def result(id_number: str, **over: Any) -> dict[str, Any]:
    item = {
        "id_number": id_number,
        "sampled_at": now().replace(microsecond=0).isoformat(),
        "result": "negative",
        "lab": "海口市人民医院",
        "sample_id": "S" + os.urandom(6).hex(),
    }
    item.update(over)
    return {k: v for k, v in item.items() if v is not ...}


async def count(db, model, *where) -> int:
    async with db.unit_of_work(readonly=True) as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def task_at_grid1(client, p, id_number: str) -> str:
    rows = [["核酸", id_number, "", f"海口市秀英区秀英街道{p.grid1.unit_name}", "", ""]]
    batch_id = (await import_rows(client, p.province, rows))["batch_id"]
    await dispatch(client, p.haikou, batch_id=batch_id, by_clue=True)
    (task,) = await batch_tasks(client, p.grid1, batch_id)
    return task["id"]


class TestInboundNat:
    async def test_batch_keeps_good_items_and_answers_per_item(self, db, client, personas, lab):
        person = new_id_number()
        task_id = await task_at_grid1(client, personas, person)
        good1, good2 = result(person), result(new_id_number(), sample_id=..., result="positive")
        bad = result("460105199001011234", sampled_at="2022-01-20 08:30", result="可疑", name="张三")
        r = await lab.post({"items": [good1, bad, good2]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["accepted"], body["rejected"], body["replayed"], body["conflict"]) == (2, 1, 0, 0)
        first, rejected, second = body["items"]
        assert first["status"] == "accepted" and first["recorded"] and first["linked_tasks"] == 1
        assert second["status"] == "accepted" and second["sample_id"] is None and second["linked_tasks"] == 0
        assert rejected["status"] == "rejected"
        assert {e["field"] for e in rejected["errors"]} == {"id_number", "sampled_at", "result", "name"}
        assert await count(db, NatTestResult, NatTestResult.id.in_([first["id"], second["id"]])) == 2
        detail = (
            await client.get(f"/api/verification/tasks/{task_id}", headers=personas.grid1.headers)
        ).json()
        assert detail["nat_result"] == "negative" and detail["history"][-1]["kind"] == "nat_result"

    async def test_single_and_replay_create_nothing(self, db, client, lab):
        heard: list[str] = []

        async def listener(session, bidx, row):
            heard.append(bidx)

        nat.register_nat_listener(listener)
        try:
            item = result(new_id_number())
            r = await lab.post(item)
            assert r.status_code == 201, r.text
            assert r.json()["recorded"] and len(heard) == 1
            stored = await count(db, NatTestResult)
            again = await lab.post(item)  # a retry: new nonce, same item
            assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
            assert again.json()["id"] == r.json()["id"]
            other = result(new_id_number(), sample_id=...)
            batch = await lab.post({"items": [item, other, other]})
            assert [i["status"] for i in batch.json()["items"]] == ["replayed", "accepted", "replayed"]
            replay = await lab.post({"items": [item, other]})
            assert [i["status"] for i in replay.json()["items"]] == ["replayed", "replayed"]
            assert await count(db, NatTestResult) == stored + 1 and len(heard) == 2
            changed = await lab.post({**item, "result": "positive"})
            assert changed.status_code == 409
            assert await count(db, NatTestResult) == stored + 1
        finally:
            nat.unregister_nat_listener(listener)

    async def test_positive_alerts_the_owning_units_members(
        self, db, client, personas, lab, captured_events, clock
    ):
        import zhengding.notify.jobs  # noqa: F401  (the SMS escalation handler)
        from zhengding.core import outbox
        from zhengding.notify.models import SmsMessage

        person = new_id_number()
        task_id = await task_at_grid1(client, personas, person)
        r = await lab.post({"items": [result(person, result="positive", lab="海南省疾控中心")]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        async with db.unit_of_work(readonly=True) as s:
            members = set(await org_service.member_user_ids(s, [personas.grid1.unit_id], subtree=True))
            notified = set(
                (
                    await s.execute(
                        select(Notification.user_id).where(
                            Notification.object_id == task_id, Notification.kind == "alert"
                        )
                    )
                ).scalars()
            )
            body = (
                (await s.execute(select(Notification.body).where(Notification.object_id == task_id)))
                .scalars()
                .first()
            )
        assert personas.grid1.user_id in members and personas.grid2.user_id not in members
        assert notified == members
        assert "阳性" in body and person not in body
        alert = [e for e in captured_events if e.type == "verification.nat.positive"]
        assert (
            alert
            and alert[-1].payload["task_ids"] == [task_id]
            and alert[-1].unit_ids == (personas.grid1.unit_id,)
        )
        detail = (
            await client.get(f"/api/verification/tasks/{task_id}", headers=personas.grid1.headers)
        ).json()
        assert detail["nat_result"] == "positive"
        # An "alert", not a "ding": there is no DING behind it, so it is not listed under DING; still
        # unread after the DING delay, it goes out by SMS; a plain "read" marks it read.
        g1 = personas.grid1.headers
        dings = (
            await client.get("/api/notifications", params={"kind": "ding", "limit": 100}, headers=g1)
        ).json()
        assert task_id not in {n["object_id"] for n in dings["items"]}
        alerts = (
            await client.get("/api/notifications", params={"kind": "alert", "limit": 100}, headers=g1)
        ).json()
        (entry,) = [n for n in alerts["items"] if n["object_id"] == task_id]
        assert entry["title"] == "核酸阳性预警" and not entry["read"]
        clock.advance(minutes=ding_service.default_escalate_minutes() + 1)
        await outbox.drain(db)
        async with db.unit_of_work(readonly=True) as s:
            sms = set(
                (await s.execute(select(SmsMessage.user_id).where(SmsMessage.object_id == task_id))).scalars()
            )
        assert sms == members
        assert (await client.post(f"/api/notifications/{entry['id']}/read", headers=g1)).status_code == 200
        async with db.unit_of_work(readonly=True) as s:
            assert (
                await s.execute(select(Notification.read_at).where(Notification.id == entry["id"]))
            ).scalar()

    async def test_bad_signature_stores_nothing(self, db, lab):
        person = new_id_number()
        nonce = "n" + os.urandom(12).hex()
        before = await count(db, NatInboundReceipt)
        r = await lab.post({"items": [result(person, result="positive")]}, secret="wrong-secret", nonce=nonce)
        assert r.status_code == 401
        old = await lab.post(result(person), timestamp=int(now().timestamp()) - 301)
        assert old.status_code == 401
        assert (
            await count(db, NatTestResult, NatTestResult.id_number_bidx == blind_index("id_number", person))
            == 0
        )
        assert await count(db, NatInboundReceipt) == before
        assert await count(db, InboundNonce, InboundNonce.nonce == nonce) == 0
        # A nonce is accepted once only.
        ok = await lab.post(result(person), nonce=nonce)
        assert ok.status_code == 201
        reused = await lab.post(result(new_id_number()), nonce=nonce)
        assert reused.status_code == 401

    async def test_envelope_is_checked(self, lab):
        assert (await lab.post({"items": []})).status_code == 422
        assert (await lab.post({"items": [result(new_id_number())], "extra": 1})).status_code == 422
        assert (await lab.post({"items": [result(new_id_number())] * 501})).status_code == 422
