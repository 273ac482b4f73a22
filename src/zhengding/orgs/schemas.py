from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from zhengding.core.schemas import RequestModel


class UnitRead(BaseModel):
    id: str
    name: str
    kind: str
    level: int
    division_code: str | None
    parent_id: str | None
    has_children: bool
    member_count: int


class UnitRef(BaseModel):
    id: str
    name: str


class UnitDetail(UnitRead):
    ancestors: list[UnitRef]


class UnitCreate(RequestModel):
    model_config = ConfigDict(extra="forbid")
    parent_id: str
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["department", "grid"]


class UnitUpdate(RequestModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class UnitMove(RequestModel):
    model_config = ConfigDict(extra="forbid")
    new_parent_id: str


class PersonUnit(BaseModel):
    id: str
    name: str
    position: str


class PersonRead(BaseModel):
    id: str
    name: str
    phone_masked: str | None
    units: list[PersonUnit]
    activated: bool


class UnitHit(UnitRead):
    path_names: list[str]  # ancestors from the root down (not the unit itself)


class SearchResult(BaseModel):
    units: list[UnitHit]
    people: list[PersonRead]
