"""#13 point 6: a GET never changes state.

Every GET route of the app (the same walk as the route matrix test, so a route added later is
covered or this test names it) is called by every persona — province, city, county and town
command, both grid workers, an outsider and the three administrators — with real ids of
objects made here (a roster import, a returnee, a verification batch with a task, a photo and a
report, a nucleic-acid import, a supervised item, a DING, a stored file, an issued set of
activation codes). Before and after the walk every table is read whole: its row count and a
checksum of its rows must be unchanged.

Tables a GET legitimately writes, left out of the comparison:
- `audit_log`: reads of personal data and downloads are audited (an append-only chain);
- `auth_sessions`: each authenticated request may move its session's `last_seen_at` (idle
  timeout; written at most once a minute per session, as a deferred write).
Nothing else: a business row written by a GET (e.g. activation codes issued by a download, as
`GET /api/orgs/{unit_id}/activation-codes` did) fails the test and names the table.

The walk must reach every handler: each route answers 2xx to at least one persona, so an id or
query parameter that stops matching cannot make the test pass by answering 404 everywhere.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from typing import Any

import httpx
import pytest
import xlsxwriter
from sqlalchemy import text

from tests.authz.test_route_matrix import api_routes
from tests.conftest import Persona, Personas, login
from tests.returnees.conftest import GRID1_DEST, Sender, registration
from tests.verification.support import batch_tasks, dispatch, import_rows, new_id_number
from zhengding import demo
from zhengding.core.clock import clock
from zhengding.core.db import Database
from zhengding.core.ids import new_id
from zhengding.models import metadata

# Written by a GET by design (see the module docstring); every other table must stay unchanged.
BOOKKEEPING_TABLES = {"audit_log", "auth_sessions"}

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100

# Query parameters a route needs to answer 2xx (the rest take their defaults); "{name}" is an id
# of the `objects` fixture.
QUERIES: dict[str, dict[str, str]] = {
    "GET /api/directory/search": {"q": "网格"},
    "GET /api/realtime/presence": {"user_ids": "{user_id}"},
    "GET /api/supervision/leaders": {"unit_id": "{unit_id}"},
    "GET /api/verification/transfer-targets": {"task_id": "{task_id}"},
}


def _clue(persona: Persona) -> str:
    return f"海口市秀英区秀英街道{persona.unit_name}3队"


def _roster(unit_code: str) -> bytes:
    """One good row and one bad one, so that the import has a report to download."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    rows = [
        ["姓名", "手机号", "机构编码", "职务"],
        ["邢海燕", f"157{int.from_bytes(os.urandom(3), 'big') % 10**8:08d}", unit_code, "网格员"],
        ["坏行", "123", unit_code, "网格员"],
    ]
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    book.close()
    return out.getvalue()


def _nat_csv() -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["姓名", "身份证号", "采样时间", "检测结果", "检测机构"])
    w.writerow(["错误", "123", "昨天", "可疑", ""])
    return out.getvalue().encode("utf-8")


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}"
    return r.json()


@pytest.fixture(scope="module")
async def objects(db: Database, client: httpx.AsyncClient, personas: Personas) -> dict[str, str]:
    """Real ids for each path parameter, made through the API (and one inbound source)."""
    from zhengding.returnees.service import inbound

    p = personas
    ids: dict[str, str] = {"user_id": p.grid1.user_id, "unit_id": p.grid1.unit_id}

    async with db.unit_of_work() as session:
        grid1_code = (
            await session.execute(
                text("SELECT division_code FROM org_units WHERE id = :id"), {"id": p.grid1.unit_id}
            )
        ).scalar_one()
    imported = _ok(
        await client.post(
            "/api/accounts/import",
            headers=p.sysadmin.headers,
            files={"file": ("名册.xlsx", _roster(grid1_code))},
        )
    )
    assert imported["rejected"] == 1
    ids["import_id"] = imported["import_id"]
    # The latest issued set of grid1's village, for the download.
    _ok(await client.post(f"/api/orgs/{p.grid1.unit_id}/activation-codes", headers=p.town.headers), 201)

    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(session, f"健康码系统-get-{os.getpid()}-{new_id()[-6:]}")
    ids["returnee_id"] = _ok(
        await Sender(client, source.key_id, secret).one(registration(destination=GRID1_DEST)), 201
    )["id"]

    batch = await import_rows(
        client,
        p.province,
        [["甲", new_id_number(), "", _clue(p.grid1), "", ""], ["乙", "123", "", _clue(p.grid1), "", ""]],
        name="只读测试",
    )
    assert batch["rejected"] == 1
    ids["batch_id"] = batch["batch_id"]
    (task,) = await batch_tasks(client, p.province, ids["batch_id"])
    ids["task_id"] = task["id"]
    await dispatch(client, p.haikou, task_ids=[task["id"]], unit_id=p.xiuying.unit_id)
    await dispatch(client, p.xiuying, task_ids=[task["id"]], unit_id=p.town.unit_id)
    await dispatch(client, p.town, task_ids=[task["id"]], unit_id=p.grid1.unit_id, user_id=p.grid1.user_id)
    ids["photo_id"] = _ok(
        await client.post(
            f"/api/verification/tasks/{task['id']}/photos",
            headers=p.grid1.headers,
            files={"file": ("p.jpg", JPEG, "image/jpeg")},
        )
    )["id"]
    ids["nat_import_id"] = _ok(
        await client.post(
            "/api/verification/nat-results/import",
            headers=p.province.headers,
            files={"file": ("nat.csv", _nat_csv(), "text/csv")},
        )
    )["import_id"]

    ids["item_id"] = _ok(
        await client.post(
            "/api/supervision/items",
            headers=p.haikou.headers,
            json={
                "title": "核实重点场所",
                "content": "请于时限内完成排查并报送落实情况",
                "source_kind": "instruction",
                "source_ref": "琼指〔2022〕12号",
                "priority": "urgent",
                "deadline": "2099-01-01T00:00:00+08:00",
                "owners": [{"user_id": p.grid1.user_id}],
            },
        ),
        201,
    )["id"]
    ids["ding_id"] = _ok(
        await client.post(
            "/api/ding",
            headers=p.town.headers,
            json={"content": "今晚20:00前上报", "user_ids": [p.grid1.user_id], "sms": False},
        ),
        201,
    )["id"]
    ids["file_id"] = _ok(
        await client.post(
            "/api/files", headers=p.grid1.headers, files={"file": ("a.txt", b"hello", "text/plain")}
        ),
        201,
    )["id"]
    return ids


