"""After-commit events (Zulip's send_event_on_commit).

A service registers an event on the session; the unit of work hands the events to the sinks
(the real-time broker, test captures) only after the transaction commits, and drops them on
rollback. Whatever must never be lost is an outbox row instead, written in the transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core.clock import now


@dataclass(frozen=True)
class Event:
    type: str  # "<domain>.<noun>.<past verb>", e.g. "verification.task.dispatched"
    payload: dict[str, Any]
    user_ids: tuple[str, ...] = ()
    unit_ids: tuple[str, ...] = ()  # delivered to the members of these org units
    at: str = field(default_factory=lambda: now().isoformat())


Sink = Callable[[list[Event]], Awaitable[None]]
_sinks: list[Sink] = []


def publish_event(
    session: AsyncSession,
    type: str,
    payload: dict[str, Any],
    *,
    users: Iterable[str] = (),
    units: Iterable[str] = (),
) -> Event:
    event = Event(type=type, payload=payload, user_ids=tuple(users), unit_ids=tuple(units))
    session.info.setdefault("events", []).append(event)
    return event


def add_sink(sink: Sink) -> None:
    _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


async def deliver(events: list[Event]) -> None:
    if not events:
        return
    for sink in list(_sinks):
        await sink(events)
