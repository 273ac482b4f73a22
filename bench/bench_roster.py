"""Roster import of 10,000 accounts: rows per second, against a raw bulk insert of the same rows.

Run: .venv/bin/python bench/bench_roster.py [rows] [rounds]

Each database gets a fresh schema (a temporary SQLite file always; also ZD_BENCH_DATABASE_URL
when set — its tables are DROPPED and recreated, so point it at a throw-away database) and the
Hainan org tree. A 10,000-row xlsx roster is generated (unique names/phones, half with an ID
number, units spread over the village committees).

- import:   `roster.import_roster` end to end — xlsx parsing, validation of every row (fields,
            org code → unit, scope, duplicates in the file, phone/ID already registered by blind
            index), bulk insert of users + memberships, the import record and its audit row, commit.
- baseline: a raw bulk insert of the same, already-clean rows in one transaction: the same
            columns (phone / ID number encrypted by the column type, blind indexes computed),
            users + memberships, executemany in chunks of 1000, commit. No parsing, no checks.

The ratio import/baseline says what share of raw insert speed the full import keeps. The two
runs alternate per round and the tables are emptied between runs; the best round counts.
Times are not asserted.
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("ZD_DEMO", "1")  # demo personal-data keys for the throw-away databases

import xlsxwriter  # noqa: E402
from sqlalchemy import delete, select  # noqa: E402

import zhengding.models  # noqa: E402,F401  (complete metadata)
from zhengding.accounts.models import ActivationCode, RosterImport, User  # noqa: E402
from zhengding.accounts.service import roster  # noqa: E402
from zhengding.accounts.service.users import user_row, validate_new_user  # noqa: E402
from zhengding.authz.actor import Actor, Grant  # noqa: E402
from zhengding.authz.roles import ROLES  # noqa: E402
from zhengding.core.db import Database  # noqa: E402
from zhengding.core.ids import new_id  # noqa: E402
from zhengding.core.models import Base  # noqa: E402
from zhengding.divisions import service as division_service  # noqa: E402
from zhengding.orgs import service as org_service  # noqa: E402
from zhengding.orgs.models import Membership, OrgUnit  # noqa: E402
from zhengding.privacy.idcard import check_digit  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾符蔡潘云邢羊吉"
GIVEN = "海琼椰南明华国建文俊伟芳秀英丽强军平东红玉春兰志勇杰涛超静敏燕霞娟波斌辉"


def make_rows(n: int, village_codes: list[str], seed: int = 2022) -> list[list[str]]:
    rng = random.Random(seed)
    phones: set[str] = set()
    rows = []
    for i in range(n):
        phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        while phone in phones:
            phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        phones.add(phone)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        id_number = ""
        if i % 2 == 0:
            first17 = f"460105{1960 + rng.randrange(45)}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{i % 1000:03d}"
            id_number = first17 + check_digit(first17)
        rows.append([name, phone, village_codes[i % len(village_codes)], "网格员", id_number])
    # ID numbers must be unique too (the sequence part repeats every 1000 rows)
    seen: set[str] = set()
    for row in rows:
        if row[4] in seen:
            row[4] = ""
        elif row[4]:
            seen.add(row[4])
    return rows


def make_xlsx(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["姓名", "手机号", "机构编码", "职务", "身份证号"])
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


async def empty_tables(db: Database) -> None:
    async with db.unit_of_work() as s:
        for model in (ActivationCode, Membership, User, RosterImport):
            await s.execute(delete(model))


async def bench_database(url: str, n: int, rounds: int) -> tuple[float, float]:
    db = Database(url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with db.unit_of_work() as s:
        await division_service.load_divisions(s)
        await org_service.build_tree_from_divisions(s)
        province = (
            await s.execute(select(OrgUnit).where(OrgUnit.division_code == "460000000000"))
        ).scalar_one()
        villages = list(
            (
                await s.execute(
                    select(OrgUnit.division_code, OrgUnit.id)
                    .where(OrgUnit.kind == "committee")
                    .order_by(OrgUnit.sort_key)
                )
            ).all()
        )
    actor = Actor(
        user_id=new_id(),
        name="基准测试管理员",
        grants=[Grant("system_admin", ROLES["system_admin"].scope, province.id, province.path)],
    )
    rows = make_rows(n, [code for code, _ in villages])
    unit_of = dict(villages)
    content = make_xlsx(rows)
    print(f"  {url.split('://')[0]}: {len(villages)} villages, roster {len(content) / 1_048_576:.1f} MB")

    async def run_import() -> float:
        start = time.perf_counter()
        async with db.unit_of_work() as s:
            result = await roster.import_roster(s, actor, content, "bench.xlsx")
        elapsed = time.perf_counter() - start
        assert result.accepted == n and result.rejected == 0, (result.accepted, result.errors[:5])
        return elapsed

    async def run_baseline() -> float:
        start = time.perf_counter()
        async with db.unit_of_work() as s:
            users, memberships = [], []
            for name, phone, code, position, id_number in rows:
                values = user_row(validate_new_user(name, phone, unit_of[code], position, id_number or None))
                users.append(values)
                memberships.append(
                    {
                        "id": new_id(),
                        "user_id": values["id"],
                        "unit_id": unit_of[code],
                        "position": position,
                        "is_primary": True,
                        "created_at": values["created_at"],
                    }
                )
            for i in range(0, n, 1000):
                await s.execute(User.__table__.insert(), users[i : i + 1000])
            for i in range(0, n, 1000):
                await s.execute(Membership.__table__.insert(), memberships[i : i + 1000])
        return time.perf_counter() - start

    best_import = best_base = float("inf")
    for _ in range(rounds):
        await empty_tables(db)
        best_base = min(best_base, await run_baseline())
        await empty_tables(db)
        best_import = min(best_import, await run_import())
    await empty_tables(db)
    await db.dispose()
    return n / best_import, n / best_base


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(__doc__.split("\n\n")[0])
    print(
        "baseline = raw bulk insert of the same clean rows (same columns, encryption and blind indexes "
        "included; no parsing, no validation, no duplicate or scope checks)"
    )
    urls = []
    with tempfile.TemporaryDirectory() as tmp:
        urls.append(f"sqlite+aiosqlite:///{tmp}/bench.db")
        if os.environ.get("ZD_BENCH_DATABASE_URL"):
            urls.append(os.environ["ZD_BENCH_DATABASE_URL"])
        for url in urls:
            imported, baseline = asyncio.run(bench_database(url, n, rounds))
            print(
                f"  {url.split('://')[0]:<20} import {imported:>9,.0f} rows/s   baseline {baseline:>9,.0f} rows/s   "
                f"ratio import/baseline {imported / baseline:.2f}"
            )


if __name__ == "__main__":
    main()
