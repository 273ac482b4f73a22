from __future__ import annotations

from pydantic import ConfigDict, Field

from zhengding.core.schemas import RequestModel


class _In(RequestModel):
    model_config = ConfigDict(extra="forbid")


class DingCreate(_In):
    content: str = Field(min_length=1, max_length=2000)
    user_ids: list[str] = Field(default_factory=list, max_length=5000)
    unit_ids: list[str] = Field(default_factory=list, max_length=200)
    escalate_after_minutes: int | None = Field(default=None, ge=1, le=1440)
    sms: bool = True
    object_type: str | None = Field(default=None, max_length=40)
    object_id: str | None = Field(default=None, max_length=26)


class DingRemind(_In):
    sms: bool = False


class NotificationsRead(_In):
    ids: list[str] = Field(min_length=1, max_length=500)


class NotificationsReadAll(_In):
    kind: str | None = Field(default=None, max_length=40)
