"""Input hygiene shared by every way text enters the system: request bodies (the Pydantic base
`core.schemas.RequestModel`), query, path and form parameters (`http.hygiene.check_parameters`),
spreadsheet cells (`core.spreadsheets`) and the signed inbound APIs (`strict_json` and their
hand-written validators).

Refused anywhere: the C0 controls except tab, line feed and carriage return (a multi-line note or
address legitimately holds them), DEL, the C1 controls, and lone surrogates (Python's json module
decodes "\\ud800" into one; nothing downstream can store or encode it). They are never typed by a
person; they come from binary garbage, a truncating client, or an attempt to cut a string short
in a log, a database or an exported file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from zhengding.core.errors import ValidationFailed, field_error

CONTROL_REASON = "含有不允许的控制字符"
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_control_chars(text: str) -> bool:
    return _FORBIDDEN.search(text) is not None


def bad_text_paths(value: Any, path: str = "") -> Iterator[str]:
    """The dotted path of every string (object key or value) holding a refused character."""
    if isinstance(value, str):
        if has_control_chars(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and has_control_chars(key):
                yield path or "body"
            else:
                yield from bad_text_paths(item, sub)
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from bad_text_paths(item, f"{path}.{index}" if path else str(index))


def refuse_control_chars(fields: list[str], row: int | None = None) -> ValidationFailed:
    where = f"第 {row} 行 " if row is not None else ""
    return ValidationFailed(
        f"提交的数据有误：{where}{'、'.join(fields[:5])}：{CONTROL_REASON}",
        [field_error(f, CONTROL_REASON, row) for f in fields],
    )


# --- JSON of the signed inbound APIs -------------------------------------------------------


class _KeyRefused(ValueError):
    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key)
        self.key, self.reason = key, reason


def _checked_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _KeyRefused(key, "字段重复出现")
            seen.add(key)
    for key in out:
        if has_control_chars(key):  # a key is echoed in the answer's reasons: no lone surrogate there
            raise _KeyRefused(_FORBIDDEN.sub("?", key), CONTROL_REASON)
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN, Infinity: not JSON


def strict_json(body: bytes) -> Any:
    """The body as JSON, refusing what a lenient decoder lets through and a signed sender may
    have meant differently from what we read: a key repeated in one object (one parser keeps
    the first, another the last — the signature covers both readings), a key with a control
    character, invalid UTF-8, NaN/Infinity. Raises ValidationFailed (422) naming the key.
    String values are checked field by field by the endpoint's validator (`has_control_chars`),
    so a bad value rejects only its item of a batch."""
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_checked_keys, parse_constant=_no_constant)
    except _KeyRefused as exc:
        key = exc.key[:40]
        raise ValidationFailed(
            f"请求体有误：字段 {key} {exc.reason}", [field_error(key, exc.reason)]
        ) from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ValidationFailed("请求体不是合法的 JSON") from None
