"""Two server processes sharing one PostgreSQL database and one Redis (tests only)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests.realtime.support import free_port
from zhengding.realtime.wsprotocol import IMPORT_PATH as WS_PROTOCOL

ROOT = Path(__file__).resolve().parents[2]


async def recreate_database(base_url: str, name: str) -> str:
    engine = create_async_engine(base_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def server_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env.update(
        ZD_DEMO="1",
        ZD_DATABASE_URL=database_url,
        ZD_REDIS_URL=redis_url,
        ZD_VAR_DIR="/tmp/zd-multinode",
        ZD_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def seed(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "tests/realtime/multinode_seed.py")],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=300,
    )


class Node:
    def __init__(self, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.name = name
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "zhengding.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--ws",
                WS_PROTOCOL,
            ],
            env={**env, "ZD_NODE_ID": name},
            cwd=ROOT,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, token: str, since: int | None = None) -> str:
        return f"ws://127.0.0.1:{self.port}/ws?token={token}" + (
            f"&since={since}" if since is not None else ""
        )

    async def wait_ready(self, timeout: float = 60) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
                try:
                    if (await client.get(self.base + "/api/health")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
