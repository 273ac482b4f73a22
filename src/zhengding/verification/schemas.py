from __future__ import annotations

from pydantic import ConfigDict, Field

from zhengding.core.clock import ClientTime
from zhengding.core.schemas import RequestModel


class DispatchRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")
    task_ids: list[str] | None = Field(default=None, max_length=50_000)
    batch_id: str | None = None
    unit_id: str | None = None
    user_id: str | None = None
    by_clue: bool = False
    deadline: ClientTime | None = None


class ReplyCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")
    found: bool
    location: str = Field(default="", max_length=500)
    contact: str = Field(default="", max_length=50)
    health_status: str = Field(default="", max_length=50)
    measure: str = Field(default="", max_length=50)
    note: str = Field(default="", max_length=2000)
    photo_ids: list[str] = Field(default_factory=list, max_length=9)


class ReviewDecision(RequestModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool
    reason: str = Field(default="", max_length=1000)


class TransferCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")
    to_unit_id: str
    reason: str = Field(max_length=1000)


class TransferDecision(RequestModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=1000)


class BatchDeadline(RequestModel):
    model_config = ConfigDict(extra="forbid")
    deadline: ClientTime
