"""Key-person verification: (a) import + route 100,000 rows from xlsx and from csv, against a
floor measured in the same run; (b) dashboard statistics over 2,000,000 tasks with 50
concurrent viewers, against a raw GROUP BY over the task table.

Run: .venv/bin/python bench/bench_verification.py [import_rows] [stat_tasks]   (0 skips that part)

Each database gets a fresh schema (a temporary SQLite file always; also ZD_BENCH_DATABASE_URL
when set — its tables are DROPPED and recreated, so point it at a throw-away database) and the
Hainan org tree.

(a) import: `imports.import_batch` end to end — parse (calamine for xlsx, csv module), clean
    and validate every row, blind indexes, duplicate check against open tasks, routing of every
    clue (resolver + division → unit), encrypted bulk insert (COPY on PostgreSQL), history rows,
    summary cells, notifications, commit.
    floor: calamine/csv parse of the same file + a bulk insert of the same already-clean rows
    (same columns, encryption and blind indexes included — the same COPY/executemany path),
    commit. Ratio = import rows/s ÷ floor rows/s (target ≥ 0.5); csv/xlsx speed ratio; peak
    RSS growth during the import (memory bounded: rows are processed in chunks). The resolver is
    built before the clock starts (a server builds it once per process). Also printed: the
    parse alone of each format (µs per row) beside the whole import, which bounds what the
    csv/xlsx ratio can be when the per-row work after parsing is the same for both.
(b) stats: tasks spread over the villages, 20 batches and 14 days (written straight to the
    driver: COPY / one executemany per 100,000), summary cells built from them; first one viewer
    alone (median of the dashboard and of the raw GROUP BY), then 50 concurrent viewers each
    load the dashboard 4 times — p95 latency per load — in two audiences:
      same dashboard: a provincial command room, every viewer the province command looking at
        the province drill-down, a city drill-down, by batch, by day (identical reads);
      different cities: viewer i is the command of city i mod 19 looking at its city, one of
        its counties, by batch, by day (2-3 viewers per city: sharing helps less);
    each audience three ways: "own queries" — every viewer runs its own (the code path before
    shared reads, as the baseline in this run: the same read-only unit of work, its read-only
    mark lifted while the statistics read, since only read-only sessions share);
    "concurrent only" — identical reads in flight at once share one query (ZD_STATS_REUSE_MS=0);
    "kept 500 ms" — the default, a finished read also serves identical reads for 500 ms. The
    number of statistics queries actually run is printed beside each. Baseline of the issue:
    the same concurrency running a raw GROUP BY (status per city) over the task table. With
    50 viewers at once on two cores, "own queries" is mostly queueing (for the connections and
    the CPU): 50-100x the one-viewer time. Times are not asserted.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("ZD_DEMO", "1")

import xlsxwriter  # noqa: E402
from sqlalchemy import Table, delete, func, select, text  # noqa: E402
from sqlalchemy import exc as sa_exc  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

import zhengding.models  # noqa: E402,F401
from zhengding.accounts.models import User  # noqa: E402
from zhengding.authz.actor import Actor, Grant  # noqa: E402
from zhengding.authz.roles import ROLES  # noqa: E402
from zhengding.config import get_settings, set_settings  # noqa: E402
from zhengding.core import spreadsheets  # noqa: E402
from zhengding.core.clock import now  # noqa: E402
from zhengding.core.db import Database  # noqa: E402
from zhengding.core.ids import new_id  # noqa: E402
from zhengding.core.models import Base  # noqa: E402
from zhengding.divisions import service as division_service  # noqa: E402
from zhengding.divisions.models import Division  # noqa: E402
from zhengding.divisions.resolver import default_resolver  # noqa: E402
from zhengding.orgs import service as org_service  # noqa: E402
from zhengding.orgs.models import OrgUnit  # noqa: E402
from zhengding.privacy.crypto import blind_index, blind_index_many  # noqa: E402
from zhengding.privacy.idcard import check_digit  # noqa: E402
from zhengding.verification import permissions  # noqa: E402,F401
from zhengding.verification.cells import Deltas, path_units  # noqa: E402
from zhengding.verification.models import StatCell, TaskEvent, VerificationBatch, VerificationTask  # noqa: E402
from zhengding.verification.service import imports, stats  # noqa: E402
from zhengding.verification.service.common import bulk_insert  # noqa: E402

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾符蔡潘云邢羊吉"
GIVEN = "海琼椰南明华国建文俊伟芳秀英丽强军平东红玉春兰志勇杰涛超静敏燕霞娟波斌辉"
HEADER = ["姓名", "身份证号", "手机号", "线索地址", "来源", "备注"]


def rss_peak_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    return 0


def reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def make_rows(n: int, clues: list[str], seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    rows, seen = [], set()
    while len(rows) < n:
        first17 = (
            f"46{rng.randrange(10, 99)}{rng.randrange(10, 99)}{1950 + rng.randrange(55)}"
            f"{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}"
        )
        idn = first17 + check_digit(first17)
        if idn in seen:
            continue
        seen.add(idn)
        phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        rows.append([name, idn, phone, rng.choice(clues) + f"{rng.randrange(1, 30)}号", "公安推送", ""])
    return rows


def make_xlsx(rows: list[list[str]]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "constant_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    book.close()
    return out.getvalue()


def make_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    w.writerows(rows)
    return out.getvalue().encode()


async def fresh(url: str) -> tuple[Database, Any]:
    db = Database(url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with db.unit_of_work() as s:
        await division_service.load_divisions(s)
        await org_service.build_tree_from_divisions(s)
        province_id, province_path = (
            await s.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.division_code == "460000000000"))
        ).one()
        s.add(
            User(
                id="BENCH000000000000000000001",
                name="基准",
                status="active",
                phone="13800000000",
                phone_bidx=blind_index("phone", "13800000000"),
                phone_last4="0000",
            )
        )
    return db, _Unit(province_id, province_path)


class _Unit:
    def __init__(self, id: str, path: str) -> None:
        self.id, self.path = id, path


async def empty(db: Database) -> None:
    async with db.unit_of_work() as s:
        for model in (TaskEvent, VerificationTask, StatCell, VerificationBatch):
            await s.execute(delete(model))


async def clue_texts(db: Database) -> list[str]:
    async with db.unit_of_work(readonly=True) as s:
        rows = (
            await s.execute(
                select(Division.code, Division.name, Division.parent_code).where(
                    Division.code.startswith("46")
                )
            )
        ).all()
    by_code = {c: (n, p) for c, n, p in rows}

    def full(code: str) -> str:
        parts = []
        while code in by_code and by_code[code][1]:
            name, parent = by_code[code]
            if "直辖" not in name:
                parts.append(name)
            code = parent
        return "".join(reversed(parts))

    villages = [c for c in by_code if not c.endswith("000")]
    rng = random.Random(7)
    picked = rng.sample(villages, min(2000, len(villages)))
    return [full(c) for c in picked] + ["不明地址"] * 20


async def bench_import(url: str, n: int) -> None:
    db, province = await fresh(url)
    actor = Actor(
        user_id="BENCH000000000000000000001",
        name="基准",
        grants=[Grant("province_command", ROLES["province_command"].scope, province.id, province.path)],
    )
    clues = await clue_texts(db)
    rows = make_rows(n, clues, 1)
    files = {"xlsx": make_xlsx(rows), "csv": make_csv(rows)}
    kind = url.split("://")[0]
    print(
        f"  {kind}: {n:,} rows; xlsx {len(files['xlsx']) / 1e6:.1f} MB, csv {len(files['csv']) / 1e6:.1f} MB"
    )
    default_resolver()
    rates: dict[str, float] = {}
    parse_us: dict[str, float] = {}
    for fmt, content in files.items():
        start = time.perf_counter()
        for r in spreadsheets.iter_rows(content, f"x.{fmt}"):
            [spreadsheets.cell_text(v) for v in r]
        parse_us[fmt] = (time.perf_counter() - start) / n * 1e6
    for fmt, content in files.items():
        await empty(db)
        # floor: parse + bulk insert of the same clean rows (encrypted, blind-indexed)
        start = time.perf_counter()
        parsed = [
            [spreadsheets.cell_text(v) for v in r] for r in spreadsheets.iter_rows(content, f"x.{fmt}")
        ][1:]
        id_bidx = blind_index_many("id_number", [r[1] for r in parsed])
        phone_bidx = blind_index_many("phone", [r[2] for r in parsed])
        at = now()
        batch_id = new_id()
        records = [
            {
                "id": new_id(),
                "batch_id": batch_id,
                "row_number": i + 2,
                "name": r[0],
                "id_number": r[1],
                "id_number_bidx": id_bidx[i],
                "phone": r[2],
                "phone_bidx": phone_bidx[i],
                "clue": r[3],
                "source": r[4],
                "note": "",
                "resolved_code": None,
                "clue_unit_id": None,
                "clue_unit_path": None,
                "status": "pending",
                "owner_unit_id": province.id,
                "owner_path": province.path,
                "assignee_id": None,
                "chain": [province.id],
                "review_unit_id": None,
                "transfer_id": None,
                "deadline": None,
                "overdue": False,
                "nat_result": None,
                "nat_sampled_at": None,
                "stat_day": "2022-01-20",
                "version": 0,
                "created_at": at,
                "replied_at": None,
                "closed_at": None,
            }
            for i, r in enumerate(parsed)
        ]
        async with db.unit_of_work() as s:
            s.add(
                VerificationBatch(
                    id=batch_id,
                    name="floor",
                    filename="",
                    created_by=actor.user_id,
                    unit_id=province.id,
                    unit_path=province.path,
                    total=0,
                    accepted=0,
                    rejected=0,
                    routed=0,
                    unknown_columns=[],
                    created_at=at,
                )
            )
            await s.flush()
            table = cast(Table, VerificationTask.__table__)
            for at_row in range(0, len(records), 5000):  # the import's chunk size
                await bulk_insert(s, table, records[at_row : at_row + 5000])
        floor = n / (time.perf_counter() - start)
        del parsed, records, id_bidx, phone_bidx
        await empty(db)
        reset_peak()
        base_rss = rss_peak_kb()
        start = time.perf_counter()
        async with db.unit_of_work() as s:
            result = await imports.import_batch(s, actor, content, f"bench.{fmt}")
        rate = n / (time.perf_counter() - start)
        peak = rss_peak_kb() - base_rss
        assert result.accepted == n, (result.accepted, result.errors[:3])
        rates[fmt] = rate
        print(
            f"    {fmt:<5} import+route {rate:>9,.0f} rows/s   floor {floor:>9,.0f} rows/s   ratio {rate / floor:.2f}   "
            f"routed {result.routed / n:.0%}   peak RSS growth {peak / 1024:.0f} MB",
            flush=True,
        )
    print(
        f"    parse only: xlsx {parse_us['xlsx']:.1f} µs/row, csv {parse_us['csv']:.1f} µs/row; whole import: "
        f"xlsx {1e6 / rates['xlsx']:.1f} µs/row, csv {1e6 / rates['csv']:.1f} µs/row — csv/xlsx could reach at most "
        f"{(1e6 / rates['csv'] + parse_us['xlsx'] - parse_us['csv']) / (1e6 / rates['csv']):.2f}× with this per-row work"
    )
    print(f"    csv/xlsx speed {rates['csv'] / rates['xlsx']:.2f}×")
    await empty(db)
    await db.dispose()


async def bench_stats(url: str, n: int, viewers: int = 50, rounds: int = 4) -> None:
    db, province = await fresh(url)
    async with db.unit_of_work(readonly=True) as s:
        villages = list(
            (await s.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.kind == "committee"))).all()
        )
        city_id = (
            await s.execute(select(OrgUnit.id).where(OrgUnit.division_code == "460100000000"))
        ).scalar_one()
    rng = random.Random(3)
    batches = [new_id() for _ in range(20)]
    days = [f"2022-01-{d:02d}" for d in range(10, 24)]
    statuses = ["pending", "dispatched", "in_progress", "replied", "closed"]
    at = now()
    async with db.unit_of_work() as s:
        for i, b in enumerate(batches):
            s.add(
                VerificationBatch(
                    id=b,
                    name=f"批次{i + 1}",
                    filename="",
                    created_by="BENCH000000000000000000001",
                    unit_id=province.id,
                    unit_path=province.path,
                    total=0,
                    accepted=0,
                    rejected=0,
                    routed=0,
                    unknown_columns=[],
                    created_at=at,
                )
            )
    start = time.perf_counter()
    chunk = 100_000
    deltas = Deltas()  # one set of cells for the whole fill, written once (COPY) at the end
    units_of = {path: path_units(path) for _, path in villages}
    for base in range(0, n, chunk):
        records = []
        for i in range(base, min(n, base + chunk)):
            unit, path = villages[rng.randrange(len(villages))]
            b, d, st = rng.choice(batches), rng.choice(days), rng.choice(statuses)
            records.append((f"{i:026d}", b, i, st, unit, path, d))
            deltas.add(units_of[path], b, d, "total")
            deltas.add(units_of[path], b, d, st)
        async with db.unit_of_work() as s:
            await _raw_insert(s, records, at)
    async with db.unit_of_work() as s:
        await bulk_insert(s, cast(Table, StatCell.__table__), deltas.take_rows())
    async with db.write_engine.begin() as conn:
        if not db.sqlite:
            await conn.execute(text("ANALYZE verification_tasks"))
            await conn.execute(text("ANALYZE verification_stat_cells"))
    async with db.unit_of_work(readonly=True) as s:
        cells = (await s.execute(select(func.count()).select_from(StatCell))).scalar_one()
    print(
        f"  {url.split('://')[0]}: {n:,} tasks, {cells:,} summary cells (built in {time.perf_counter() - start:.0f} s)"
    )
    actor = Actor(
        user_id="BENCH000000000000000000001",
        name="基准",
        grants=[Grant("province_command", ROLES["province_command"].scope, province.id, province.path)],
    )
    async with db.unit_of_work(readonly=True) as s:
        cities = list(
            (
                await s.execute(
                    select(OrgUnit.id, OrgUnit.path)
                    .where(OrgUnit.parent_id == province.id)
                    .order_by(OrgUnit.sort_key)
                )
            ).all()
        )
        counties = {
            p: (
                await s.execute(
                    select(OrgUnit.id).where(OrgUnit.parent_id == c).order_by(OrgUnit.sort_key).limit(1)
                )
            ).scalar_one_or_none()
            for c, p in cities
        }
    city_views = [
        (
            Actor(
                user_id="BENCH000000000000000000001",
                name="基准",
                grants=[Grant("city_command", ROLES["city_command"].scope, c, p)],
            ),
            c,
            counties[p] or c,
        )
        for c, p in cities
    ]

    async def province_view(s: AsyncSession, _viewer: int) -> None:
        await stats.unit_stats(s, actor)
        await stats.unit_stats(s, actor, city_id)
        await stats.batch_stats(s, actor)
        await stats.daily_stats(s, actor)

    async def city_view(s: AsyncSession, viewer: int) -> None:
        who, city, county = city_views[viewer % len(city_views)]
        await stats.unit_stats(s, who)
        await stats.unit_stats(s, who, county)
        await stats.batch_stats(s, who)
        await stats.daily_stats(s, who)

    def dashboard(view: Any, shared: bool) -> Any:
        async def load(viewer: int) -> float:
            t0 = time.perf_counter()
            async with db.unit_of_work(readonly=True) as s:
                # The same session and its life as a request's; only the shared reads differ:
                # statistics share only in a session marked read-only, so for "own queries"
                # the mark is lifted while the dashboard reads (and restored for the end).
                s.info["readonly"] = shared
                try:
                    await view(s, viewer)
                finally:
                    s.info["readonly"] = True
            return time.perf_counter() - t0

        return load

    raw_sql = text(
        "SELECT substr(owner_path, 1, :n) AS city, status, count(*) FROM verification_tasks "
        "WHERE owner_path LIKE :p GROUP BY 1, 2"
    )

    async def raw(_viewer: int) -> float:
        t0 = time.perf_counter()
        async with db.unit_of_work(readonly=True) as s:
            await s.execute(raw_sql, {"n": len(province.path) + 27, "p": province.path + "%"})
        return time.perf_counter() - t0

    async def run(fn: Any, each: int) -> list[float]:
        async def viewer(i: int) -> list[float]:
            return [await fn(i) for _ in range(each)]

        results = await asyncio.gather(*(viewer(i) for i in range(viewers)))
        return [x for r in results for x in r]

    def p95(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=20)[18] * 1000

    def reuse(ms: int) -> None:
        set_settings(replace(get_settings(), stats_reuse_ms=ms))
        stats._reads.forget()

    reuse(0)
    alone = [await dashboard(province_view, True)(0) for _ in range(20)]
    alone_own = [await dashboard(province_view, False)(0) for _ in range(20)]
    raw_alone = [await raw(0) for _ in range(3)]
    print(
        f"    one viewer alone: dashboard (4 queries) median {statistics.median(alone) * 1000:.1f} ms "
        f"(own queries {statistics.median(alone_own) * 1000:.1f} ms), "
        f"raw GROUP BY median {statistics.median(raw_alone) * 1000:.1f} ms",
        flush=True,
    )
    figures: dict[str, float] = {}
    for audience, view in (("same dashboard", province_view), ("different cities", city_view)):
        for mode, shared, ms in (
            ("own queries", False, 0),
            ("concurrent only", True, 0),
            ("kept 500 ms", True, 500),
        ):
            reuse(ms)
            before = stats._reads.executions
            loads = await run(dashboard(view, shared), rounds)
            ran = stats._reads.executions - before if shared else 4 * len(loads)
            figures[f"{audience}/{mode}"] = p95(loads)
            print(
                f"    {viewers} viewers, {audience:<16} {mode:<15}: dashboard p95 {p95(loads):>8.1f} ms over "
                f"{len(loads)} loads, {ran:>3} queries run",
                flush=True,
            )
        print(
            f"      {audience}: own queries / kept 500 ms "
            f"{figures[f'{audience}/own queries'] / figures[f'{audience}/kept 500 ms']:.0f}x, "
            f"own queries / concurrent only "
            f"{figures[f'{audience}/own queries'] / figures[f'{audience}/concurrent only']:.1f}x"
        )
    reuse(500)
    dash = figures["same dashboard/kept 500 ms"]
    try:
        raw_loads = await run(raw, 1)
    except sa_exc.TimeoutError as exc:  # the raw scans queued past the pool timeout
        print(
            f"    raw GROUP BY: viewers waited past the pool timeout ({exc.__class__.__name__}) — "
            f"raw/dashboard beyond {120_000 / dash:.0f}×"
        )
    else:
        print(
            f"    raw GROUP BY p95 {p95(raw_loads):>9.1f} ms   raw/dashboard {p95(raw_loads) / dash:.0f}× (same "
            f"dashboard, kept 500 ms), {p95(raw_loads) / figures['same dashboard/own queries']:.0f}× (own queries)"
        )
    await db.dispose()


_FILL = ("id", "batch_id", "row_number", "status", "owner_unit_id", "owner_path", "stat_day")


async def _raw_insert(s: Any, rows: list[tuple[Any, ...]], at: Any) -> None:
    """Bench filler: tasks (_FILL columns given) with placeholder personal data (the statistics
    never read it), straight to the driver: COPY on PostgreSQL, one executemany on SQLite."""
    table = cast(Table, VerificationTask.__table__)
    fixed = {
        "name": "x",
        "id_number": "x",
        "id_number_bidx": "x",
        "clue": "",
        "source": "",
        "note": "",
        "chain": "[]",
        "overdue": False,
        "version": 0,
        "created_at": at,
    }
    names = [*_FILL, *fixed]
    tail = tuple(fixed.values())
    if s.get_bind().dialect.name == "postgresql":
        raw = await (await s.connection()).get_raw_connection()
        await raw.driver_connection.copy_records_to_table(
            table.name, records=[r + tail for r in rows], columns=names
        )
    else:
        fixed |= {"overdue": 0, "created_at": at.strftime("%Y-%m-%d %H:%M:%S.%f")}
        tail = tuple(fixed.values())
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        await (await s.connection()).exec_driver_sql(sql, [r + tail for r in rows])


def main() -> None:
    n_import = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_stats = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000_000
    print(__doc__.split("\n\n")[0])
    urls = []
    with tempfile.TemporaryDirectory() as tmp:
        urls.append(f"sqlite+aiosqlite:///{tmp}/bench.db")
        if os.environ.get("ZD_BENCH_DATABASE_URL"):
            urls.append(os.environ["ZD_BENCH_DATABASE_URL"])
        if n_import:
            print("(a) import and route")
            for url in urls:
                asyncio.run(bench_import(url, n_import))
        if n_stats:
            print("(b) statistics")
            for url in urls:
                asyncio.run(bench_stats(url, n_stats))


if __name__ == "__main__":
    main()
