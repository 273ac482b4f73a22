"""The one clock. Every time rule reads `now()`; tests move it with `clock.advance()`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        base = self._frozen if self._frozen is not None else datetime.now(UTC)
        return base + self._offset

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> None:
        self._offset += delta if delta is not None else timedelta(**kwargs)

    def freeze(self, at: datetime | None = None) -> None:
        self._frozen = at or datetime.now(UTC)

    def reset(self) -> None:
        self._offset = timedelta()
        self._frozen = None


clock = Clock()


def now() -> datetime:
    return clock.now()


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
