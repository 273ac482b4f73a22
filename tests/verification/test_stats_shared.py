"""Shared statistics reads (stats._shared): identical concurrent reads cost one query; every
caller keeps its own access check; different scopes and filters never share; errors and
cancellations; when a write becomes visible (this process at once, another after the window)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from tests.verification.support import dispatch, import_rows, new_id_number
from zhengding.accounts.models import User
from zhengding.accounts.service import sessions as session_service
from zhengding.config import get_settings, set_settings
from zhengding.orgs.models import OrgUnit
from zhengding.verification.cells import Deltas
from zhengding.verification.models import StatCell
from zhengding.verification.service import stats

REPLY = {
    "found": True,
    "location": "秀英街道3队12号",
    "contact": "",
    "health_status": "正常",
    "measure": "居家健康监测",
    "note": "已见到本人",
    "photo_ids": [],
}


@pytest.fixture
def reuse_ms():
    """Set ZD_STATS_REUSE_MS for one test; nothing kept from before or after it."""
    base = get_settings()
    stats._reads.forget()

    def use(ms: int) -> None:
        set_settings(replace(base, stats_reuse_ms=ms))

    yield use
    set_settings(base)
    stats._reads.forget()


def one_connection_reader(db, actor, **filters):  # type: ignore[no-untyped-def]
    """An engine with ONE connection (the test can hold it, so that a shared query waits for it)
    and a read of the unit statistics on a read-only session of it."""
    engine = create_async_engine(
        db.url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0, pool_timeout=60
    )
    make = async_sessionmaker(engine, expire_on_commit=False)

    async def read() -> dict:
        session = make()
        session.info["readonly"] = True
        try:
            return await stats.unit_stats(session, actor, **filters)
        finally:
            await session.close()

    return engine, read


class CellQueries:
    """Counts the SELECTs over the summary cells sent to the database (a real count)."""

    def __init__(self, *engines: Any) -> None:
        self.engines = list({id(e.sync_engine): e.sync_engine for e in engines}.values())
        self.n = 0

    def _seen(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if "verification_stat_cells" in statement and statement.lstrip().upper().startswith("SELECT"):
            self.n += 1

    def __enter__(self) -> CellQueries:
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._seen)


def cell_queries(db) -> CellQueries:
    return CellQueries(db.read_engine, db.write_engine)


async def actor_of(db, persona):
    async with db.unit_of_work(readonly=True) as s:
        return await session_service.build_actor(s, await s.get(User, persona.user_id))


async def solo(db, fn, actor, *args: Any, **kwargs: Any) -> Any:
    """The reference: a read in a write session, which never shares."""
    async with db.unit_of_work() as s:
        return await fn(s, actor, *args, **kwargs)


async def shared(db, fn, actor, *args: Any, **kwargs: Any) -> Any:
    async with db.unit_of_work(readonly=True) as s:
        return await fn(s, actor, *args, **kwargs)


async def _haikou_batch_day(db, client, p) -> tuple[str, Any, Any]:
    """A fresh batch at Haikou, Haikou's actor, and the day its cells are counted under."""
    batch_id = await _batch_at_haikou(client, p)
    haikou = await actor_of(db, p.haikou)
    day = (await solo(db, stats.daily_stats, haikou, batch_id=batch_id))[0]["day"]
    return batch_id, haikou, day


async def _commit_closed(db, unit_id: str, batch_id: str, day: Any, n: int) -> None:
    """This process commits a change of the summary cells: `n` more closed tasks."""
    async with db.unit_of_work() as w:
        deltas = Deltas()
        deltas.add([unit_id], batch_id, day, "closed", n)
        await deltas.apply(w)


async def _batch_at_haikou(client, p) -> str:
    """A batch of two tasks routed by clue to Haikou (held there, dispatched status)."""
    clue = f"海口市秀英区秀英街道{p.grid1.unit_name}2队"
    rows = [["甲", new_id_number(), "", clue, "", ""], ["乙", new_id_number(), "", clue, "", ""]]
    return (await import_rows(client, p.province, rows))["batch_id"]


async def _sibling_county(db, p) -> str:
    async with db.unit_of_work(readonly=True) as s:
        return (
            await s.execute(
                select(OrgUnit.id)
                .where(OrgUnit.parent_id == p.haikou.unit_id, OrgUnit.id != p.xiuying.unit_id)
                .limit(1)
            )
        ).scalar_one()


