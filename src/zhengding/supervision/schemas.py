from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from zhengding.core.clock import ClientTime
from zhengding.core.schemas import RequestModel
from zhengding.supervision.enums import Priority, Recurrence, SourceKind


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
