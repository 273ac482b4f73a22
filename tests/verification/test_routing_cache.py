"""Clues are routed through the resolver's cache of readings (one per text head, the text before
its first digit): every answer equals the one of a resolver that parses each text in full."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zhengding.divisions.resolver import DivisionRow, Resolver, _shipped_csv, default_resolver

CASES = [
    json.loads(line)["text"]
    for line in (Path(__file__).resolve().parents[1] / "divisions" / "resolver_cases.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line
]
ROWS = [
    DivisionRow(r["code"], r["name"], int(r["level"]), r["parent_code"] or None)
    for r in csv.DictReader(_shipped_csv().open(encoding="utf-8"))
]
TAILS = [
    "",
    "12号",
    "3队12号",
    " 8栋301室",
    "1村",
    "5号向荣村",
    "12号海口市",
    "１２号",
    "2区",
    "9号 镇上",
    "-3-",
    "7社区",
    "8号秀英街道",
    "1",
]
PIECES = [r.name for r in ROWS[:400]] + [
    "12",
    "3号",
    " ",
    "路",
    "村",
    "区",
    "1",
    "回",
    "到",
    "社区",
    "街道",
    "镇",
    "县",
]


@pytest.fixture(scope="module")
def full_parse() -> Resolver:
    return Resolver(ROWS, cache_size=0)


class TestReadingCache:
    def test_every_case_with_every_tail_reads_as_the_full_parse(self, full_parse):
        cached = Resolver(ROWS)
        for case in CASES:
            for tail in TAILS:
                for text in (case + tail, tail + case):
                    assert cached.resolve(text).to_dict() == full_parse.resolve(text).to_dict(), text
        info = cached.cache_info()
        assert info.hits > 0 and info.currsize <= info.maxsize  # type: ignore[attr-defined]

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6))
    def test_random_mixtures_read_as_the_full_parse(self, full_parse, pieces):
        text = "".join(pieces)
        assert default_resolver().resolve(text).to_dict() == full_parse.resolve(text).to_dict()

    def test_the_cache_is_bounded(self):
        small = Resolver(ROWS, cache_size=8)
        for i in range(50):
            small.resolve(f"海口市秀英区{'东西南北'[i % 4] * (i + 1)}路{i}号")
        assert small.cache_info().currsize == 8  # type: ignore[attr-defined]
