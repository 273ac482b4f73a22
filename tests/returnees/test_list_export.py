"""The returnee list: filters by port of entry and arrival date range with the existing ones, a
total, paging by page or by keyset; its export: a watermarked xlsx of the same rows in the
exporter's scope, masked, audited, traced back to the exporter."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import Personas
from tests.helpers import assert_list_scope_trio
from tests.returnees.conftest import GRID2_DEST, Sender, Staff, registration
from zhengding.audit.models import AuditEntry
from zhengding.core.spreadsheets import trace_xlsx

LIST = "/api/returnees"
EXPORT = "/api/returnees/export"


def _port() -> str:
    return f"测试口岸{os.urandom(5).hex()}"


async def _arrivals(sender: Sender, port: str) -> dict[str, dict]:
    """Four arrivals at one port: three in grid1's village on 20–22 Jan, one in grid2's on 22 Jan."""
    out = {}
    for key, day, dest in (
        ("a20", "20", None),
        ("a21", "21", None),
        ("a22", "22", None),
        ("b22", "22", GRID2_DEST),
    ):
        item = registration(
            port_of_entry=port,
            arrived_at=f"2022-01-{day}T10:00:00+08:00",
            **({"destination": dest} if dest else {}),
        )
        r = await sender.one(item)
        assert r.status_code == 201, r.text
        out[key] = {**item, "id": r.json()["id"]}
    return out


def _rows(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


class TestListFilters:
    async def test_port_and_arrival_days_filter_with_a_total(
        self, sender: Sender, client, personas: Personas
    ):
        port = _port()
        made = await _arrivals(sender, port)
        town = personas.town.headers

        async def ids(**params) -> tuple[set[str], int]:
            r = await client.get(LIST, params={"port_of_entry": port, **params}, headers=town)
            assert r.status_code == 200, r.text
            return {x["id"] for x in r.json()["items"]}, r.json()["total"]

        assert await ids() == ({m["id"] for m in made.values()}, 4)
        assert await ids(**{"from": "2022-01-21"}) == ({made[k]["id"] for k in ("a21", "a22", "b22")}, 3)
        assert await ids(**{"from": "2022-01-21", "to": "2022-01-21"}) == ({made["a21"]["id"]}, 1)
        assert await ids(**{"to": "2022-01-20"}) == ({made["a20"]["id"]}, 1)
        assert await ids(unit_id=personas.grid2.unit_id) == ({made["b22"]["id"]}, 1)
        assert await ids(**{"from": "2022-01-22"}, status="dispatched") == (
            {made["a22"]["id"], made["b22"]["id"]},
            2,
        )
        # the port is matched whole, not as a prefix
        r = await client.get(LIST, params={"port_of_entry": port[:-1]}, headers=town)
        assert made["a20"]["id"] not in {x["id"] for x in r.json()["items"]}
        # the grid worker sees their village's only, counted the same way
        mine = (await client.get(LIST, params={"port_of_entry": port}, headers=personas.grid1.headers)).json()
        assert mine["total"] == 3 and made["b22"]["id"] not in {x["id"] for x in mine["items"]}

    async def test_pages_by_number_or_by_keyset(self, sender: Sender, client, personas: Personas):
        port = _port()
        made = await _arrivals(sender, port)
        newest_first = sorted((m["id"] for m in made.values()), reverse=True)
        town = personas.town.headers
        pages = [
            (
                await client.get(LIST, params={"port_of_entry": port, "page": n, "limit": 3}, headers=town)
            ).json()
            for n in (1, 2)
        ]
        assert [x["id"] for p in pages for x in p["items"]] == newest_first
        assert [p["total"] for p in pages] == [4, 4]
        first = (await client.get(LIST, params={"port_of_entry": port, "limit": 3}, headers=town)).json()
        rest = (
            await client.get(
                LIST, params={"port_of_entry": port, "limit": 3, "before": first["next_before"]}, headers=town
            )
        ).json()
        assert [x["id"] for x in first["items"] + rest["items"]] == newest_first and rest[
            "next_before"
        ] is None

    async def test_bad_dates_are_refused(self, client, personas: Personas):
        r = await client.get(LIST, params={"from": "2022-13-40"}, headers=personas.town.headers)
        assert r.status_code == 422
        r = await client.get(LIST, params={"to": "22-1-1"}, headers=personas.town.headers)
        assert r.status_code == 422

    async def test_scope_trio(self, sender: Sender, client, personas: Personas):
        port = _port()
        made = await _arrivals(sender, port)
        await assert_list_scope_trio(
            client,
            f"{LIST}?port_of_entry={port}",
            made["a20"]["id"],
            sees=personas.grid1,
            blind=personas.grid2,
            outsider=personas.outsider,
            items_key="items",
        )


class TestExport:
    async def test_rows_follow_the_filters_and_the_scope_masked_and_traced(
        self, sender: Sender, client, personas: Personas, sanya_command: Staff, settings, db, tmp_path
    ):
        port = _port()
        made = await _arrivals(sender, port)
        r = await client.get(
            EXPORT, params={"port_of_entry": port, "from": "2022-01-21"}, headers=personas.town.headers
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in r.headers["content-disposition"]
        rows = _rows(r.content)
        assert personas.town.name in rows[0][0] and "内部资料" in rows[0][0]
        header = rows[1]
        assert header[:3] == ["姓名", "身份证号", "手机号"] and "入琼口岸" in header and "所属单位" in header
        body = rows[2:]
        assert len(body) == 3  # a21, a22, b22: the date filter applies
        text = "\n".join(str(c) for row in rows for c in row)
        for key in ("a20", "a21", "a22", "b22"):
            m = made[key]
            assert m["id_number"] not in text and m["phone"] not in text and m["name"] not in text
        names = {row[0] for row in body}
        assert names == {made[k]["name"][0] + "**" for k in ("a21", "a22", "b22")}
        assert all(
            re.fullmatch(r"\d{6}\*+\d{3}[\dX]|\d{3}\*+\d{4}|\S\*+", str(c)) for row in body for c in row[:3]
        )
        port_col = header.index("入琼口岸")
        assert {row[port_col] for row in body} == {port}
        assert {row[header.index("所属单位")] for row in body} == {
            personas.grid1.unit_name,
            personas.grid2.unit_name,
        }

        mark, _ = trace_xlsx(r.content, settings.secret_key)
        assert mark is not None and mark.user_id == personas.town.user_id and mark.kind == "returnees.list"
        path = tmp_path / "returnees.xlsx"
        path.write_bytes(r.content)
        from zhengding.cli import app

        out = CliRunner().invoke(app, ["trace", str(path)])
        assert out.exit_code == 0, out.output
        assert personas.town.name in out.output and personas.town.user_id in out.output

        async with db.unit_of_work(readonly=True) as s:
            audited = (
                await s.execute(
                    select(AuditEntry.detail)
                    .where(
                        AuditEntry.actor_id == personas.town.user_id,
                        AuditEntry.action == "returnees.list.exported",
                    )
                    .order_by(AuditEntry.seq.desc())
                    .limit(1)
                )
            ).scalar_one()
        audited = json.loads(audited)
        assert (
            audited["count"] == 3 and audited["port_of_entry"] == port and audited["day_from"] == "2022-01-21"
        )

        # the scope: the village's unit filter, another city's command, a grid worker without the right
        village = _rows(
            (
                await client.get(
                    EXPORT,
                    params={"port_of_entry": port, "unit_id": personas.grid2.unit_id},
                    headers=personas.haikou.headers,
                )
            ).content
        )
        assert [row[0] for row in village[2:]] == [made["b22"]["name"][0] + "**"]
        elsewhere = await client.get(EXPORT, params={"port_of_entry": port}, headers=sanya_command.headers)
        assert elsewhere.status_code == 200 and _rows(elsewhere.content)[2:] == []
        assert trace_xlsx(elsewhere.content, settings.secret_key)[0].user_id == sanya_command.user_id
        hidden = await client.get(
            EXPORT, params={"unit_id": personas.grid1.unit_id}, headers=sanya_command.headers
        )
        assert hidden.status_code in (403, 404)
        refused = await client.get(EXPORT, params={"port_of_entry": port}, headers=personas.grid1.headers)
        assert refused.status_code == 403

    async def test_more_rows_than_one_export_takes_are_refused_with_the_count(
        self, sender: Sender, client, personas: Personas, monkeypatch: pytest.MonkeyPatch
    ):
        from zhengding.returnees.service import export

        port = _port()
        await _arrivals(sender, port)
        monkeypatch.setattr(export, "MAX_ROWS", 3)
        r = await client.get(EXPORT, params={"port_of_entry": port}, headers=personas.town.headers)
        assert r.status_code == 422 and "4 人" in r.json()["error"]["message"]
        ok = await client.get(
            EXPORT, params={"port_of_entry": port, "from": "2022-01-21"}, headers=personas.town.headers
        )
        assert ok.status_code == 200 and len(_rows(ok.content)) == 2 + 3
