"""The paging parameters of every list endpoint, bounded in one place.

A page number is multiplied into an SQL OFFSET: unbounded, `page=4611686018427387904` overflows
the database's 64-bit integer and the request fails with a 500. Every bound is checked here,
before any query, and a value out of range answers 422 naming the parameter.

    paging(size=50, max_size=200)   ?page=&page_size=     -> Page (page, size, offset)
    keyset(size=20, max_size=100)   ?before=&limit=       -> Keyset (before, limit)
    keyset(..., paged=True)         ?before=&limit=&page= -> Keyset (page None unless given)
    days()                          ?from=&to=            -> Days (Asia/Shanghai days, checked)

Each call returns a `Depends(...)`: a route declares `p: Page = paging(...)` instead of its own
`Query(...)` parameters, so no list can be added without the bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Depends, Query

from zhengding.core.errors import ValidationFailed, field_error

# 10,000 pages of the largest page size (500) is an offset of 5,000,000 rows: beyond any list
# of the platform, far inside a 32-bit integer.
MAX_PAGE = 10_000
# Cursors are public ids (26-character ULIDs); a little room for other id formats.
MAX_CURSOR = 64

_PAGE = "页码，从 1 开始"
_SIZE = "每页条数"
_BEFORE = "上一页回答的 next_before（取更早的记录）"


@dataclass(frozen=True, slots=True)
class Page:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


@dataclass(frozen=True, slots=True)
class Keyset:
    before: str | None
    limit: int
    page: int | None = None


def paging(*, size: int = 50, max_size: int = 200) -> Any:
    """`?page=&page_size=`: page 1…MAX_PAGE, page_size 1…max_size (default `size`)."""
    if not 1 <= size <= max_size:
        raise ValueError(f"default page size {size} outside 1..{max_size}")

    async def page_params(
        page: int = Query(1, ge=1, le=MAX_PAGE, description=_PAGE),
        page_size: int = Query(size, ge=1, le=max_size, description=_SIZE),
    ) -> Page:
        return Page(page, page_size)

    return Depends(page_params)


def keyset(*, size: int = 20, max_size: int = 100, paged: bool = False) -> Any:
    """`?before=&limit=`: newest first, `before` the last id seen; with `paged`, `page` too
    (1…MAX_PAGE, `limit` a page), which takes precedence over `before`."""
    if not 1 <= size <= max_size:
        raise ValueError(f"default limit {size} outside 1..{max_size}")

    async def keyset_params(
        before: str | None = Query(None, max_length=MAX_CURSOR, description=_BEFORE),
        limit: int = Query(size, ge=1, le=max_size, description=_SIZE),
    ) -> Keyset:
        return Keyset(before, limit)

    async def paged_keyset_params(
        before: str | None = Query(None, max_length=MAX_CURSOR, description=_BEFORE),
        limit: int = Query(size, ge=1, le=max_size, description=_SIZE),
        page: int | None = Query(None, ge=1, le=MAX_PAGE, description=_PAGE),
    ) -> Keyset:
        return Keyset(before, limit, page)

    return Depends(paged_keyset_params if paged else keyset_params)


@dataclass(frozen=True, slots=True)
class Days:
    day_from: str | None
    day_to: str | None


_DAY = r"^\d{4}-\d{2}-\d{2}$"


def _day(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:  # the pattern holds, the day does not exist (2026-02-30)
        raise ValidationFailed(
            "日期不存在，应为 YYYY-MM-DD 格式的有效日期", [field_error(field, "日期不存在")]
        ) from None


def days() -> Any:
    """`?from=&to=`: an optional range of Asia/Shanghai days (YYYY-MM-DD, both ends included),
    each a day that exists, `from` not after `to`."""

    async def day_params(
        day_from: str | None = Query(None, alias="from", pattern=_DAY, description="起始日期（含）"),
        day_to: str | None = Query(None, alias="to", pattern=_DAY, description="截止日期（含）"),
    ) -> Days:
        first, last = _day(day_from, "from"), _day(day_to, "to")
        if first and last and first > last:
            raise ValidationFailed("起始日期不能晚于截止日期", [field_error("from", "起始日期晚于截止日期")])
        return Days(first, last)

    return Depends(day_params)
