"""The base of every request schema (a JSON body or a filter built from query parameters).

`RequestModel` refuses, in every text field of every subclass (a str, or strings inside a
list, set or dict field), the characters `core.hygiene` refuses — C0 controls but tab, line
feed and carriage return, DEL, C1, lone surrogates — with a 422 naming the field ("含有不允许
的控制字符"). Multi-line content fields keep their line breaks. Responses do not derive from it:
what is already stored is read back as it is.

`ReadModel` is the base of every answer schema (XRead, XListItem): a key that the schema does
not name is refused (FastAPI answers 500, which the tests catch) instead of being dropped, so
the OpenAPI document, and the web's types generated from it, describe every answer exactly.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from zhengding.core.hygiene import CONTROL_REASON, bad_text_paths


class RequestModel(BaseModel):
    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        if isinstance(value, BaseModel):  # a nested request model checked its own fields
            return value
        if (
            isinstance(value, str | list | tuple | set | frozenset | dict)
            and next(bad_text_paths(value), None) is not None
        ):
            raise PydanticCustomError("control_characters", CONTROL_REASON)
        return value


class ReadModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
