from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from zhengding.core.models import Base, UTCDateTime, created_at_column, id_column
from zhengding.orgs.moves import PathColumn


class SupervisionItem(Base):
    """A supervised item (督办事项). `unit_path` is the assigning unit's path (scope of the
    assigner's board); a sub-item points at its parent item and the owner row that split it;
    a recurring request (status "recurring") has no deadline and creates one instance (an item
    with `template_id`, `period_key`) per period."""

    __tablename__ = "supervision_items"
    __table_args__ = (
        UniqueConstraint("template_id", "period_key"),
        Index("ix_supervision_items_status_deadline", "status", "deadline"),
    )

    id: Mapped[str] = id_column()
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("supervision_items.id"), index=True)
    parent_owner_id: Mapped[str | None] = mapped_column(String(26), index=True)
    root_id: Mapped[str] = mapped_column(String(26), index=True)
    template_id: Mapped[str | None] = mapped_column(String(26), index=True)
    period_key: Mapped[str | None] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text, default="")
    source_kind: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str] = mapped_column(String(200), default="")
    priority: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recurrence: Mapped[str | None] = mapped_column(String(10))
    due_time: Mapped[str | None] = mapped_column(String(5))  # "17:00", Asia/Shanghai
    weekday: Mapped[int | None] = mapped_column(Integer)  # 1 = Monday (weekly requests)
    recur_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requires_review: Mapped[bool] = mapped_column(default=True)
    remind_before_minutes: Mapped[list[int]] = mapped_column(JSON, default=list)
    sms_after_minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    progress: Mapped[int] = mapped_column(Integer, default=0)
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), index=True)
    unit_path: Mapped[str] = mapped_column(String(600), index=True)
    unit_name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    creator_name: Mapped[str] = mapped_column(String(50))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class SupervisionOwner(Base):
    """One owner of an item (承办): a unit (its role holders act for it) or a named person,
    lead (牵头) or co-owner (协办), with its own status. `stat_unit_*` is the unit it counts
    for in statistics (the unit itself, or the person's primary unit). `deadline` is the
    item's, copied for the reminder sweep."""

    __tablename__ = "supervision_owners"
    __table_args__ = (
        UniqueConstraint("item_id", "unit_id"),
        UniqueConstraint("item_id", "user_id"),
        Index("ix_supervision_owners_status_deadline", "status", "deadline"),
    )

    id: Mapped[str] = id_column()
    item_id: Mapped[str] = mapped_column(ForeignKey("supervision_items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    role: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    stat_unit_id: Mapped[str] = mapped_column(String(26))
    stat_unit_path: Mapped[str] = mapped_column(String(600))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12))
    percent: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(50), default="")
    sub_percent: Mapped[int | None] = mapped_column(Integer)  # rolled up from its sub-items
    last_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    returned_reason: Mapped[str | None] = mapped_column(Text)
    reminders_sent: Mapped[list[int]] = mapped_column(JSON, default=list)
    next_remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    urge_count: Mapped[int] = mapped_column(Integer, default=0)
    last_urged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = created_at_column()


class SupervisionCopy(Base):
    """A person copied on an item (抄送): may follow it, does not act on it."""

    __tablename__ = "supervision_copies"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)

    id: Mapped[str] = id_column()
    item_id: Mapped[str] = mapped_column(ForeignKey("supervision_items.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = created_at_column()


class SupervisionUpdate(Base):
    """The item's history: assignment, progress and completion reports, reviews, urges,
    reminders, overdue escalations, splits — every step is a row."""

    __tablename__ = "supervision_updates"

    id: Mapped[str] = id_column()
    item_id: Mapped[str] = mapped_column(ForeignKey("supervision_items.id"), index=True)
    owner_id: Mapped[str | None] = mapped_column(String(26), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(26))
    actor_name: Mapped[str] = mapped_column(String(50), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    percent: Mapped[int | None] = mapped_column(Integer)
    stage: Mapped[str | None] = mapped_column(String(50))
    file_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = created_at_column()


class SupervisionLeader(Base):
    """A unit's leader for supervision (overdue escalation goes to them), kept by command staff."""

    __tablename__ = "supervision_leaders"
    __table_args__ = (UniqueConstraint("unit_id", "user_id"),)

    id: Mapped[str] = id_column()
    unit_id: Mapped[str] = mapped_column(ForeignKey("org_units.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[str | None] = mapped_column(String(26))
    created_at: Mapped[datetime] = created_at_column()


class SupervisionUnitDay(Base):
    """Statistics summary per owner unit and deadline day (Asia/Shanghai), kept current in the
    write transactions: owners due, accepted on time, accepted late, gone overdue."""

    __tablename__ = "supervision_unit_days"
    __table_args__ = (UniqueConstraint("unit_id", "day"),)

    id: Mapped[str] = id_column()
    unit_id: Mapped[str] = mapped_column(String(26))
    unit_path: Mapped[str] = mapped_column(String(600), index=True)
    day: Mapped[str] = mapped_column(String(10), index=True)
    due: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)


def path_columns() -> list[PathColumn]:
    """The copies of unit paths this domain keeps (rewritten when a unit moves)."""
    return [
        PathColumn(SupervisionItem.unit_path, SupervisionItem.unit_id),
        PathColumn(SupervisionOwner.stat_unit_path, SupervisionOwner.stat_unit_id),
        PathColumn(SupervisionUnitDay.unit_path, SupervisionUnitDay.unit_id),
    ]
