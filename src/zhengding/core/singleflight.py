"""Single flight: concurrent identical reads cost one execution (Go's x/sync/singleflight).

`await flights.run(key, fn)`: while `fn()` runs for `key`, every other caller with an equal key
awaits that same outcome instead of running it again. The key must name everything the result
depends on; callers check their own access before or after, never through the key.

The first caller (the leader) runs `fn()` inside its own task, so `fn` may use the leader's
session: the computation never outlives the caller whose connection it uses. Hence:
- a waiter cancelled: it stops waiting (shielded); the leader and the other waiters carry on;
- the leader cancelled (its request gone): the computation stops with it, the waiters are
  released and one of them runs `fn()` again, on its own session;
- `fn()` raises: the leader and every waiter get that exception; nothing is kept, so the next
  call runs again.
Optionally a finished result is kept `keep_for` seconds of `clock` (an entry is dropped when
the clock went back past it) and handed to later callers as is: callers must not mutate it.
State is per process and per event loop (a flight left by a closed loop is ignored).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

# Finished results are pruned of expired entries when there are more than this many.
_PRUNE_ABOVE = 512


class _LeaderGone(Exception):
    """The leader was cancelled before it finished: a waiter runs the computation again."""


class SingleFlight(Generic[V]):
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._flights: dict[Hashable, asyncio.Future[V]] = {}
        self._kept: dict[Hashable, tuple[float, float, V]] = {}  # key → (stored at, until, value)
        self.executions = 0  # how many times a computation started (for tests and benchmarks)

    def forget(self) -> None:
        """Drop the kept results (running flights finish for their own waiters)."""
        self._kept.clear()

    async def run(self, key: Hashable, fn: Callable[[], Awaitable[V]], *, keep_for: float = 0.0) -> V:
        loop = asyncio.get_running_loop()
        while True:
            kept = self._kept.get(key)
            if kept is not None:
                stored, until, value = kept
                if stored <= self._clock() < until:
                    return value
                del self._kept[key]
            flight = self._flights.get(key)
            if flight is None or flight.get_loop() is not loop:
                break
            try:
                return await asyncio.shield(flight)
            except _LeaderGone:
                continue
        flight = loop.create_future()
        self._flights[key] = flight
        self.executions += 1
        try:
            value = await fn()
        except Exception as exc:
            self._settle(key, flight, exc)
            raise
        except BaseException:  # cancelled (or the process is stopping): a waiter takes over
            self._settle(key, flight, _LeaderGone())
            raise
        self._settle(key, flight, None)
        flight.set_result(value)
        if keep_for > 0:
            stored = self._clock()
            if len(self._kept) >= _PRUNE_ABOVE:
                self._kept = {k: e for k, e in self._kept.items() if e[0] <= stored < e[1]}
            self._kept[key] = (stored, stored + keep_for, value)
        return value

    def _settle(self, key: Hashable, flight: asyncio.Future[V], error: BaseException | None) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if error is not None:
            flight.set_exception(error)
            flight.exception()  # retrieved: no "never retrieved" log when nobody waited
