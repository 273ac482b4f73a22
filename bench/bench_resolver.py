"""Resolutions per second of the destination resolver on one core.

Run: .venv/bin/python bench/bench_resolver.py [repeat]

Inputs are the test case set (tests/divisions/resolver_cases.jsonl) repeated. A raw baseline is
measured in the same run over the same inputs: one plain dict lookup of the text as an exact
formal full address — the cost floor of "looking an address up" in Python. The ratio says how
many baseline lookups one resolution costs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from zhengding.divisions.resolver import default_resolver  # noqa: E402

CASES = ROOT / "tests" / "divisions" / "resolver_cases.jsonl"


def best_rate(fn, texts: list[str], rounds: int = 3) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        fn(texts)
        elapsed = time.perf_counter() - start
        best = max(best, len(texts) / elapsed)
    return best


def main() -> None:
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cases = [json.loads(line) for line in CASES.read_text(encoding="utf-8").splitlines() if line]
    texts = [c["text"] for c in cases] * repeat

    t0 = time.perf_counter()
    resolver = default_resolver()
    build_ms = (time.perf_counter() - t0) * 1000

    # Baseline: exact formal address → code, one dict lookup per input.
    exact: dict[str, str] = {}
    for code, path in zip(resolver.codes, resolver.paths, strict=True):
        exact["".join(path)] = code

    def baseline(items: list[str]) -> None:
        get = exact.get
        for text in items:
            get(text)

    def resolve_all(items: list[str]) -> None:
        resolve = resolver.resolve
        for text in items:
            resolve(text)

    base = best_rate(baseline, texts)
    rate = best_rate(resolve_all, texts)
    print(f"cases: {len(cases)} x {repeat} = {len(texts)} inputs; index build {build_ms:.0f} ms")
    print(f"resolver:            {rate:12,.0f} resolutions/s")
    print(f"baseline dict.get:   {base:12,.0f} lookups/s")
    print(f"ratio resolver/base: {rate / base:12.4f}  (1 resolution ≈ {base / rate:,.0f} lookups)")


if __name__ == "__main__":
    main()
