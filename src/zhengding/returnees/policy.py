"""Time rules of the returnee workflow, configurable by environment (read at each use, so
tests and operators can change them without a restart of the rules)."""

from __future__ import annotations

import os
from datetime import timedelta


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw not in (None, "") else default


def ack_deadline() -> timedelta:
    """An arrival not acknowledged within this time is overdue (default 2 h)."""
    return timedelta(hours=_float("ZD_RETURNEES_ACK_HOURS", 2))


def monitoring_days() -> int:
    return int(_float("ZD_RETURNEES_MONITORING_DAYS", 14))


def sms_after() -> timedelta:
    """A reminder still unread after this delay goes out by SMS (default 30 min)."""
    return timedelta(minutes=_float("ZD_RETURNEES_SMS_AFTER_MINUTES", 30))


def escalate_after() -> timedelta:
    """An overdue flag still open this long after it was raised escalates to the town (default 2 h)."""
    return timedelta(hours=_float("ZD_RETURNEES_ESCALATE_HOURS", 2))


def ding_escalate_minutes() -> int:
    return int(_float("ZD_RETURNEES_DING_SMS_MINUTES", 10))
