"""Configuration: outside demo mode the server refuses to start with missing or default secrets."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from zhengding.config import DEMO_DATA_KEY, DEMO_INDEX_KEY, DEMO_SECRET_KEY, Settings

ZHENGDING = Path(sys.executable).with_name("zhengding")
REAL = {"ZD_SECRET_KEY": "a-real-secret-key-0123456789abcdef",
        "ZD_DATA_KEYS": "k1:" + base64.b64encode(b"0123456789abcdef").decode(),
        "ZD_INDEX_KEY": base64.b64encode(b"a-real-index-key-of-32-bytes!!!!").decode()}


def _from_env(monkeypatch, **env: str) -> Settings:
    for key in list(os.environ):
        if key.startswith("ZD_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings.from_env()


def test_missing_secrets_are_each_named(monkeypatch):
    settings = _from_env(monkeypatch)
    assert settings.demo is False
    with pytest.raises(SystemExit) as exc:
        settings.check_secrets()
    message = str(exc.value)
    for name in ("ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"):
        assert name in message


@pytest.mark.parametrize("missing", sorted(REAL))
def test_one_missing_secret_is_named_alone(monkeypatch, missing):
    settings = _from_env(monkeypatch, **{k: v for k, v in REAL.items() if k != missing})
    with pytest.raises(SystemExit) as exc:
        settings.check_secrets()
    named = {name for name in REAL if name in str(exc.value)}
    assert named == {missing}


def test_demo_values_count_as_missing(monkeypatch):
    settings = _from_env(monkeypatch, ZD_SECRET_KEY=DEMO_SECRET_KEY, ZD_DATA_KEYS=f"k1:{DEMO_DATA_KEY}",
                         ZD_INDEX_KEY=DEMO_INDEX_KEY)
    assert settings.secret_problems() == ["ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"]
    # the demo key kept as an old key for rotation still counts
    rotated = replace(settings, secret_key=REAL["ZD_SECRET_KEY"], index_key=REAL["ZD_INDEX_KEY"],
                      data_keys=REAL["ZD_DATA_KEYS"] + f",demo:{DEMO_DATA_KEY}")
    assert rotated.secret_problems() == ["ZD_DATA_KEYS"]


def test_real_secrets_pass(monkeypatch):
    settings = _from_env(monkeypatch, **REAL)
    settings.check_secrets()
    assert settings.secret_problems() == []


def test_demo_mode_starts_with_the_demo_keys(monkeypatch):
    settings = _from_env(monkeypatch, ZD_DEMO="1")
    assert settings.demo and settings.secret_key == DEMO_SECRET_KEY and DEMO_DATA_KEY in settings.data_keys
    settings.check_secrets()


def test_serve_refuses_to_start_without_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env["ZD_VAR_DIR"] = str(tmp_path)
    result = subprocess.run([str(ZHENGDING), "serve", "--port", "1"], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "refusing to start outside demo mode" in result.stderr
    for name in ("ZD_SECRET_KEY", "ZD_DATA_KEYS", "ZD_INDEX_KEY"):
        assert name in result.stderr
    assert not (tmp_path / "zhengding.db").exists()


def test_the_server_tunes_the_garbage_collector_after_start_up_unless_told_not_to(monkeypatch, tmp_path):
    assert _from_env(monkeypatch).gc_tuning is True
    assert _from_env(monkeypatch, ZD_GC_TUNING="0").gc_tuning is False
    # A real server process: the thresholds and the frozen heap are read inside it.
    probe = ("import asyncio, gc\n"
             "from zhengding.app import create_app\n"
             "app = create_app()\n"
             "async def main():\n"
             "    async with app.router.lifespan_context(app):\n"
             "        print(gc.get_threshold(), gc.get_freeze_count() > 0)\n"
             "asyncio.run(main())\n")
    for flag, expected in (("1", "(50000, 50, 100) True"), ("0", "(700, 10, 10) False")):
        env = {**os.environ, "ZD_DEMO": "1", "ZD_GC_TUNING": flag, "ZD_RUN_WORKER": "0",
               "ZD_VAR_DIR": str(tmp_path), "ZD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}"}
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == expected
