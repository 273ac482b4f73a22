"""/api/health while hostile spreadsheets are uploaded (issue #13 point 4: within 100 ms).

Run: .venv/bin/python bench/bench_uploads.py [rounds]

A real server (`zhengding serve`, demo data on a temporary SQLite file) is polled on
/api/health every 20 ms from a thread:

- baseline: polling alone, for as long as an upload takes;
- upload:   polling while one hostile file is imported (3M empty rows, a 3M-row extent, one
            200 MB cell, one 90 MB cell, 17 billion cells: each refused with 413).

Printed per file: the worst and the 99th-percentile health latency during the upload, the
same of the baseline of the same round, and their ratio (upload / baseline); the server's own
CPU time spent on the upload (the parse runs in a child process). On a quiet machine the
worst latency during an upload stays under 100 ms. Times are not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchlib import cpu_seconds, free_port, pct  # noqa: E402
from tests.core.test_upload_limits import HEADERS, _xlsx_rows, cell_at, empty_rows, huge_cell, with_sheet  # noqa: E402

FILES = {
    "3M empty rows": lambda: with_sheet(empty_rows(3_000_000)),
    "3M rows of extent": lambda: with_sheet(cell_at("A3000000")),
    "one 200 MB cell": lambda: with_sheet(huge_cell(200)),
    "one 90 MB cell": lambda: with_sheet(huge_cell(90)),
    "17 billion cells": lambda: with_sheet(cell_at("XFD1048576")),
}


def poll(base: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=base, timeout=30) as c:
        while not stop.is_set():
            start = time.perf_counter()
            c.get("/api/health").raise_for_status()
            out.append(time.perf_counter() - start)
            stop.wait(0.02)


def polled(base: str, action) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    stop = threading.Event()
    thread = threading.Thread(target=poll, args=(base, stop, latencies))
    start = time.perf_counter()
    thread.start()
    try:
        action()
    finally:
        stop.set()
        thread.join()
    return latencies, time.perf_counter() - start


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    var = Path(tempfile.mkdtemp(prefix="zd-bench-uploads-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZD_")}
    env.update(
        ZD_DEMO="1",
        ZD_VAR_DIR=str(var),
        ZD_DATABASE_URL=f"sqlite+aiosqlite:///{var}/zd.db",
        ZD_LOG_LEVEL="warning",
    )
    cli = [sys.executable, "-m", "zhengding.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*cli, "demo", "seed"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(var / "server.log", "w") as log:
        proc = subprocess.Popen(
            [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            password = json.loads((var / "demo-accounts.json").read_text(encoding="utf-8"))["password"]
            token = httpx.post(
                base + "/api/auth/login", json={"login": "province", "password": password}
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            warm = _xlsx_rows([HEADERS["verification"], ["符海", "", "", "海口市"]])
            httpx.post(
                base + "/api/verification/imports",
                headers=headers,
                files={"file": ("w.xlsx", warm)},
                timeout=60,
            )
            contents = {name: make() for name, make in FILES.items()}
            print(
                f"{'file':<20} {'worst ms':>9} {'p99 ms':>7} {'bare worst':>11} {'bare p99':>9} "
                f"{'ratio worst':>12} {'server CPU s':>13}"
            )
            for _ in range(rounds):
                for name, content in contents.items():

                    def upload(content: bytes = content) -> None:
                        r = httpx.post(
                            base + "/api/verification/imports",
                            headers=headers,
                            timeout=120,
                            files={"file": ("hostile.xlsx", content)},
                        )
                        assert r.status_code == 413, r.text

                    cpu = cpu_seconds(proc.pid)
                    during, took = polled(base, upload)
                    cpu = cpu_seconds(proc.pid) - cpu
                    bare, _ = polled(base, lambda took=took: time.sleep(took))
                    worst, bare_worst = max(during) * 1000, max(bare) * 1000
                    print(
                        f"{name:<20} {worst:>9.1f} {pct(during, 99) * 1000:>7.1f} {bare_worst:>11.1f} "
                        f"{pct(bare, 99) * 1000:>9.1f} {worst / bare_worst:>12.2f} {cpu:>13.3f}"
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
