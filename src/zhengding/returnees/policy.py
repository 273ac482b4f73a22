"""Time rules of the returnee workflow, from the ZD_RETURNEES_* settings (read at each use,
so settings installed by a test or the CLI apply at once)."""

from __future__ import annotations

from datetime import timedelta

from zhengding.config import get_settings


def ack_deadline() -> timedelta:
    """An arrival not acknowledged within this time is overdue (default 2 h)."""
    return timedelta(hours=get_settings().returnees_ack_hours)


def monitoring_days() -> int:
    return get_settings().returnees_monitoring_days


def sms_after() -> timedelta:
    """A reminder still unread after this delay goes out by SMS (default 30 min)."""
    return timedelta(minutes=get_settings().returnees_sms_after_minutes)


def escalate_after() -> timedelta:
    """An overdue flag still open this long after it was raised escalates to the town (default 2 h)."""
    return timedelta(hours=get_settings().returnees_escalate_hours)


def ding_escalate_minutes() -> int:
    return get_settings().returnees_ding_sms_minutes
