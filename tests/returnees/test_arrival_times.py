"""Arrival times are exact: an arrival at 00:26+08:00 is 16:26Z the day before, counts on its
Asia/Shanghai day in the list filters, and is exported as Beijing wall time."""

from __future__ import annotations

import io
import os
from datetime import date, datetime, time, timedelta, timezone

from python_calamine import CalamineWorkbook

from tests.conftest import Personas
from tests.returnees.conftest import Sender, registration
from zhengding.core.clock import SHANGHAI, now

CST = timezone(timedelta(hours=8))


def at_local(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=CST)


def _last_local(hh: int, mm: int) -> datetime:
    """The latest hh:mm (Asia/Shanghai) that is more than a minute ago."""
    local = now().astimezone(SHANGHAI)
    day = local.date() if local.time() > time(hh, mm + 1) else local.date() - timedelta(days=1)
    return at_local(day, hh, mm)


class TestReturneeArrivalTimes:
    async def test_an_arrival_at_0026_plus_8_is_1626z_the_day_before_and_counts_on_its_local_day(
        self, sender: Sender, client, personas: Personas
    ):
        port = f"测试口岸{os.urandom(5).hex()}"
        arrival = _last_local(0, 26)
        evening = at_local(arrival.date() - timedelta(days=1), 23, 30)
        ids = {}
        for key, at in (("night", arrival), ("evening", evening)):
            r = await sender.one(registration(port_of_entry=port, arrived_at=at.isoformat()))
            assert r.status_code == 201, r.text
            ids[key] = r.json()["id"]
        g = personas.grid1.headers
        body = (await client.get(f"/api/returnees/{ids['night']}", headers=g)).json()
        assert body["arrived_at"] == f"{arrival.date() - timedelta(days=1)}T16:26:00Z"

        async def listed(day: date) -> set[str]:
            r = await client.get(
                "/api/returnees",
                headers=personas.town.headers,
                params={"port_of_entry": port, "from": day.isoformat(), "to": day.isoformat()},
            )
            assert r.status_code == 200, r.text
            return {x["id"] for x in r.json()["items"]}

        assert await listed(arrival.date()) == {ids["night"]}
        assert await listed(evening.date()) == {ids["evening"]}

        enrolled = await client.post(
            f"/api/returnees/{ids['night']}/enrol",
            headers=g,
            json={"identity_confirmed": True, "actual_address": "秀华社区5栋302", "monitoring_plan": "home"},
        )
        assert enrolled.status_code == 200, enrolled.text
        assert enrolled.json()["monitoring_until"] == f"{arrival.date() + timedelta(days=13)}T16:26:00Z"

        exported = await client.get(
            "/api/returnees/export", params={"port_of_entry": port}, headers=personas.town.headers
        )
        assert exported.status_code == 200, exported.text
        rows = CalamineWorkbook.from_filelike(io.BytesIO(exported.content)).get_sheet_by_index(0).to_python()
        header = rows[1]
        shown = sorted(row[header.index("抵达时间")] for row in rows[2:])
        assert shown == sorted([arrival.strftime("%Y-%m-%d %H:%M"), evening.strftime("%Y-%m-%d %H:%M")])
        assert [
            row[header.index("监测截止")]
            for row in rows[2:]
            if row[header.index("抵达时间")] == arrival.strftime("%Y-%m-%d %H:%M")
        ] == [(arrival + timedelta(days=14)).strftime("%Y-%m-%d %H:%M")]
