"""Records pushed by other systems over the signed inbound APIs (returnee registrations, NAT
results): what their parsing has in common, once.

- a batch is exactly `{"items": [...]}` with 1 to `max_batch` items (`batch_items`);
- each item is a JSON object whose fields are checked one by one, so every problem comes back
  as `{field, reason}` for that item: a field the contract does not name is refused (only the
  necessary data is collected), a required one must be present and not blank, a text must be
  a string without control characters and within its length (`read_fields`); the domain then
  checks the meaning of the values (ID number, times, enumerations);
- a batch answers each item with a status, and counts them (`status_counts`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from zhengding.core.errors import ValidationFailed
from zhengding.core.hygiene import CONTROL_REASON, has_control_chars

STATUSES = ("accepted", "replayed", "rejected", "conflict")

# field → (required, max length of its text; None for a value that is not a text)
Fields = Mapping[str, tuple[bool, int | None]]


def batch_items(data: Any, max_batch: int) -> list[Any]:
    """The items of a batch body, or a 422."""
    if not isinstance(data, dict) or set(data) != {"items"} or not isinstance(data["items"], list):
        raise ValidationFailed('批量请求体应为 {"items": [...]}，不允许其他字段')
    if not 1 <= len(data["items"]) <= max_batch:
        raise ValidationFailed(f"每批 1 至 {max_batch} 条")
    return data["items"]


def read_fields(item: Any, fields: Fields, noun: str) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """The item's fields that passed (texts stripped; absent optional ones left out) and every
    problem found; None instead of fields when the item is not an object."""
    if not isinstance(item, dict):
        return None, [{"field": "", "reason": f"每条{noun}应为一个 JSON 对象"}]
    errors: list[dict[str, str]] = []
    for key in item:
        if key not in fields:
            errors.append({"field": str(key)[:40], "reason": "不允许的字段（只收集必要信息）"})
    clean: dict[str, Any] = {}
    for field, (required, limit) in fields.items():
        value = item.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errors.append({"field": field, "reason": "必填"})
            continue
        if limit is not None:
            if not isinstance(value, str):
                errors.append({"field": field, "reason": "应为字符串"})
                continue
            if has_control_chars(value):
                errors.append({"field": field, "reason": CONTROL_REASON})
                continue
            value = value.strip()
            if len(value) > limit:
                errors.append({"field": field, "reason": f"超过 {limit} 个字符"})
                continue
        clean[field] = value
    return clean, errors


class _Answer(Protocol):
    status: str


def status_counts(answers: Iterable[_Answer]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for answer in answers:
        if answer.status in counts:
            counts[answer.status] += 1
    return counts
