"""Day filters (?from=&to=) are checked in one place (http/paging.days): a day that does not
exist, a day in another format, or a range whose start passes its end answer 422 naming the
parameter — on every route that takes them (found in the OpenAPI document)."""

from __future__ import annotations

import pytest

from tests.conftest import Personas


@pytest.fixture(scope="module")
async def day_routes(client, personas: Personas) -> list[str]:
    document = (await client.get("/api/openapi.json", headers=personas.province.headers)).json()
    routes = [
        path
        for path, item in document["paths"].items()
        if "{" not in path
        and any(p["name"] == "from" and p["in"] == "query" for p in item.get("get", {}).get("parameters", []))
    ]
    assert {
        "/api/verification/stats",
        "/api/verification/stats/daily",
        "/api/returnees/stats",
        "/api/returnees",
    } <= set(routes), routes
    return routes


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-02-30"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"from": "2026/01/25"}, "from"),
        ({"from": "2026-01-26", "to": "2026-01-25"}, "from"),
    ],
)
async def test_a_bad_day_is_refused_naming_the_parameter(
    client, personas: Personas, day_routes, params, field
):
    for route in day_routes:
        r = await client.get(route, params=params, headers=personas.province.headers)
        assert r.status_code == 422, (route, r.text)
        error = r.json()["error"]
        assert [d["field"] for d in error["details"]] == [field], (route, error)
        assert all("\u4e00" <= ch <= "\u9fff" for ch in error["details"][0]["reason"][:1]), error


async def test_a_valid_range_is_taken(client, personas: Personas, day_routes):
    for route in day_routes:
        r = await client.get(
            route, params={"from": "2026-01-25", "to": "2026-01-25"}, headers=personas.province.headers
        )
        assert r.status_code == 200, (route, r.text)
