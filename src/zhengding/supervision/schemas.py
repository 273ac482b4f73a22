from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from zhengding.core.clock import ClientTime
from zhengding.core.schemas import ReadModel, RequestModel
from zhengding.supervision.enums import (
    ItemStatus,
    OwnerKind,
    OwnerRole,
    OwnerStatus,
    Priority,
    Recurrence,
    SourceKind,
    UpdateKind,
)


class OwnerIn(RequestModel):
    unit_id: str | None = None
    user_id: str | None = None
    lead: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> OwnerIn:
        if bool(self.unit_id) == bool(self.user_id):
            raise ValueError("承办对象须为一个单位或一个人")
        return self


class ItemCreate(RequestModel):
    unit_id: str | None = None  # the assigning unit (one of the actor's command units)
    title: str = Field(min_length=1, max_length=200)
    content: str = Field("", max_length=10000)
    source_kind: SourceKind = SourceKind.OTHER
    source_ref: str = Field("", max_length=200)
    priority: Priority = Priority.NORMAL
    deadline: ClientTime | None = None
    owners: list[OwnerIn] = Field(min_length=1, max_length=200)
    copy_user_ids: list[str] = Field(default_factory=list, max_length=200)
    attachment_ids: list[str] = Field(default_factory=list, max_length=20)
    remind_before_minutes: list[int] | None = Field(None, max_length=5)
    sms_after_minutes: int | None = Field(None, ge=1, le=24 * 60)
    recurrence: Recurrence | None = None
    due_time: str = "17:00"
    weekday: int = Field(5, ge=1, le=7)
    recur_until: ClientTime | None = None
    requires_review: bool | None = None

    @field_validator("due_time")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("时间格式应为 HH:MM")
        return value

    @field_validator("remind_before_minutes")
    @classmethod
    def _offsets(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if any(v < 1 or v > 30 * 24 * 60 for v in value):
            raise ValueError("提醒时间应在 1 分钟到 30 天之间")
        return sorted(set(value), reverse=True)


class SplitCreate(ItemCreate):
    owner_id: str  # the parent item's owner row that splits its work


class ProgressCreate(RequestModel):
    owner_id: str
    text: str = Field(min_length=1, max_length=5000)
    percent: int | None = Field(None, ge=0, le=100)
    stage: str = Field("", max_length=50)
    attachment_ids: list[str] = Field(default_factory=list, max_length=20)
    final: bool = False  # a completion report (办结报告)


class ReviewCreate(RequestModel):
    owner_id: str
    decision: Literal["accept", "return"]
    reason: str = Field("", max_length=2000)


class UrgeCreate(RequestModel):
    message: str = Field("", max_length=500)
    owner_ids: list[str] | None = None


class DeadlineChange(RequestModel):
    deadline: ClientTime
    reason: str = Field("", max_length=500)


class CancelCreate(RequestModel):
    reason: str = Field(min_length=1, max_length=500)


class LeaderCreate(RequestModel):
    unit_id: str
    user_id: str


# --- answers ---------------------------------------------------------------------------------


class AttachmentRead(ReadModel):
    id: str
    name: str
    size: int
    content_type: str
    created_at: datetime


class OwnerRead(ReadModel):
    id: str
    kind: OwnerKind
    role: OwnerRole
    unit_id: str | None
    user_id: str | None
    name: str
    status: OwnerStatus
    status_label: str
    percent: int  # the effective percent: what the owner reported, or its sub-items' roll-up
    reported_percent: int
    sub_percent: int | None
    stage: str
    last_report_at: datetime | None
    submitted_at: datetime | None
    accepted_at: datetime | None
    returned_reason: str | None
    overdue: bool
    overdue_at: datetime | None
    missed: bool
    urge_count: int
    last_urged_at: datetime | None
    mine: bool  # the reader acts for this owner (the unit's staff, or the person)


class ItemListItem(ReadModel):
    id: str
    title: str
    priority: Priority
    source_kind: SourceKind
    source_ref: str
    deadline: datetime | None
    status: ItemStatus
    progress: int
    unit_id: str
    unit_name: str
    creator_name: str
    created_by: str
    parent_id: str | None
    root_id: str
    template_id: str | None
    period_key: str | None
    recurrence: Recurrence | None
    due_time: str | None
    weekday: int | None
    overdue: bool
    owners: list[OwnerRead]
    owner_counts: dict[str, int]  # owners by status
    created_at: datetime
    closed_at: datetime | None
    updated_at: datetime


class ItemRef(ReadModel):
    id: str
    title: str


class CopyRead(ReadModel):
    id: str
    name: str


class HistoryRead(ReadModel):
    id: str
    kind: UpdateKind
    owner_id: str | None
    actor_name: str
    text: str
    percent: int | None
    stage: str | None
    created_at: datetime
    attachments: list[AttachmentRead]


class ItemRead(ItemListItem):
    content: str
    requires_review: bool
    remind_before_minutes: list[int]
    sms_after_minutes: int
    copies: list[CopyRead]
    history: list[HistoryRead]
    children: list[ItemListItem]
    instances: list[ItemListItem]
    parent: ItemRef | None
    can_assign: bool
    can_review: bool
    can_urge: bool
    can_split: bool
    can_change: bool


class BoardCounts(ReadModel):
    open: int
    closed: int
    overdue: int
    review: int
    recurring: int
    cancelled: int


class BoardRead(ReadModel):
    items: list[ItemListItem]
    total: int
    counts: BoardCounts


class TodoListItem(ItemListItem):
    my_owner: OwnerRead


class CopiedListItem(ReadModel):
    id: str
    title: str
    deadline: datetime | None
    status: ItemStatus
    progress: int


class TodosRead(ReadModel):
    items: list[TodoListItem]
    copied: list[CopiedListItem]
    open_count: int


class StatRead(ReadModel):
    id: str
    name: str
    due: int
    on_time: int
    late: int
    overdue: int
    on_time_rate: float | None


class DayStatRead(ReadModel):
    day: str
    due: int
    on_time: int
    late: int
    overdue: int


class StatsRead(ReadModel):
    unit: StatRead
    children: list[StatRead]
    days: list[DayStatRead]
    start: str
    end: str


class ProgressRead(ReadModel):
    owner_id: str
    status: OwnerStatus
    progress: int
    item_status: ItemStatus


class ReviewRead(ReadModel):
    owner_id: str
    status: OwnerStatus
    item_status: ItemStatus
    progress: int


class UrgeRead(ReadModel):
    urged_owner_ids: list[str]
    recipients: int


class DeadlineRead(ReadModel):
    id: str
    deadline: datetime | None
    owners: int
    recipients: int


class CancelRead(ReadModel):
    id: str
    status: ItemStatus
    recipients: int


class StopRead(ReadModel):
    id: str
    status: ItemStatus


class LeaderRead(ReadModel):
    unit_id: str
    user_id: str
    name: str
