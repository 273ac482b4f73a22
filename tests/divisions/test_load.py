"""Loading the official division codes shipped with the package, and building their org tree."""

from __future__ import annotations

import csv
import gzip
import io
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import SETTINGS

from zhengding.divisions import service as division_service
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit

ZHENGDING = Path(sys.executable).with_name("zhengding")
HAINAN_PLACEHOLDERS = {
    "469000000000",
    "460202198000",
    "460203198000",
    "460204198000",
    "460205198000",
    "469001198000",
    "469029198000",
}


async def test_hainan_is_loaded_with_placeholders_flagged(db):
    async with db.unit_of_work() as s:
        rows = await division_service.load_divisions(s)  # again: replaces, does not duplicate
    assert len(rows) == 3571
    async with db.new_session(readonly=True) as s:
        stored = await division_service.divisions_of(s, "46")
    assert len(stored) == 3571
    by_level: dict[int, int] = {}
    for d in stored:
        by_level[d.level] = by_level.get(d.level, 0) + 1
    assert by_level == {1: 1, 2: 5, 3: 26, 4: 243, 5: 3296}
    assert {d.code for d in stored if d.placeholder} == HAINAN_PLACEHOLDERS
    by_code = {d.code: d for d in stored}
    assert by_code["469000000000"].name == "省直辖县级行政区划"
    assert by_code["469002000000"].parent_code == "469000000000"  # 琼海市, as published
    assert by_code["460400100000"].parent_code == "460400000000"  # 那大镇 directly under 儋州市
    assert all(len(code) == 12 and code.isdigit() for code in by_code)


def test_hainan_file_matches_the_national_file():
    data = resources.files("zhengding") / "data"
    national = gzip.decompress((data / "cn-divisions.csv.gz").read_bytes()).decode("utf-8")
    from_national = {
        (r["code"], r["name"], int(r["level"]), r["parent_code"] or None)
        for r in csv.DictReader(io.StringIO(national))
        if r["code"].startswith("46")
    }
    shipped = {(r.code, r.name, r.level, r.parent_code) for r in division_service.read_province("46")}
    assert shipped == from_national


def test_guangdong_is_read_from_the_national_file():
    rows = division_service.read_province("44")
    assert len(rows) == 28743
    assert all(r.code.startswith("44") for r in rows)
    by_code = {r.code: r for r in rows}
    assert by_code["440000000000"].name == "广东省" and by_code["440000000000"].parent_code is None
    for city in ("441900000000", "442000000000"):  # 东莞市, 中山市: towns directly under the city
        assert by_code[city].level == 2
        towns = [r for r in rows if r.parent_code == city]
        assert len(towns) > 20 and all(r.level == 4 for r in towns)
    assert by_code["441900003000"].name == "东城街道"


async def test_guangdong_tree_builds_with_uneven_depth(db):
    async with db.unit_of_work() as s:
        await division_service.load_divisions(s, "44")
        created = await org_service.build_tree_from_divisions(s, "44")
    async with db.new_session(readonly=True) as s:
        units = {
            u.division_code: u
            for u in (
                await s.execute(select(OrgUnit).where(OrgUnit.division_code.startswith("44")))
            ).scalars()
        }
    assert created in (0, 28743)  # 0 when an earlier test already built it
    assert len(units) == 28743
    province = units["440000000000"]
    assert province.parent_id is None and province.path == f"/{province.id}/"
    dongguan = units["441900000000"]
    assert dongguan.parent_id == province.id and dongguan.level == 2
    town = units["441900003000"]
    assert town.parent_id == dongguan.id and town.level == 4 and town.path == f"{dongguan.path}{town.id}/"
    village = next(u for u in units.values() if u.parent_id == town.id)
    assert village.kind == "committee" and village.level == 5
    async with db.unit_of_work() as s:
        assert await org_service.build_tree_from_divisions(s, "44") == 0
    async with db.new_session(readonly=True) as s:
        hainan_root = (
            await s.execute(
                select(func.count())
                .select_from(OrgUnit)
                .where(OrgUnit.parent_id.is_(None), OrgUnit.division_code == "460000000000")
            )
        ).scalar_one()
    assert hainan_root == 1


@pytest.mark.parametrize("province", ["99", "00", "4", "446", "", "4a"])
def test_unknown_or_malformed_province_is_a_clear_error(province):
    with pytest.raises(ValueError, match=repr(province)):
        division_service.read_province(province)


def _cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env.update(
        ZD_DEMO="1",
        ZD_DATABASE_URL=url,
        ZD_DATA_KEYS=SETTINGS.data_keys,
        ZD_INDEX_KEY=SETTINGS.index_key,
        ZD_SECRET_KEY=SETTINGS.secret_key,
    )
    return subprocess.run([str(ZHENGDING), *args], env=env, capture_output=True, text=True, timeout=300)


def test_cli_loads_another_province(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    assert _cli("db", "upgrade", url=url).returncode == 0
    first = _cli("divisions", "load", "--province", "64", url=url)
    assert first.returncode == 0, first.stderr
    assert "新建组织机构 3199 个" in first.stdout
    malformed = _cli("divisions", "load", "--province", "4", url=url)
    assert malformed.returncode != 0
    assert "province code must be two digits" in malformed.stderr and "'4'" in malformed.stderr
