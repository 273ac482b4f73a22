"""The demo generator writes valid, realistic registrations; the CLI prints JSON Lines."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from zhengding.divisions.resolver import default_resolver
from zhengding.returnees.demo_arrivals import ArrivalFactory
from zhengding.returnees.schemas import parse_registration


def test_generated_registrations_are_valid_and_mostly_resolve_to_a_village():
    items = list(ArrivalFactory(seed=5).many(300))
    assert all(parse_registration(i)[1] == [] for i in items)
    levels = [default_resolver().resolve(i["destination"]).level for i in items]
    villages = sum(1 for lv in levels if lv == 5)
    assert 0.6 * len(items) <= villages < len(items)  # messy texts: some need manual routing
    assert any(lv is None for lv in levels) and any(lv == 4 for lv in levels)
    assert len({i["registration_id"] for i in items}) == len(items)


def test_cli_demo_arrivals():
    from zhengding.cli import app

    result = CliRunner().invoke(app, ["demo", "arrivals", "--count", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 3 and lines[0]["registration_id"].startswith("DEMO1-")
