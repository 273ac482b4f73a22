"""#13 point 11: refused and out-of-scope attempts leave an audit row.

A 403, a 404 on an object that exists outside the actor's scope, and a 429 each write one row
(security.access.refused / security.scope.refused / security.rate.limited) in a transaction of
their own, so it survives the rollback of the request. A 404 for an id that does not exist
writes no row: it would claim an object that is not there.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from tests.conftest import Personas
from zhengding.audit.models import AuditEntry
from zhengding.core.ids import new_id
from zhengding.http import refusals


@pytest.fixture(autouse=True)
def fresh_limits():
    refusals.reset_limits()
    yield
    refusals.reset_limits()


def _rid() -> str:
    return f"req-{uuid.uuid4().hex}"


async def _rows(db, request_id: str) -> list[AuditEntry]:
    async with db.new_session(readonly=True) as s:
        stmt = select(AuditEntry).where(AuditEntry.request_id == request_id).order_by(AuditEntry.seq)
        return list((await s.execute(stmt)).scalars())


class TestAccessRefused:
    async def test_route_matrix_refusal_is_recorded_with_who_where_and_target(
        self, client, db, personas: Personas
    ):
        grid1, rid = personas.grid1, _rid()
        unit_id = personas.grid1.unit_id
        r = await client.patch(
            f"/api/orgs/{unit_id}", json={"name": "改名"}, headers={**grid1.headers, "X-Request-Id": rid}
        )
        assert r.status_code == 403, r.text
        (row,) = await _rows(db, rid)
        assert (row.action, row.result) == ("security.access.refused", "denied")
        assert (row.actor_id, row.actor_name, row.role) == (grid1.user_id, grid1.name, "grid_worker")
        assert (row.unit_id, row.ip) == (grid1.unit_id, "127.0.0.1")
        assert (row.target_type, row.target_id) == ("org_unit", unit_id)
        detail = json.loads(row.detail)
        assert detail["route"] == "PATCH /api/orgs/{unit_id}"
        assert detail["permission"] == "orgs.manage" and detail["status"] == 403

    async def test_refusal_by_a_service_rule_survives_the_rollback(self, client, db, personas: Personas):
        p = personas
        item = await client.post(
            "/api/supervision/items",
            headers=p.haikou.headers,
            json={
                "title": "核实重点场所",
                "content": "请于时限内完成排查并报送落实情况",
                "source_kind": "instruction",
                "source_ref": "琼指〔2022〕12号",
                "priority": "urgent",
                "deadline": "2099-01-01T00:00:00+08:00",
                "owners": [{"unit_id": p.town.unit_id}, {"user_id": p.grid1.user_id}],
            },
        )
        assert item.status_code == 201, item.text
        town_owner = next(o["id"] for o in item.json()["owners"] if o["name"] == p.town.unit_name)
        rid = _rid()
        r = await client.post(
            f"/api/supervision/items/{item.json()['id']}/progress",
            json={"owner_id": town_owner, "text": "冒报"},
            headers={**p.grid1.headers, "X-Request-Id": rid},
        )
        assert r.status_code == 403, r.text
        (row,) = await _rows(db, rid)
        assert (row.action, row.actor_id) == ("security.access.refused", p.grid1.user_id)
        assert (row.target_type, row.target_id) == ("supervision_item", item.json()["id"])
        assert json.loads(row.detail)["message"] == "只有承办人可以报送落实情况"
        detail = (
            await client.get(f"/api/supervision/items/{item.json()['id']}", headers=p.haikou.headers)
        ).json()
        assert "冒报" not in json.dumps(detail, ensure_ascii=False)


class TestScopeRefused:
    async def test_existing_object_outside_scope_is_recorded(self, client, db, personas: Personas):
        grid2, rid = personas.grid2, _rid()
        target = personas.grid1.unit_id
        r = await client.get(f"/api/orgs/{target}", headers={**grid2.headers, "X-Request-Id": rid})
        assert r.status_code == 404, r.text
        (row,) = await _rows(db, rid)
        assert (row.action, row.result, row.actor_id, row.ip) == (
            "security.scope.refused",
            "denied",
            grid2.user_id,
            "127.0.0.1",
        )
        assert (row.target_type, row.target_id) == ("org_unit", target)
        assert json.loads(row.detail)["route"] == "GET /api/orgs/{unit_id}"

    async def test_absent_id_leaves_no_row_claiming_an_object(self, client, db, personas: Personas):
        rid, absent = _rid(), new_id()
        r = await client.get(f"/api/orgs/{absent}", headers={**personas.grid2.headers, "X-Request-Id": rid})
        assert r.status_code == 404, r.text
        assert await _rows(db, rid) == []
        async with db.new_session(readonly=True) as s:
            assert (
                await s.execute(select(AuditEntry.seq).where(AuditEntry.target_id == absent))
            ).first() is None


class TestRateLimited:
    async def test_too_frequent_reminder_is_recorded(self, client, db, personas: Personas):
        town = personas.town
        ding = await client.post(
            "/api/ding",
            headers=town.headers,
            json={"content": "今晚20:00前上报", "user_ids": [personas.grid1.user_id], "sms": False},
        )
        assert ding.status_code == 201, ding.text
        ding_id = ding.json()["id"]
        first = await client.post(f"/api/ding/{ding_id}/remind", json={"sms": False}, headers=town.headers)
        assert first.status_code == 200, first.text
        rid = _rid()
        again = await client.post(
            f"/api/ding/{ding_id}/remind", json={"sms": False}, headers={**town.headers, "X-Request-Id": rid}
        )
        assert again.status_code == 429, again.text
        (row,) = await _rows(db, rid)
        assert (row.action, row.result, row.actor_id, row.ip) == (
            "security.rate.limited",
            "denied",
            town.user_id,
            "127.0.0.1",
        )
        assert (row.target_type, row.target_id) == ("ding", ding_id)
        assert json.loads(row.detail)["route"] == "POST /api/ding/{ding_id}/remind"


class TestFloodBound:
    async def test_rows_per_minute_are_bounded_and_the_rest_counted(
        self, client, db, personas: Personas, configure, clock
    ):
        configure(audit_refusals_per_minute=2)
        clock.freeze()
        clock.advance(seconds=61 - clock.now().second)  # the five below fall in one minute
        rids = [_rid() for _ in range(5)]
        for rid in rids:
            r = await client.post(
                "/api/ding",
                json={"content": "x", "user_ids": []},
                headers={**personas.grid2.headers, "X-Request-Id": rid},
            )
            assert r.status_code == 403, r.text
        assert [len(await _rows(db, rid)) for rid in rids] == [1, 1, 0, 0, 0]
        clock.advance(seconds=60)
        rid = _rid()
        r = await client.post(
            "/api/ding",
            json={"content": "x", "user_ids": []},
            headers={**(await _fresh(client, personas.grid2)), "X-Request-Id": rid},
        )
        assert r.status_code == 403, r.text
        (row,) = await _rows(db, rid)
        assert json.loads(row.detail)["suppressed"] == 3


async def _fresh(client, persona) -> dict[str, str]:
    from tests.conftest import login
    from zhengding import demo

    return {"Authorization": f"Bearer {await login(client, persona.username, demo.DEMO_PASSWORD)}"}
