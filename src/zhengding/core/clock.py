"""The one clock, and the time rules every domain shares.

Every time rule reads `now()`; tests move it with `clock.advance()`. Times are stored and
computed in UTC; a client's time is accepted only with its offset (`ClientTime`: a naive time
is refused, its instant being unknown). Days — statistics keys, day filters, deadline days,
file names, exported times — are Asia/Shanghai days (`local_day`, `day_bounds`, `local_text`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime

from zhengding.core.errors import ValidationFailed, field_error

SHANGHAI = ZoneInfo("Asia/Shanghai")


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
        self._frozen = to_utc(at) if at is not None else datetime.now(UTC)

    def reset(self) -> None:
        self._offset = timedelta()
        self._frozen = None


clock = Clock()


def now() -> datetime:
    return clock.now()


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC. A naive time has no instant: refused."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: a time needs its offset (use zhengding.core.clock.now())")
    return value.astimezone(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """A time read back from the database: SQLite returns the stored UTC wall time (naive),
    PostgreSQL an aware time; both become aware UTC."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# A time in a request body: ISO 8601 with its offset ("2026-01-25T14:30:00+08:00" or "...Z"),
# normalised to UTC so that the service, the response and the database see one instant.
# Bounded to [1970, 2100): nothing of the platform lies outside, and near the ends of datetime's
# range the conversion to UTC ("0001-01-01T00:00+08:00") or a deadline plus an offset overflows.
CLIENT_TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
CLIENT_TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)
_OUT_OF_RANGE = "时间超出范围，应在 1970 年至 2099 年之间"


def _client_time(value: datetime) -> datetime:
    try:
        at = to_utc(value)
    except OverflowError:
        raise ValueError(_OUT_OF_RANGE) from None
    if not CLIENT_TIME_MIN <= at < CLIENT_TIME_MAX:
        raise ValueError(_OUT_OF_RANGE)
    return at


ClientTime = Annotated[AwareDatetime, AfterValidator(_client_time)]


def local_date(at: datetime) -> date:
    """The Asia/Shanghai calendar day of an instant."""
    return to_utc(at).astimezone(SHANGHAI).date()


def local_day(at: datetime) -> str:
    """The Asia/Shanghai day of an instant as YYYY-MM-DD (the key of daily statistics)."""
    return local_date(at).isoformat()


def day_start(day: date | str) -> datetime:
    """Midnight of an Asia/Shanghai day, as a UTC instant."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time(), tzinfo=SHANGHAI).astimezone(UTC)


def day_bounds(day: date | str) -> tuple[datetime, datetime]:
    """[start, end) of an Asia/Shanghai day as UTC instants: `start <= at < end`."""
    start = day_start(day)
    return start, day_start(start.astimezone(SHANGHAI).date() + timedelta(days=1))


def local_text(at: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as Asia/Shanghai wall time, for people (messages, exports, file names)."""
    return to_utc(at).astimezone(SHANGHAI).strftime(fmt)


def parse_day(value: str | None, field: str) -> str | None:
    """An optional YYYY-MM-DD (an Asia/Shanghai day) from a query, or a field error naming `field`."""
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValidationFailed("日期格式应为 YYYY-MM-DD", [field_error(field, "日期格式不正确")]) from None