class TestIdenticalReadsShare:
    async def test_concurrent_identical_reads_run_one_query_each_and_agree(
        self, db, client, personas, reuse_ms
    ):
        reuse_ms(0)
        await _batch_at_haikou(client, personas)
        province = await actor_of(db, personas.province)
        expected = [
            await solo(db, fn, province) for fn in (stats.unit_stats, stats.batch_stats, stats.daily_stats)
        ]
        with cell_queries(db) as q:
            results = await asyncio.gather(
                *(
                    shared(db, fn, province)
                    for fn in (stats.unit_stats, stats.batch_stats, stats.daily_stats)
                    for _ in range(12)
                )
            )
        assert q.n == 3  # one per kind of read, not 36
        for i, want in enumerate(expected):
            assert results[i * 12 : (i + 1) * 12] == [want] * 12
        # Each caller has its own copy: one changing its answer does not touch another's.
        results[0]["unit"]["total"] = -1
        results[0]["children"][0]["total"] = -1
        results[12][0]["total"] = -1
        assert results[1] == expected[0] and results[13] == expected[1]

    async def test_requests_beyond_the_connection_pool_all_complete(self, client, personas, reuse_ms):
        # Every request already holds a connection (its authentication) when it reads the
        # statistics: the shared read must not need another one, or 40 requests waiting for
        # it would hold the whole pool (4 on SQLite, 30 on PostgreSQL) and stall.
        reuse_ms(0)
        p = personas
        urls = [
            "/api/verification/stats",
            "/api/verification/stats/batches",
            "/api/verification/stats/daily",
            f"/api/verification/stats?unit_id={p.haikou.unit_id}",
        ]
        async with asyncio.timeout(90):
            responses = await asyncio.gather(
                *(client.get(urls[i % 4], headers=p.province.headers) for i in range(40))
            )
        assert all(r.status_code == 200 for r in responses), [
            r.text for r in responses if r.status_code != 200
        ]
        for i in range(4):
            assert len({r.text for r in responses[i::4]}) == 1


class TestScopeIsEachCallers:
    async def test_outside_scope_gets_404_while_others_share_the_read(self, db, client, personas, reuse_ms):
        reuse_ms(2000)  # the refused callers also meet a kept result
        p = personas
        sibling = await _sibling_county(db, p)
        city = f"/api/verification/stats?unit_id={p.haikou.unit_id}"
        county = f"/api/verification/stats?unit_id={sibling}"
        calls = [
            (city, p.province),
            (city, p.haikou),
            (city, p.town),
            (city, p.province),
            (city, p.xiuying),
            (county, p.haikou),
            (county, p.xiuying),
            (county, p.province),
            (county, p.town),
        ]
        responses = await asyncio.gather(*(client.get(url, headers=who.headers) for url, who in calls))
        assert [r.status_code for r in responses] == [200, 200, 404, 200, 404, 200, 404, 200, 404]
        assert responses[0].json() == responses[1].json() == responses[3].json()
        assert responses[0].json()["unit"]["id"] == p.haikou.unit_id
        assert responses[5].json() == responses[7].json() and responses[5].json()["unit"]["id"] == sibling
        for path in ("/api/verification/stats/batches", "/api/verification/stats/daily"):
            url = f"{path}?unit_id={sibling}"
            ok, hidden = await asyncio.gather(
                client.get(url, headers=p.haikou.headers), client.get(url, headers=p.xiuying.headers)
            )
            assert ok.status_code == 200 and hidden.status_code == 404, hidden.text
        # Sequential, within the window: the kept reads do not open the door either.
        assert (await client.get(city, headers=p.town.headers)).status_code == 404
        assert (await client.get(county, headers=p.xiuying.headers)).status_code == 404
        assert (await client.get(city, headers=p.outsider.headers)).status_code == 403

    async def test_different_scopes_and_filters_do_not_share(self, db, client, personas, reuse_ms, clock):
        reuse_ms(2000)
        clock.freeze()
        p = personas
        batch_id = await _batch_at_haikou(client, p)
        province, haikou, town = [await actor_of(db, x) for x in (p.province, p.haikou, p.town)]
        day = (await solo(db, stats.daily_stats, haikou, batch_id=batch_id))[0]["day"]
        reads = [
            (stats.unit_stats, province, (), {}),
            (stats.unit_stats, haikou, (), {}),  # a different default unit: the actor's own
            (stats.unit_stats, town, (), {}),
            (stats.unit_stats, province, (), {"batch_id": batch_id}),
            (stats.unit_stats, province, (p.haikou.unit_id,), {"batch_id": batch_id}),
            (stats.unit_stats, province, (p.haikou.unit_id,), {"batch_id": batch_id, "day_from": day}),
            (stats.unit_stats, province, (p.haikou.unit_id,), {"batch_id": batch_id, "day_to": "2000-01-01"}),
            (stats.batch_stats, province, (), {}),
            (stats.batch_stats, haikou, (), {}),
            (stats.batch_stats, haikou, (), {"day_from": "2999-01-01"}),
            (stats.daily_stats, haikou, (), {}),
            (stats.daily_stats, haikou, (), {"batch_id": batch_id}),
        ]
        expected = [await solo(db, fn, actor, *args, **kw) for fn, actor, args, kw in reads]
        assert expected[3]["unit"]["total"] == 2 and expected[6]["unit"]["total"] == 0
        assert expected[0]["unit"]["id"] != expected[1]["unit"]["id"] != expected[2]["unit"]["id"]
        assert expected[9] == [] and expected[11][0]["total"] == 2
        for _ in range(2):  # concurrently, then again from the kept results
            with cell_queries(db) as q:
                results = await asyncio.gather(
                    *(shared(db, fn, actor, *args, **kw) for fn, actor, args, kw in reads for _ in range(3))
                )
            assert [results[i * 3] for i in range(len(reads))] == expected
            assert all(results[i] == results[i - i % 3] for i in range(len(results)))
            assert q.n == (len(reads) if _ == 0 else 0)


