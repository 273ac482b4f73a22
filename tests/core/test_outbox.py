"""Outbox: same-transaction rows, claim with lease, retry with backoff, dead letter after 8
attempts, lease expiry after a lost worker, scheduled jobs once per slot across workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import delete, select

from tests.realtime.support import ensure_tables
from zhengding.core import jobs, outbox
from zhengding.core.db import get_db
from zhengding.core.ids import new_id

calls: dict[str, list] = {}


@outbox.handler("test.outbox.record")
async def _record(session, payload):
    calls.setdefault(payload["key"], []).append(payload)


@outbox.handler("test.outbox.fail")
async def _fail(session, payload):
    calls.setdefault(payload["key"], []).append(payload)
    raise RuntimeError("downstream unavailable")


@pytest.fixture(autouse=True)
async def clean_outbox(db):
    await ensure_tables(db)
    async with db.unit_of_work() as session:
        await session.execute(delete(outbox.OutboxRow))
    calls.clear()
    saved = dict(jobs._schedules)  # other domains' schedules would add rows to these rounds
    jobs._schedules.clear()
    yield
    jobs._schedules.update(saved)


def config(**kw) -> outbox.WorkerConfig:
    return outbox.WorkerConfig(worker_id=kw.pop("worker_id", "w-" + new_id()[-6:]), backoff_base=1.0, **kw)


async def row(row_id: str) -> SimpleNamespace:
    async with get_db().unit_of_work(readonly=True) as session:
        r = await session.get(outbox.OutboxRow, row_id)
        return SimpleNamespace(
            status=r.status, attempts=r.attempts, last_error=r.last_error, available_at=r.available_at
        )


class TestEnqueue:
    async def test_row_exists_only_if_the_transaction_commits(self, db):
        key = new_id()
        with pytest.raises(RuntimeError):
            async with db.unit_of_work() as session:
                outbox.enqueue(session, "test.outbox.record", {"key": key})
                await session.flush()
                raise RuntimeError("rollback")
        async with db.unit_of_work() as session:
            kept = outbox.enqueue(session, "test.outbox.record", {"key": key})
        assert await outbox.drain(db, config()) == 1
        assert len(calls[key]) == 1 and (await row(kept.id)).status == outbox.DONE

    async def test_delayed_row_waits_for_the_clock(self, db, clock):
        key = new_id()
        async with db.unit_of_work() as session:
            outbox.enqueue(session, "test.outbox.record", {"key": key}, delay=timedelta(minutes=10))
        assert await outbox.drain(db, config()) == 0
        clock.advance(minutes=10, seconds=1)
        assert await outbox.drain(db, config()) == 1
        assert len(calls[key]) == 1


class TestRetry:
    async def test_failures_back_off_then_dead_letter_after_8_attempts(self, db, clock):
        key = new_id()
        async with db.unit_of_work() as session:
            r = outbox.enqueue(session, "test.outbox.fail", {"key": key})
        cfg = config()
        waits = []
        for attempt in range(1, 9):
            assert await outbox.run_once(db, cfg) == 1
            state = await row(r.id)
            if attempt < 8:
                assert state.status == outbox.PENDING and state.attempts == attempt
                assert "downstream unavailable" in state.last_error
                waits.append((state.available_at - clock.now()).total_seconds())
                assert await outbox.run_once(db, cfg) == 0  # not before its backoff
                clock.advance(seconds=waits[-1] + 1)
        state = await row(r.id)
        assert state.status == outbox.DEAD and state.attempts == 8
        assert len(calls[key]) == 8
        assert waits == sorted(waits) and waits[-1] > waits[0] * 20  # exponential
        clock.advance(days=2)
        assert await outbox.run_once(db, cfg) == 0  # dead rows are never claimed again

    async def test_administrator_retries_a_dead_row(self, db, client, personas):
        async with db.unit_of_work() as session:
            r = outbox.enqueue(session, "test.outbox.missing-handler", {})
        await outbox.run_once(db, config())
        assert (await row(r.id)).status == outbox.DEAD  # no handler: dead at once
        listed = await client.get("/api/outbox", headers=personas.sysadmin.headers)
        assert listed.status_code == 200 and r.id in [i["id"] for i in listed.json()["items"]]
        assert listed.json()["counts"]["dead"] >= 1
        refused = await client.get("/api/outbox", headers=personas.town.headers)
        assert refused.status_code == 403
        retried = await client.post(f"/api/outbox/{r.id}/retry", headers=personas.sysadmin.headers)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        assert (await row(r.id)).attempts == 0


class TestLease:
    async def test_row_of_a_lost_worker_is_claimed_again_after_its_lease(self, db, clock):
        key = new_id()
        async with db.unit_of_work() as session:
            r = outbox.enqueue(session, "test.outbox.record", {"key": key})
        lost = config(lease=timedelta(seconds=30))
        claimed = await outbox.claim(db, lost)  # the worker dies before processing
        assert [c[0] for c in claimed] == [r.id]
        other = config()
        assert await outbox.run_once(db, other) == 0  # leased
        clock.advance(seconds=31)
        assert await outbox.run_once(db, other) == 1
        assert (await row(r.id)).status == outbox.DONE and len(calls[key]) == 1
        # the lost worker wakes up: its lease is gone, it changes nothing
        status = await outbox.process(db, lost, *claimed[0])
        assert status == outbox.RUNNING and len(calls[key]) == 1

    async def test_concurrent_workers_never_claim_the_same_row(self, db):
        async with db.unit_of_work() as session:
            outbox.enqueue_many(session, "test.outbox.record", [{"key": f"c{i}"} for i in range(60)])
        workers = [config(batch=7) for _ in range(4)]
        claimed = await asyncio.gather(*(outbox.claim(db, w) for w in workers))
        ids = [c[0] for batch in claimed for c in batch]
        assert len(ids) == len(set(ids)) == 28


class TestSchedules:
    async def test_a_schedule_runs_once_per_slot_across_workers(self, db, clock):
        key = "sched-" + new_id()
        jobs.schedule("test.outbox.record", every=timedelta(minutes=5), payload={"key": key})
        try:
            clock.freeze()
            jobs._attempted.clear()
            await asyncio.gather(*(outbox.run_once(db, config()) for _ in range(3)))
            jobs._attempted.clear()  # as if each run were another node
            await asyncio.gather(*(outbox.run_once(db, config()) for _ in range(3)))
            assert len(calls[key]) == 1
            clock.advance(minutes=5)
            jobs._attempted.clear()
            await asyncio.gather(*(outbox.run_once(db, config()) for _ in range(3)))
            assert len(calls[key]) == 2
            slots = {c["slot"] for c in calls[key]}
            assert len(slots) == 2
        finally:
            jobs.unschedule("test.outbox.record")
            async with db.unit_of_work() as session:
                rows = (
                    await session.scalars(
                        select(outbox.OutboxRow).where(
                            outbox.OutboxRow.dedupe_key.like("job:test.outbox.record:%")
                        )
                    )
                ).all()
                for r in rows:
                    await session.delete(r)
