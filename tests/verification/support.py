"""Helpers of the verification tests: valid random ID numbers, spreadsheets, the API calls."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import xlsxwriter

from zhengding.privacy.idcard import check_digit

_rng = random.Random()


def new_id_number(region: str = "460105") -> str:
    first17 = f"{region}{_rng.randint(1950, 2000)}{_rng.randint(1, 12):02d}{_rng.randint(1, 28):02d}{_rng.randint(0, 999):03d}"
    return first17 + check_digit(first17)


def new_old_id_number(region: str = "460105") -> str:
    """A valid 15-digit ID (before 1999)."""
    return f"{region}{_rng.randint(50, 98):02d}{_rng.randint(1, 12):02d}{_rng.randint(1, 28):02d}{_rng.randint(0, 999):03d}"


HEADER = ["姓名", "身份证号", "手机号", "线索地址", "来源", "备注"]


def xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, int | float):
                sheet.write_number(r, c, value)
            elif value is not None:
                sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def csv_bytes(rows: list[list[Any]], header: list[str]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


async def import_rows(client, persona, rows: list[list[Any]], *, name: str = "测试批次", **data: Any) -> dict:
    files = {
        "file": (
            "batch.xlsx",
            xlsx(rows),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    }
    r = await client.post(
        "/api/verification/imports", files=files, data={"name": name, **data}, headers=persona.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def batch_tasks(client, persona, batch_id: str) -> list[dict]:
    r = await client.get(
        f"/api/verification/tasks?batch_id={batch_id}&page_size=500", headers=persona.headers
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def dispatch(client, persona, **body: Any) -> dict:
    r = await client.post("/api/verification/tasks/dispatch", json=body, headers=persona.headers)
    assert r.status_code == 200, r.text
    return r.json()