# A parameter whose name several routes share for different kinds of object.
OVERRIDES: dict[str, dict[str, str]] = {
    "GET /api/verification/nat-results/imports/{import_id}/report": {"import_id": "nat_import_id"},
}


def _fill(key: str, template: str, ids: dict[str, str]) -> str:
    names = OVERRIDES.get(key, {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        ref = names.get(name, name)
        assert ref in ids, f"{key}: make an object for {{{name}}} in the `objects` fixture"
        return ids[ref]

    return re.sub(r"\{([^}]+)\}", fill, template)


def _request(key: str, ids: dict[str, str]) -> tuple[str, dict[str, str]]:
    return (
        _fill(key, key.split(" ", 1)[1], ids),
        {name: _fill(key, value, ids) for name, value in QUERIES.get(key, {}).items()},
    )


async def _callers(client: httpx.AsyncClient, personas: Personas) -> dict[str, dict[str, str]]:
    """Headers of a live session per persona: a session fixture's token may have gone idle
    while other tests moved the clock, so such a persona logs in again."""
    callers: dict[str, dict[str, str]] = {}
    stepped = False
    for name, persona in personas.items():
        if (await client.get("/api/auth/me", headers=persona.headers)).status_code == 200:
            callers[name] = persona.headers
            continue
        if persona.totp_secret and not stepped:
            clock.advance(seconds=31)  # a TOTP code already used by the persona is refused
            stepped = True
        token = await login(client, persona.username, demo.DEMO_PASSWORD, persona.totp_secret)
        callers[name] = {"Authorization": f"Bearer {token}"}
    return callers


def _primary_key(table: Any) -> str:
    return ", ".join(f'"{c.name}"' for c in table.primary_key.columns) or "1"


async def snapshot(db: Database) -> dict[str, tuple[int, str]]:
    """table → (rows, SHA-256 of the rows in primary-key order), stored values as they are
    (ciphertext compared as ciphertext: a value written again changes it too)."""
    out: dict[str, tuple[int, str]] = {}
    async with db.unit_of_work(readonly=True) as session:
        for table in metadata.sorted_tables:
            if table.name in BOOKKEEPING_TABLES:
                continue
            rows = (
                await session.execute(text(f'SELECT * FROM "{table.name}" ORDER BY {_primary_key(table)}'))
            ).all()
            digest = hashlib.sha256()
            for row in rows:
                digest.update(repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)).encode())
            out[table.name] = (len(rows), digest.hexdigest())
    return out


GET_ROUTES = sorted(f"GET {path}" for method, path in api_routes() if method == "GET")


def test_the_walk_covers_the_get_routes_of_the_matrix():
    from zhengding.authz.matrix import matrix

    assert set(GET_ROUTES) == {key for key in matrix() if key.startswith("GET ")}
    assert "GET /api/orgs/{unit_id}/activation-codes" in GET_ROUTES


async def test_no_get_changes_a_business_row(db, client, personas, objects):
    callers = await _callers(client, personas)
    before = await snapshot(db)
    answered: dict[str, list[tuple[str, int]]] = {}
    for key in GET_ROUTES:
        url, params = _request(key, objects)
        for name, headers in callers.items():
            r = await client.get(url, params=params, headers=headers)
            assert r.status_code < 500, f"{key} as {name}: {r.status_code} {r.text[:300]}"
            answered.setdefault(key, []).append((name, r.status_code))
    after = await snapshot(db)

    changed = {
        table: (before[table], after.get(table)) for table in before if before[table] != after.get(table)
    }
    assert not changed, f"GET requests changed these tables (rows, checksum) before → after: {changed}"
    unreached = {key: calls for key, calls in answered.items() if not any(200 <= s < 300 for _, s in calls)}
    assert not unreached, f"no persona got a 2xx answer (fix the ids or query parameters): {unreached}"
