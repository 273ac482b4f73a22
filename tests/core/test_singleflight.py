"""core.singleflight: concurrent identical calls run once; errors and cancellations; kept results."""

from __future__ import annotations

import asyncio

import pytest

from zhengding.core.singleflight import SingleFlight


class Gate:
    """A computation that counts its runs and finishes when released (or fails when told)."""

    def __init__(self, value: object = "v") -> None:
        self.value, self.runs, self.error = value, 0, None
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self) -> object:
        self.runs += 1
        self.started.set()
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.value


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class TestConcurrentCalls:
    async def test_identical_keys_run_once_and_all_get_the_result(self):
        flights: SingleFlight[object] = SingleFlight()
        gate = Gate({"n": 1})
        tasks = [asyncio.create_task(flights.run(("k", 1), gate)) for _ in range(20)]
        await _settle()
        gate.release.set()
        results = await asyncio.gather(*tasks)
        assert gate.runs == 1 and flights.executions == 1
        assert all(r is results[0] for r in results) and results[0] == {"n": 1}

    async def test_different_keys_do_not_share(self):
        flights: SingleFlight[object] = SingleFlight()
        a, b = Gate("a"), Gate("b")
        tasks = [asyncio.create_task(flights.run(k, g)) for k, g in ((1, a), (2, b), (1, a), (2, b))]
        await _settle()
        a.release.set()
        b.release.set()
        assert await asyncio.gather(*tasks) == ["a", "b", "a", "b"]
        assert (a.runs, b.runs) == (1, 1)

    async def test_after_a_flight_the_next_call_runs_again_without_keep(self):
        flights: SingleFlight[object] = SingleFlight()
        gate = Gate()
        gate.release.set()
        assert await flights.run("k", gate) == "v"
        assert await flights.run("k", gate) == "v"
        assert gate.runs == 2


class TestErrors:
    async def test_error_reaches_every_waiter_and_the_next_call_runs_again(self):
        flights: SingleFlight[object] = SingleFlight()
        gate = Gate()
        gate.error = ValueError("boom")
        tasks = [asyncio.create_task(flights.run("k", gate)) for _ in range(5)]
        await _settle()
        gate.release.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, ValueError) and str(r) == "boom" for r in results)
        assert gate.runs == 1
        gate.error = None
        assert await flights.run("k", gate, keep_for=10) == "v"
        assert gate.runs == 2

    async def test_an_error_is_never_kept(self):
        flights: SingleFlight[object] = SingleFlight()
        gate = Gate()
        gate.release.set()
        gate.error = KeyError("x")
        with pytest.raises(KeyError):
            await flights.run("k", gate, keep_for=10)
        gate.error = None
        assert await flights.run("k", gate, keep_for=10) == "v"
        assert gate.runs == 2


class TestCancellation:
    async def test_a_cancelled_waiter_does_not_disturb_the_others(self):
        flights: SingleFlight[object] = SingleFlight()
        gate = Gate()
        leader = asyncio.create_task(flights.run("k", gate))
        waiters = [asyncio.create_task(flights.run("k", gate)) for _ in range(4)]
        await _settle()
        waiters[0].cancel()
        await _settle()
        assert waiters[0].cancelled() and not leader.done()
        gate.release.set()
        assert await leader == "v"
        assert await asyncio.gather(*waiters[1:]) == ["v", "v", "v"]
        assert gate.runs == 1

    async def test_a_cancelled_leader_hands_over_to_a_waiter(self):
        flights: SingleFlight[object] = SingleFlight()
        first, second = Gate("first"), Gate("second")
        leader = asyncio.create_task(flights.run("k", first))
        await first.started.wait()
        waiters = [asyncio.create_task(flights.run("k", second)) for _ in range(4)]
        await _settle()
        leader.cancel()
        async with asyncio.timeout(10):
            await second.started.wait()  # one waiter took over and runs its own computation
        assert leader.cancelled()
        second.release.set()
        assert await asyncio.gather(*waiters) == ["second"] * 4
        assert (first.runs, second.runs) == (1, 1) and flights.executions == 2


class TestKept:
    async def test_result_is_kept_within_the_window_and_not_after(self):
        t = [100.0]
        flights: SingleFlight[object] = SingleFlight(clock=lambda: t[0])
        gate = Gate()
        gate.release.set()
        assert await flights.run("k", gate, keep_for=1.0) == "v"
        t[0] = 100.9
        assert await flights.run("k", gate, keep_for=1.0) == "v"
        assert gate.runs == 1
        t[0] = 101.0
        await flights.run("k", gate, keep_for=1.0)
        assert gate.runs == 2
        t[0] = 50.0  # the clock went back: the entry is not trusted
        await flights.run("k", gate, keep_for=1.0)
        assert gate.runs == 3

    async def test_forget_drops_kept_results(self):
        flights: SingleFlight[object] = SingleFlight()
        gate = Gate()
        gate.release.set()
        await flights.run("k", gate, keep_for=60)
        await flights.run("k", gate, keep_for=60)
        assert gate.runs == 1
        flights.forget()
        await flights.run("k", gate, keep_for=60)
        assert gate.runs == 2
