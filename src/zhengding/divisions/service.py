"""Division use-cases: load the official codes from a shipped data file; read them."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.divisions.models import Division

HAINAN = "46"
_PLACEHOLDER_NAMES = {"省直辖县级行政区划", "自治区直辖县级行政区划", "市辖区", "县", "省直辖县级行政单位"}


@dataclass(frozen=True)
class DivisionRow:
    code: str
    name: str
    level: int
    parent_code: str | None

    @property
    def placeholder(self) -> bool:
        return self.name in _PLACEHOLDER_NAMES or self.name.endswith("直辖村级区划")


def _read(province: str) -> Iterator[DivisionRow]:
    data = resources.files("zhengding") / "data"
    if province == HAINAN:
        text = (data / "hainan-divisions.csv").read_text(encoding="utf-8")
    else:
        text = gzip.decompress((data / "cn-divisions.csv.gz").read_bytes()).decode("utf-8")
    for rec in csv.DictReader(io.StringIO(text)):
        code = rec["code"].strip()
        if not code.startswith(province):
            continue
        yield DivisionRow(code, rec["name"].strip(), int(rec["level"]), rec["parent_code"].strip() or None)


def read_province(province: str) -> list[DivisionRow]:
    # Two digits exactly: a shorter prefix ("4") would silently take several provinces.
    if not re.fullmatch(r"[1-9]\d", province or ""):
        raise ValueError(f"province code must be two digits (46 Hainan, 44 Guangdong), got {province!r}")
    rows = list(_read(province))
    if not rows:
        raise ValueError(f"no divisions for province code {province!r}")
    return rows


async def load_divisions(session: AsyncSession, province: str = HAINAN) -> list[DivisionRow]:
    """Replace the province's divisions with the shipped official list. Idempotent."""
    rows = read_province(province)
    await session.execute(delete(Division).where(Division.code.startswith(province)))
    for start in range(0, len(rows), 5000):
        await session.execute(
            insert(Division),
            [
                {
                    "code": r.code,
                    "name": r.name,
                    "level": r.level,
                    "parent_code": r.parent_code,
                    "placeholder": r.placeholder,
                }
                for r in rows[start : start + 5000]
            ],
        )
    return rows


async def get_division(session: AsyncSession, code: str) -> Division | None:
    return await session.get(Division, code)


async def divisions_of(session: AsyncSession, province: str) -> list[Division]:
    return list(
        (
            await session.execute(
                select(Division).where(Division.code.startswith(province)).order_by(Division.code)
            )
        ).scalars()
    )


@asynccontextmanager
async def resolver_service(settings: Any) -> AsyncIterator[None]:
    """Build the destination resolver while the server starts (about a second of CPU, once per
    process) instead of on the first inbound registration or import that needs it."""
    from zhengding.divisions.resolver import default_resolver

    await asyncio.to_thread(default_resolver)
    yield
