"""Times are exact: a client's time counts at its instant (offset applied), a naive one is refused
with a field error, and days (deadline days of the statistics, day filters, exported times) are
Asia/Shanghai days, cut at local midnight (16:00Z). Arrivals: tests/returnees/test_arrival_times.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from tests.conftest import Personas
from tests.supervision.support import fresh, sweep
from tests.verification.support import import_rows, new_id_number
from zhengding.core.clock import (
    SHANGHAI,
    ClientTime,
    day_bounds,
    day_start,
    local_day,
    local_text,
    now,
    parse_day,
)
from zhengding.core.errors import ValidationFailed
from zhengding.supervision.models import SupervisionOwner

CST = timezone(timedelta(hours=8))


def at_local(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=CST)


class TestDayHelpers:
    def test_local_midnight_cuts_the_day_at_1600_utc(self):
        late, early = at_local(date(2026, 1, 9), 23, 30), at_local(date(2026, 1, 10), 0, 30)
        assert early.astimezone(UTC) == datetime(2026, 1, 9, 16, 30, tzinfo=UTC)
        assert (local_day(late), local_day(early)) == ("2026-01-09", "2026-01-10")
        assert local_day(early.astimezone(UTC)) == "2026-01-10"
        start, end = day_bounds("2026-01-10")
        assert (start, end) == (datetime(2026, 1, 9, 16, tzinfo=UTC), datetime(2026, 1, 10, 16, tzinfo=UTC))
        assert start <= early < end and not start <= late < end
        assert day_start(date(2026, 1, 10)) == start
        assert local_text(early.astimezone(UTC)) == "2026-01-10 00:30"

    def test_client_time_needs_its_offset_and_becomes_utc(self):
        adapter = TypeAdapter(ClientTime)
        got = adapter.validate_python("2026-01-10T00:26:00+08:00")
        assert got == datetime(2026, 1, 9, 16, 26, tzinfo=UTC) and got.tzinfo is UTC
        with pytest.raises(ValidationError) as refused:
            adapter.validate_python("2026-01-10T00:26:00")
        assert refused.value.errors()[0]["type"] == "timezone_aware"

    def test_parse_day_names_the_field(self):
        assert parse_day("2026-01-10", "from") == "2026-01-10" and parse_day("", "from") is None
        with pytest.raises(ValidationFailed) as bad:
            parse_day("2026-02-30", "to")
        assert bad.value.details == [{"field": "to", "reason": "日期格式不正确"}]


async def _day_stats(client, headers, unit_id: str, day: date) -> dict[str, int]:
    r = await client.get(
        "/api/supervision/stats",
        headers=headers,
        params={"unit_id": unit_id, "start": day.isoformat(), "end": day.isoformat()},
    )
    assert r.status_code == 200, r.text
    return r.json()["unit"]


async def _overdue_at(db, owner_id: str) -> datetime | None:
    async with db.unit_of_work(readonly=True) as session:
        return (
            await session.execute(select(SupervisionOwner.overdue_at).where(SupervisionOwner.id == owner_id))
        ).scalar_one()


class TestSupervisionDeadline:
    async def test_a_deadline_at_2330_plus_8_is_overdue_at_that_instant_and_counted_on_its_local_day(
        self, db, client, personas: Personas, clock
    ):
        p = personas
        clock.freeze()
        day = now().astimezone(SHANGHAI).date() + timedelta(days=2)
        deadline = at_local(day, 23, 30)  # 15:30Z, the same local day
        haikou = await fresh(client, p.haikou)
        r = await client.post(
            "/api/supervision/items",
            headers=haikou,
            json={
                "title": "核对返乡人员台账",
                "content": "请于时限内核对",
                "deadline": deadline.isoformat(),
                "owners": [{"unit_id": p.town.unit_id, "lead": True}],
            },
        )
        assert r.status_code == 201, r.text
        item = r.json()
        assert item["deadline"] == f"{day}T15:30:00Z"
        owner_id = item["owners"][0]["id"]
        before = {
            d: await _day_stats(client, haikou, p.haikou.unit_id, d) for d in (day, day + timedelta(days=1))
        }

        clock.advance(deadline - now())  # exactly the deadline: not yet late
        await sweep()
        assert await _overdue_at(db, owner_id) is None
        clock.advance(microseconds=1)
        await sweep()
        assert await _overdue_at(db, owner_id) == deadline + timedelta(microseconds=1)

        haikou = await fresh(client, p.haikou)
        after = {
            d: await _day_stats(client, haikou, p.haikou.unit_id, d) for d in (day, day + timedelta(days=1))
        }
        assert after[day]["overdue"] - before[day]["overdue"] == 1
        assert after[day + timedelta(days=1)]["overdue"] == before[day + timedelta(days=1)]["overdue"]

    @pytest.mark.parametrize("field", ["deadline", "recur_until"])
    async def test_a_naive_time_is_refused_naming_the_field(self, client, personas: Personas, field):
        body = {
            "title": "核对返乡人员台账",
            "owners": [{"unit_id": personas.town.unit_id}],
            field: "2030-01-10T17:00:00",
            **({"recurrence": "daily"} if field == "recur_until" else {}),
        }
        r = await client.post("/api/supervision/items", headers=personas.haikou.headers, json=body)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [
            {"field": field, "reason": "时间须带时区，如 2026-01-25T14:30:00+08:00"}
        ]


class TestVerificationDeadline:
    async def test_a_naive_dispatch_deadline_is_refused_naming_the_field(self, client, personas: Personas):
        r = await client.post(
            "/api/verification/tasks/dispatch",
            headers=personas.haikou.headers,
            json={"task_ids": [], "unit_id": personas.xiuying.unit_id, "deadline": "2030-01-10T17:00:00"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [
            {"field": "deadline", "reason": "时间须带时区，如 2026-01-25T14:30:00+08:00"}
        ]


class TestVerificationImportDay:
    async def test_an_import_at_1630z_counts_on_the_next_local_day_and_keeps_its_deadline(
        self, client, personas: Personas, clock
    ):
        p = personas
        today = now().date()
        cut = datetime.combine(
            today if now().time() > time(16, 31) else today - timedelta(days=1), time(16, 30), tzinfo=UTC
        )  # 00:30 in Asia/Shanghai, the most recent one
        clock.freeze(cut)
        clue = f"海口市秀英区秀英街道{p.grid1.unit_name}2队"
        deadline = at_local(cut.date() + timedelta(days=3), 18, 0)
        batch = await import_rows(
            client, p.province, [["甲", new_id_number(), "", clue, "", ""]], deadline=deadline.isoformat()
        )
        daily = await client.get(
            "/api/verification/stats/daily",
            headers=p.province.headers,
            params={"unit_id": p.haikou.unit_id, "batch_id": batch["batch_id"]},
        )
        assert daily.status_code == 200, daily.text
        assert [row["day"] for row in daily.json()] == [(cut.date() + timedelta(days=1)).isoformat()]
        tasks = await client.get(
            "/api/verification/tasks", headers=p.province.headers, params={"batch_id": batch["batch_id"]}
        )
        assert [t["deadline"] for t in tasks.json()["items"]] == [
            f"{cut.date() + timedelta(days=3)}T10:00:00Z"
        ]

    async def test_a_naive_import_deadline_is_refused_naming_the_field(self, client, personas: Personas):
        files = {"file": ("batch.csv", "姓名,身份证号\n".encode(), "text/csv")}
        r = await client.post(
            "/api/verification/imports",
            files=files,
            headers=personas.province.headers,
            data={"deadline": "2030-01-10T17:00:00"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == [
            {"field": "deadline", "reason": "时间须带时区，如 2026-01-25T14:30:00+08:00"}
        ]
