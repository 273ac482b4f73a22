"""A time in a request body is bounded to [1970, 2100) UTC (#13 point 7: schemathesis found
"0001-01-01T01:01:00+06:01" answering 500 — the conversion to UTC overflowed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from zhengding.core.clock import ClientTime

ADAPTER = TypeAdapter(ClientTime)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T01:01:00+06:01",
        "0001-01-01T00:00:00+08:00",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T07:59:59+08:00",
        "2100-01-01T00:00:00Z",
    ],
)
def test_a_time_outside_1970_to_2099_is_refused(text):
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python(text)
    assert "时间超出范围" in str(caught.value)


@pytest.mark.parametrize(
    "text,utc",
    [
        ("1970-01-01T08:00:00+08:00", datetime(1970, 1, 1, tzinfo=UTC)),
        ("2099-12-31T23:59:59Z", datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("2026-01-25T14:30:00+08:00", datetime(2026, 1, 25, 6, 30, tzinfo=UTC)),
    ],
)
def test_a_time_inside_is_the_same_instant_in_utc(text, utc):
    at = ADAPTER.validate_python(text)
    assert at == utc and at.tzinfo == UTC


@pytest.mark.parametrize("deadline", ["0001-01-01T01:01:00+06:01", "9999-12-31T23:59:59-05:00"])
async def test_the_api_answers_422_naming_the_field(client, personas, deadline):
    r = await client.post(
        "/api/verification/batches/0/deadline", json={"deadline": deadline}, headers=personas.province.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["details"] == [
        {"field": "deadline", "reason": "时间超出范围，应在 1970 年至 2099 年之间"}
    ]
