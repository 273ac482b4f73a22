"""Commands that need the tables, run on a database `zhengding db upgrade` has not (fully) run on:
one line naming the command to run, exit status 2, no traceback (issue #13, point 12).

Each test gets a database of its own: a new SQLite file, or an empty PostgreSQL database next
to ZD_TEST_DATABASE_URL's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import TEST_DB_URL, _admin

ZHENGDING = Path(sys.executable).with_name("zhengding")
NOT_INITIALISED = "数据库尚未初始化：请先运行 zhengding db upgrade"

COMMANDS = [
    ["divisions", "load"],
    ["demo", "seed"],
    ["accounts", "issue-code", "13800138000"],
    ["audit", "verify"],
    ["inbound", "add-source", "健康码系统"],
    ["serve", "--port", "1"],
    ["worker"],
]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    if not TEST_DB_URL or TEST_DB_URL.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'new.db'}"
        return
    url = make_url(TEST_DB_URL).set(database=f"zd_cli_{uuid.uuid4().hex[:12]}")
    asyncio.run(_admin(TEST_DB_URL, f'CREATE DATABASE "{url.database}"'))
    yield url.render_as_string(hide_password=False)
    asyncio.run(_admin(TEST_DB_URL, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))


def _cli(tmp_path: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env.update(ZD_DEMO="1", ZD_VAR_DIR=str(tmp_path), ZD_DATABASE_URL=url)
    return subprocess.run([str(ZHENGDING), *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_a_command_on_a_new_database_says_to_upgrade_first(tmp_path, database_url, command):
    result = _cli(tmp_path, database_url, *command)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", NOT_INITIALISED + "\n")
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "new.db").exists()  # nothing created on the way


def test_a_database_behind_the_code_says_it_is_too_old(tmp_path, database_url):
    upgraded = _cli(tmp_path, database_url, "db", "upgrade", "--revision", "0009")
    assert upgraded.returncode == 0, upgraded.stderr
    result = _cli(tmp_path, database_url, "audit", "verify")
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("数据库版本过旧（当前 0009，") and line.endswith(
        "）：请先运行 zhengding db upgrade"
    )


def test_after_the_upgrade_the_command_runs(tmp_path, database_url):
    upgraded = _cli(tmp_path, database_url, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    result = _cli(tmp_path, database_url, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "审计日志链完整"
