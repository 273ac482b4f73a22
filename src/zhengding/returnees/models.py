"""Returnee registration: inbound sources and nonces, returnees with their history, daily
check-ins, anomalies, and the per-unit summary table behind the statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, UTCDateTime, created_at_column, id_column
from zhengding.orgs.moves import PathColumn
from zhengding.privacy.types import Encrypted


class InboundSource(Base):
    """A system allowed to push registrations (the health-code system). The secret signs
    requests with HMAC-SM3, so it must be readable by the server: encrypted, not hashed."""

    __tablename__ = "inbound_sources"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(50), unique=True)
    key_id: Mapped[str] = mapped_column(String(40), unique=True)
    secret: Mapped[str] = mapped_column(Encrypted("inbound_sources.secret"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at_column()


class InboundNonce(Base):
    """A nonce seen from a source; kept past the clock-skew window, then pruned by a job."""

    __tablename__ = "inbound_nonces"
    __table_args__ = (UniqueConstraint("source_id", "nonce"),)

    id: Mapped[str] = id_column()
    source_id: Mapped[str] = mapped_column(String(26))
    nonce: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class Returnee(Base):
    """One arrival registration and the returnee's whole course: dispatch, enrolment, monitoring."""

    __tablename__ = "returnees"
    __table_args__ = (
        UniqueConstraint("source_id", "registration_id"),
        Index("ix_returnees_unit_path_id", "unit_path", "id"),
        Index("ix_returnees_status_dispatched_at", "status", "dispatched_at"),
    )

    id: Mapped[str] = id_column()
    source_id: Mapped[str] = mapped_column(String(26))
    registration_id: Mapped[str] = mapped_column(String(64))
    body_digest: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the original answer, for replays
    name: Mapped[str] = mapped_column(Encrypted("returnees.name"))
    name_bidx: Mapped[str] = mapped_column(String(64), index=True)
    id_number: Mapped[str] = mapped_column(Encrypted("returnees.id_number"))
    id_number_bidx: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(Encrypted("returnees.phone"))
    phone_bidx: Mapped[str] = mapped_column(String(64), index=True)
    origin_province: Mapped[str] = mapped_column(String(20))
    origin_city: Mapped[str] = mapped_column(String(30), default="")
    origin_risk_area: Mapped[bool] = mapped_column(default=False)
    port_of_entry: Mapped[str] = mapped_column(String(50))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    transport: Mapped[str] = mapped_column(String(10))
    transport_no: Mapped[str] = mapped_column(String(20), default="")
    destination_text: Mapped[str] = mapped_column(String(200))
    health_code: Mapped[str] = mapped_column(String(10))
    resolved_code: Mapped[str | None] = mapped_column(String(12))
    resolved_level: Mapped[int | None] = mapped_column(Integer)
    resolved_path: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    unit_id: Mapped[str] = mapped_column(
        ForeignKey("org_units.id"), index=True
    )  # village, or the routing unit
    unit_path: Mapped[str] = mapped_column(String(600))
    day: Mapped[str] = mapped_column(String(10))  # arrival date in Asia/Shanghai (statistics key)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(26))
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enrolled_by: Mapped[str | None] = mapped_column(String(26))
    actual_address: Mapped[str | None] = mapped_column(Encrypted("returnees.actual_address"))
    contact_phone: Mapped[str | None] = mapped_column(Encrypted("returnees.contact_phone"))
    household_size: Mapped[int | None] = mapped_column(Integer)
    household_note: Mapped[str] = mapped_column(String(200), default="")
    monitoring_plan: Mapped[str | None] = mapped_column(String(20))
    monitoring_days: Mapped[int | None] = mapped_column(Integer)
    monitoring_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_check_in_day: Mapped[str | None] = mapped_column(String(10))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(26))
    ack_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ack_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checkin_overdue_day: Mapped[str | None] = mapped_column(String(10))
    checkin_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checkin_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    anomaly_count: Mapped[int] = mapped_column(Integer, default=0)
    open_anomalies: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()


class ReturneeHistory(Base):
    """Every step of a returnee's course (received, dispatched, routed, reassigned, …)."""

    __tablename__ = "returnee_history"

    id: Mapped[str] = id_column()
    returnee_id: Mapped[str] = mapped_column(ForeignKey("returnees.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[str | None] = mapped_column(String(26))
    actor_name: Mapped[str | None] = mapped_column(String(50))
    from_unit_id: Mapped[str | None] = mapped_column(String(26))
    to_unit_id: Mapped[str | None] = mapped_column(String(26))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckIn(Base):
    """One day's health record during monitoring (one per returnee per local day)."""

    __tablename__ = "returnee_check_ins"
    __table_args__ = (UniqueConstraint("returnee_id", "day"),)

    id: Mapped[str] = id_column()
    returnee_id: Mapped[str] = mapped_column(ForeignKey("returnees.id"))
    day: Mapped[str] = mapped_column(String(10))
    temperature: Mapped[float] = mapped_column(Float)
    symptoms: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(26))
    recorded_by_name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = created_at_column()


class Anomaly(Base):
    """An anomaly report (异常状况), escalated to the town and county commands, tracked to resolution."""

    __tablename__ = "returnee_anomalies"

    id: Mapped[str] = id_column()
    returnee_id: Mapped[str] = mapped_column(ForeignKey("returnees.id"), index=True)
    unit_path: Mapped[str] = mapped_column(String(600), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), index=True)
    reported_by: Mapped[str] = mapped_column(String(26))
    reported_by_name: Mapped[str] = mapped_column(String(50))
    ding_id: Mapped[str | None] = mapped_column(String(26))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(26))
    resolved_by_name: Mapped[str | None] = mapped_column(String(50))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str] = mapped_column(Text, default="")


class ReturneeStat(Base):
    """Counters per holding unit, arrival day, port of entry and origin province, kept current in
    the write transactions: dashboards sum these rows by path prefix and never scan returnees."""

    __tablename__ = "returnee_stats"
    __table_args__ = (UniqueConstraint("unit_id", "day", "port_of_entry", "origin_province"),)

    id: Mapped[str] = id_column()
    unit_id: Mapped[str] = mapped_column(String(26))
    unit_path: Mapped[str] = mapped_column(String(600), index=True)
    day: Mapped[str] = mapped_column(String(10))
    port_of_entry: Mapped[str] = mapped_column(String(50))
    origin_province: Mapped[str] = mapped_column(String(20))
    arrivals: Mapped[int] = mapped_column(Integer, default=0)
    routing: Mapped[int] = mapped_column(Integer, default=0)
    acknowledged: Mapped[int] = mapped_column(Integer, default=0)
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    released: Mapped[int] = mapped_column(Integer, default=0)
    anomalies: Mapped[int] = mapped_column(Integer, default=0)
    open_anomalies: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)


def path_columns() -> list[PathColumn]:
    """The copies of unit paths this domain keeps (rewritten when a unit moves)."""
    return [
        PathColumn(Returnee.unit_path, Returnee.unit_id),
        PathColumn(Anomaly.unit_path),  # the returnee's holding unit when reported
        PathColumn(ReturneeStat.unit_path, ReturneeStat.unit_id),
    ]