class TestErrorsAndCancellation:
    async def test_an_error_reaches_every_waiter_and_the_next_read_runs_again(self, db, personas, reuse_ms):
        reuse_ms(2000)
        province = await actor_of(db, personas.province)

        class Injected(Exception):
            pass

        def fail(conn, cursor, statement, parameters, context, executemany) -> None:
            if "verification_stat_cells" in statement:
                raise Injected("statistics unavailable")

        engine = db.read_engine.sync_engine
        with cell_queries(db) as q:  # counts first, then fails
            event.listen(engine, "before_cursor_execute", fail)
            try:
                results = await asyncio.gather(
                    *(shared(db, stats.unit_stats, province) for _ in range(6)), return_exceptions=True
                )
            finally:
                event.remove(engine, "before_cursor_execute", fail)
        assert all(isinstance(r, Injected) for r in results), results
        assert q.n == 1
        with cell_queries(db) as q:
            again = await asyncio.gather(*(shared(db, stats.unit_stats, province) for _ in range(3)))
        assert q.n == 1 and again == [await solo(db, stats.unit_stats, province)] * 3

    async def test_a_cancelled_waiter_or_leader_does_not_break_the_others(self, db, personas, reuse_ms):
        reuse_ms(0)
        province = await actor_of(db, personas.province)
        expected = await solo(db, stats.unit_stats, province)
        # An engine with ONE connection, held by the test: the leader's query waits for it.
        engine, read = one_connection_reader(db, province)

        try:
            held = await engine.connect()
            executions = stats._reads.executions
            leader = asyncio.create_task(read())
            await asyncio.sleep(0.05)
            waiters = [asyncio.create_task(read()) for _ in range(5)]
            await asyncio.sleep(0.05)
            assert stats._reads.executions == executions + 1 and not leader.done()
            waiters[0].cancel()
            leader.cancel()
            await asyncio.sleep(0.05)
            assert leader.cancelled() and waiters[0].cancelled()
            await held.close()
            async with asyncio.timeout(60):
                results = await asyncio.gather(*waiters[1:])
            assert results == [expected] * 4
            assert stats._reads.executions == executions + 2  # the leader's run, then one waiter's
        finally:
            await engine.dispose()


