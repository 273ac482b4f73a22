"""Group commit of the single-record endpoint: requests in flight share one transaction, each is
answered as if it had been alone, only after the shared commit; a failing request fails alone."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import func, select

from tests.returnees.conftest import GRID2_DEST, Sender, registration
from tests.returnees.test_inbound import count_nonce, count_returnees
from zhengding.audit.models import AuditEntry
from zhengding.core.db import Database
from zhengding.returnees.models import ReturneeHistory, ReturneeStat
from zhengding.returnees.service import inbound, ingest
from zhengding.returnees.service import ingest as ingest_mod


async def source_ref(key_id: str) -> inbound.SourceRef:
    ref = await inbound.source_for_key(key_id)
    assert ref is not None
    return ref


def nonce() -> str:
    return "gc-" + os.urandom(12).hex()


@pytest.fixture
def group_sizes(monkeypatch) -> list[int]:
    sizes: list[int] = []
    real = ingest_mod.run_group

    async def spy(db: Database, subs: list[ingest.Submission]) -> None:
        sizes.append(len(subs))
        await real(db, subs)

    monkeypatch.setattr(ingest_mod, "run_group", spy)
    return sizes


class TestOneTransaction:
    async def test_each_request_of_a_group_is_answered_as_if_alone(
        self, db, inbound_source, captured_events, personas
    ):
        src = await source_ref(inbound_source[0])
        first, other = registration(), registration()
        shared = nonce()
        subs = [
            ingest.Submission(src, [first], nonce=nonce(), single=True),
            ingest.Submission(src, [dict(first)], nonce=nonce(), single=True),  # retry of the same record
            ingest.Submission(
                src, [{**first, "destination": GRID2_DEST}], nonce=nonce(), single=True
            ),  # conflict
            ingest.Submission(src, [registration(phone="123")], nonce=nonce(), single=True),  # rejected
            ingest.Submission(src, [other], nonce=shared, single=True),
            ingest.Submission(src, [registration()], nonce=shared, single=True),  # nonce used just before
        ]
        await ingest.run_group(db, subs)
        assert [s.results[0].status if s.results else "nonce" for s in subs] == [
            "accepted",
            "replayed",
            "conflict",
            "rejected",
            "accepted",
            "nonce",
        ]
        assert subs[1].results[0].result == subs[0].results[0].result
        assert all(s.error is None for s in subs)
        assert await count_returnees(db, first["registration_id"]) == 1
        assert await count_returnees(db, other["registration_id"]) == 1
        assert await count_returnees(db, subs[5].items[0]["registration_id"]) == 0
        # Nonces: kept for the accepted and the replay; released for the refused ones.
        for sub, kept in zip(subs, [1, 1, 0, 0, 1, 1], strict=True):
            assert await count_nonce(db, sub.nonce) == kept, sub.results
        pushed = [e for e in captured_events if e.type == "returnees.returnee.dispatched"]
        assert {e.payload["id"] for e in pushed} == {
            subs[0].results[0].result["id"],
            subs[4].results[0].result["id"],
        }
        async with db.unit_of_work(readonly=True) as session:
            ids = [subs[0].results[0].result["id"], subs[4].results[0].result["id"]]
            assert (
                await session.execute(
                    select(func.count())
                    .select_from(ReturneeHistory)
                    .where(ReturneeHistory.returnee_id.in_(ids))
                )
            ).scalar_one() == 2
            audited = (
                await session.execute(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(
                        AuditEntry.action == "returnees.registration.received", AuditEntry.target_id.in_(ids)
                    )
                )
            ).scalar_one()
            assert audited == 2

    async def test_counters_of_one_group_add_up(self, db, inbound_source):
        src = await source_ref(inbound_source[0])
        port = "测试港" + os.urandom(3).hex()
        subs = [
            ingest.Submission(src, [registration(port_of_entry=port)], nonce=nonce(), single=True)
            for _ in range(5)
        ]
        await ingest.run_group(db, subs)
        async with db.unit_of_work(readonly=True) as session:
            arrivals = (
                await session.execute(
                    select(func.sum(ReturneeStat.arrivals)).where(ReturneeStat.port_of_entry == port)
                )
            ).scalar_one()
        assert arrivals == 5

    async def test_concurrent_posts_share_transactions_and_keep_their_answers(
        self, sender: Sender, db, group_sizes
    ):
        items = [registration() for _ in range(6)]
        dup = items[0]
        shared = nonce()
        calls = (
            [sender.one(i) for i in items]
            + [sender.one(dup) for _ in range(3)]
            + [
                sender.post("/api/inbound/registrations", {**items[1], "destination": GRID2_DEST}),
                sender.post("/api/inbound/registrations", registration(), nonce=shared),
                sender.post("/api/inbound/registrations", registration(), nonce=shared),
            ]
        )
        answers = await asyncio.gather(*calls)
        codes = [a.status_code for a in answers]
        assert sorted(codes[:6] + codes[6:9]) == [200, 200, 200, 201, 201, 201, 201, 201, 201]
        assert len({a.json()["id"] for a in answers[:1] + answers[6:9]}) == 1
        assert codes[9] == 409
        assert sorted(codes[10:]) == [201, 401]
        assert max(group_sizes) > 1, group_sizes  # they did share transactions
        for item in items:
            assert await count_returnees(db, item["registration_id"]) == 1


class TestIsolationAndFailure:
    async def test_a_failing_request_fails_alone(self, sender: Sender, db, monkeypatch, group_sizes):
        real = ingest_mod.resolve_destination

        async def broken(session, text: str):
            if text == "坏的目的地":
                raise RuntimeError("resolver broke")
            return await real(session, text)

        monkeypatch.setattr(ingest_mod, "resolve_destination", broken)
        good = [registration() for _ in range(5)]
        bad = registration(destination="坏的目的地")
        bad_nonce = nonce()
        answers = await asyncio.gather(
            *[sender.one(i) for i in good[:3]],
            sender.post("/api/inbound/registrations", bad, nonce=bad_nonce),
            *[sender.one(i) for i in good[3:]],
            return_exceptions=True,
        )
        # (the test client raises the server's 500 instead of answering it)
        assert [500 if isinstance(a, BaseException) else a.status_code for a in answers] == [
            201,
            201,
            201,
            500,
            201,
            201,
        ]
        for item in good:
            assert await count_returnees(db, item["registration_id"]) == 1
        assert await count_returnees(db, bad["registration_id"]) == 0
        assert await count_nonce(db, bad_nonce) == 0

    async def test_an_error_in_the_database_fails_that_request_alone(self, db, inbound_source, monkeypatch):
        src = await source_ref(inbound_source[0])
        good = ingest.Submission(src, [registration()], nonce=nonce(), single=True)
        bad_item = registration()
        bad = ingest.Submission(src, [bad_item], nonce=nonce(), single=True)
        later = ingest.Submission(src, [registration()], nonce=nonce(), single=True)
        original = ingest_mod._row

        async def poisoned(session, sub, reg, digest):
            row = await original(session, sub, reg, digest)
            if reg.registration_id == bad_item["registration_id"]:
                row.values["transport"] = object()  # unbindable: the INSERT raises
            return row

        monkeypatch.setattr(ingest_mod, "_row", poisoned)
        await ingest.run_group(db, [good, bad, later])  # the shared INSERT fails: one SAVEPOINT each
        assert good.results[0].status == "accepted" and later.results[0].status == "accepted"
        assert bad.error is not None and bad.results == []
        assert await count_returnees(db, good.items[0]["registration_id"]) == 1
        assert await count_returnees(db, later.items[0]["registration_id"]) == 1
        assert await count_returnees(db, bad_item["registration_id"]) == 0
        assert await count_nonce(db, bad.nonce) == 0 and await count_nonce(db, good.nonce) == 1

    async def test_a_failed_commit_acknowledges_nobody(
        self, sender: Sender, db, monkeypatch, captured_events, inbound_source
    ):
        await source_ref(inbound_source[0])  # cached: the crash hits the group's commit

        async def crash(self, session) -> None:  # the commit never happens
            raise OSError("disk gone")

        monkeypatch.setattr(Database, "commit", crash)
        items = [registration() for _ in range(5)]
        answers = await asyncio.gather(*[sender.one(i) for i in items], return_exceptions=True)
        monkeypatch.undo()
        for a in answers:
            assert isinstance(a, BaseException) or a.status_code >= 500, a
        for item in items:
            assert await count_returnees(db, item["registration_id"]) == 0
        assert not [e for e in captured_events if e.type == "returnees.returnee.dispatched"]
        # The sender's retries then go through.
        again = await asyncio.gather(*[sender.one(i) for i in items])
        assert [a.status_code for a in again] == [201] * 5

    async def test_nothing_is_acknowledged_before_the_commit(self, sender: Sender, db, monkeypatch):
        committed: set[str] = set()
        real = ingest_mod.run_group

        async def slow(db_: Database, subs: list[ingest.Submission]) -> None:
            await asyncio.sleep(0.05)
            await real(db_, subs)
            committed.update(s.results[0].result["id"] for s in subs if s.results and s.results[0].result)

        monkeypatch.setattr(ingest_mod, "run_group", slow)

        async def post(item) -> None:
            r = await sender.one(item)
            assert r.status_code == 201 and r.json()["id"] in committed

        await asyncio.gather(*[post(registration()) for _ in range(6)])
        assert len(committed) == 6