class TestWritesBecomeVisible:
    async def test_this_process_writes_are_seen_by_the_next_read_at_once(
        self, client, personas, reuse_ms, clock
    ):
        reuse_ms(2000)
        clock.freeze()  # the whole test runs inside one window
        p = personas
        batch_id = await _batch_at_haikou(client, p)

        async def counts(persona, unit_id: str) -> dict:
            r = await client.get(
                f"/api/verification/stats?batch_id={batch_id}&unit_id={unit_id}", headers=persona.headers
            )
            assert r.status_code == 200, r.text
            return {c["id"]: c for c in [r.json()["unit"], *r.json()["children"]]}

        before = await counts(p.haikou, p.haikou.unit_id)
        assert before[p.haikou.unit_id]["total"] == 2 and before[p.xiuying.unit_id]["total"] == 0
        assert await counts(p.haikou, p.haikou.unit_id) == before  # kept
        await dispatch(client, p.haikou, batch_id=batch_id, unit_id=p.xiuying.unit_id)
        assert (await counts(p.haikou, p.haikou.unit_id))[p.xiuying.unit_id]["total"] == 2
        await dispatch(client, p.xiuying, batch_id=batch_id, unit_id=p.town.unit_id)
        await counts(p.town, p.town.unit_id)
        await dispatch(client, p.town, batch_id=batch_id, unit_id=p.grid1.unit_id, user_id=p.grid1.user_id)
        tasks = (
            await client.get(f"/api/verification/tasks?batch_id={batch_id}", headers=p.grid1.headers)
        ).json()
        assert (await counts(p.town, p.town.unit_id))[p.grid1.unit_id]["replied"] == 0
        r = await client.post(
            f"/api/verification/tasks/{tasks['items'][0]['id']}/reply", json=REPLY, headers=p.grid1.headers
        )
        assert r.status_code == 200, r.text
        town = await counts(p.town, p.town.unit_id)
        assert town[p.grid1.unit_id]["replied"] == 1 and town[p.town.unit_id]["replied"] == 1

    async def test_a_read_after_a_commit_does_not_join_a_flight_begun_before_it(
        self, db, client, personas, reuse_ms
    ):
        reuse_ms(2000)
        p = personas
        batch_id, haikou, day = await _haikou_batch_day(db, client, p)
        engine, read = one_connection_reader(db, haikou, batch_id=batch_id)

        try:
            held = await engine.connect()
            executions = stats._reads.executions
            early = asyncio.create_task(read())  # in flight (waiting for the connection)
            await asyncio.sleep(0.05)
            await _commit_closed(db, p.haikou.unit_id, batch_id, day, 1)
            late = asyncio.create_task(read())
            await asyncio.sleep(0.05)
            assert stats._reads.executions == executions + 2  # the late read runs its own query
            await held.close()
            async with asyncio.timeout(60):
                assert (await late)["unit"]["closed"] == 1
                await early
        finally:
            await engine.dispose()
            await _commit_closed(db, p.haikou.unit_id, batch_id, day, -1)

    async def test_a_session_begun_before_a_commit_does_not_share_its_snapshot(
        self, db, client, personas, reuse_ms
    ):
        # SQLite keeps one snapshot per transaction: a request that began before this process
        # committed a change of the cells may read the older counts — for itself only.
        reuse_ms(2000)
        p = personas
        batch_id, haikou, day = await _haikou_batch_day(db, client, p)
        try:
            async with db.unit_of_work(readonly=True) as early:
                await early.execute(select(User.id).limit(1))  # its transaction (snapshot) begins
                await _commit_closed(db, p.haikou.unit_id, batch_id, day, 1)
                await stats.unit_stats(early, haikou, batch_id=batch_id)
            assert (await shared(db, stats.unit_stats, haikou, batch_id=batch_id))["unit"]["closed"] == 1
        finally:
            await _commit_closed(db, p.haikou.unit_id, batch_id, day, -1)

    async def test_another_process_write_is_seen_after_the_window(
        self, db, client, personas, reuse_ms, clock
    ):
        reuse_ms(1500)
        clock.freeze()
        p = personas
        batch_id = await _batch_at_haikou(client, p)
        url = f"/api/verification/stats?batch_id={batch_id}"

        async def closed() -> int:
            r = await client.get(url, headers=p.haikou.headers)
            assert r.status_code == 200, r.text
            return r.json()["unit"]["closed"]

        assert await closed() == 0
        # Another node's commit: straight on a connection, no session of this process sees it.
        cell = (StatCell.batch_id == batch_id) & (StatCell.unit_id == p.haikou.unit_id)
        async with db.write_engine.begin() as conn:
            await conn.execute(update(StatCell).where(cell).values(closed=StatCell.closed + 5))
        try:
            clock.advance(seconds=1.4)
            assert await closed() == 0  # within the window: the kept read
            clock.advance(seconds=0.2)
            assert await closed() == 5  # the first read after the window sees the write
        finally:
            async with db.write_engine.begin() as conn:
                await conn.execute(update(StatCell).where(cell).values(closed=StatCell.closed - 5))

    async def test_a_write_session_reads_its_own_changes_and_shares_nothing(
        self, db, client, personas, reuse_ms
    ):
        reuse_ms(2000)
        p = personas
        batch_id, haikou, day = await _haikou_batch_day(db, client, p)

        class Undo(Exception):
            pass

        with pytest.raises(Undo):
            async with db.unit_of_work() as w:
                deltas = Deltas()
                deltas.add([p.haikou.unit_id], batch_id, day, "closed", 7)
                await deltas.apply(w)
                mine = await stats.unit_stats(w, haikou, batch_id=batch_id)
                theirs = await shared(db, stats.unit_stats, haikou, batch_id=batch_id)
                assert (mine["unit"]["closed"], theirs["unit"]["closed"]) == (7, 0)
                raise Undo
        assert (await shared(db, stats.unit_stats, haikou, batch_id=batch_id))["unit"]["closed"] == 0
