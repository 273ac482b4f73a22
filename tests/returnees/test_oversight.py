"""Live oversight above the village: every change of the summary counters reaches the command
units on the path (their own members holding returnees.stats), once per unit and transaction,
without personal data; a returnee leaving a routing queue is announced to the queue's staff;
the payloads of all returnee events are consistent."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from tests.conftest import Personas
from tests.realtime.support import WsClient
from tests.returnees.conftest import GRID1_DEST, Sender, Staff, registration
from tests.returnees.test_flow import ENROL, arrive, fresh_headers
from zhengding.core.clock import local_day, now
from zhengding.orgs.models import OrgUnit
from zhengding.returnees import repository as repo
from zhengding.returnees import stats_table
from zhengding.returnees.models import Returnee
from zhengding.returnees.oversight import DEQUEUED, STATS_CHANGED
from zhengding.returnees.service.overdue import sweep_overdue

SANYA_DEST = "三亚市吉阳区"  # resolves to the district only: waits in its routing queue
STREET_ONLY = "海口市秀英区秀英街道 具体地址到了再说"  # the persona town's queue


def stats_events(captured) -> list:  # type: ignore[no-untyped-def]
    return [e for e in captured if e.type == STATS_CHANGED]


async def unit_path(db, unit_id: str) -> str:
    async with db.unit_of_work(readonly=True) as s:
        return (await s.execute(select(OrgUnit.path).where(OrgUnit.id == unit_id))).scalar_one()


def commands(p: Personas) -> dict[str, str]:
    """Command unit id → the persona who holds its command role."""
    return {
        p.province.unit_id: p.province.user_id,
        p.haikou.unit_id: p.haikou.user_id,
        p.xiuying.unit_id: p.xiuying.user_id,
        p.town.unit_id: p.town.user_id,
    }


class TestStatsLive:
    async def test_an_arrival_reaches_the_province_command_live_and_not_another_citys_command(
        self, live_server, sender: Sender, personas: Personas, sanya_command: Staff, db
    ):
        p = personas
        province = await WsClient.connect(live_server.ws_url(p.province.token))
        haikou = await WsClient.connect(live_server.ws_url(p.haikou.token))
        sanya = await WsClient.connect(live_server.ws_url(sanya_command.token))
        admin = await WsClient.connect(live_server.ws_url(p.sysadmin.token))  # a member of the province unit
        for ws in (province, haikou, sanya, admin):
            await ws.drain(0.3)  # whatever an earlier test's commits still had on the way
        try:
            body = (await sender.one(registration(destination=GRID1_DEST))).json()
            assert body["dispatch"] == "village"
            frame = await province.next_of(STATS_CHANGED, timeout=5)
            village_path = await unit_path(db, p.grid1.unit_id)
            assert frame["data"] == {
                "unit_id": p.province.unit_id,
                "counters": {"arrivals": 1},
                "days": [local_day(now())],
                "paths": [village_path],
            }
            assert (await haikou.next_of(STATS_CHANGED, timeout=5))["data"]["unit_id"] == p.haikou.unit_id
            assert not [
                f for f in await province.drain() if f["type"] == STATS_CHANGED
            ]  # one per transaction
            assert not [f for f in await sanya.drain() if f["type"].startswith("returnees.")]
            assert not [f for f in await admin.drain() if f["type"].startswith("returnees.")]

            # and the other way round: Sanya's arrival reaches Sanya's command, not Haikou's
            queued = (await sender.one(registration(destination=SANYA_DEST))).json()
            assert queued["dispatch"] == "routing"
            mine = await sanya.next_of(STATS_CHANGED, timeout=5)
            assert mine["data"]["unit_id"] == sanya_command.unit_id
            assert mine["data"]["counters"] == {"arrivals": 1, "routing": 1}
            assert (await province.next_of(STATS_CHANGED, timeout=5))["data"]["counters"] == {
                "arrivals": 1,
                "routing": 1,
            }
            assert not [f for f in await haikou.drain() if f["type"] == STATS_CHANGED]
        finally:
            for ws in (province, haikou, sanya, admin):
                await ws.close()

    async def test_each_step_reaches_every_command_on_the_path_once_without_personal_data(
        self, sender: Sender, client, personas: Personas, captured_events, clock, db
    ):
        p = personas
        rid = await arrive(sender)
        expected = commands(p)

        def step() -> dict[str, dict[str, int]]:
            events = stats_events(captured_events)
            captured_events.clear()
            assert sorted(e.payload["unit_id"] for e in events) == sorted(expected), "one per command unit"
            for e in events:
                assert e.user_ids == (
                    expected[e.payload["unit_id"]],
                )  # the unit's own member, not the subtree
                assert set(e.payload) == {"unit_id", "counters", "days", "paths"}
            counters = {e.payload["unit_id"]: e.payload["counters"] for e in events}
            assert len({orjson.dumps(c, option=orjson.OPT_SORT_KEYS) for c in counters.values()}) == 1
            return next(iter(counters.values()))

        step()
        g = p.grid1.headers
        assert (await client.post(f"/api/returnees/{rid}/enrol", headers=g, json=ENROL)).status_code == 200
        assert step() == {"acknowledged": 1, "enrolled": 1}
        anomaly = (
            await client.post(
                f"/api/returnees/{rid}/anomalies",
                headers=g,
                json={"kind": "fever", "description": "体温38.3℃"},
            )
        ).json()
        assert step() == {"anomalies": 1, "open_anomalies": 1}
        done = await client.post(
            f"/api/returnees/anomalies/{anomaly['id']}/resolve",
            headers=p.town.headers,
            json={"resolution": "已排除，居家监测"},
        )
        assert done.status_code == 200
        assert step() == {"open_anomalies": -1}
        clock.advance(days=2)
        async with db.unit_of_work() as session:
            swept = await sweep_overdue(session)
            assert rid in swept.check_in_flagged
            flagged = list(
                (
                    await session.execute(
                        select(Returnee.unit_path).where(
                            Returnee.id.in_(swept.ack_flagged + swept.check_in_flagged)
                        )
                    )
                ).scalars()
            )
        # the sweep flags every late returnee of the shared database: each command counts its own
        events = stats_events(captured_events)
        captured_events.clear()
        assert sorted(e.payload["unit_id"] for e in events if e.payload["unit_id"] in expected) == sorted(
            expected
        )
        for e in events:
            if e.payload["unit_id"] in expected:
                assert e.payload["counters"] == {
                    "overdue": sum(f"/{e.payload['unit_id']}/" in f for f in flagged)
                }
        clock.advance(days=13)
        g = await fresh_headers(client, p.grid1)
        released = await client.post(f"/api/returnees/{rid}/release", headers=g, json={})
        assert released.status_code == 200, released.text
        assert step() == {"released": 1, "overdue": -1}
        for e in captured_events:
            assert "returnees.stats" not in e.type

    async def test_a_move_within_the_town_touches_its_counters_and_nets_zero(
        self, sender: Sender, client, personas: Personas, captured_events, db
    ):
        p = personas
        rid = await arrive(sender)
        captured_events.clear()
        moved = await client.post(
            f"/api/returnees/{rid}/reassign",
            headers=p.town.headers,
            json={"village_id": p.grid2.unit_id, "note": "搬家"},
        )
        assert moved.status_code == 200
        town = next(e for e in stats_events(captured_events) if e.payload["unit_id"] == p.town.unit_id)
        assert town.payload["counters"] == {"arrivals": 0}
        assert town.payload["paths"] == sorted(
            [await unit_path(db, p.grid1.unit_id), await unit_path(db, p.grid2.unit_id)]
        )
        assert len(stats_events(captured_events)) == len(commands(p))

    async def test_nothing_is_published_when_the_transaction_rolls_back(
        self, sender: Sender, personas, db, captured_events
    ):
        rid = await arrive(sender)
        captured_events.clear()
        with pytest.raises(RuntimeError):
            async with db.unit_of_work() as session:
                r = await repo.get(session, rid, for_update=True)
                assert r is not None
                await stats_table.bump(session, r, {"overdue": 1})
                raise RuntimeError("the use-case failed after the counters")
        assert captured_events == []

    async def test_changes_in_one_transaction_are_merged_per_command_unit(
        self, sender: Sender, personas, db, captured_events
    ):
        first, second = await arrive(sender), await arrive(sender, destination="海口市秀英区秀海社区")
        captured_events.clear()
        async with db.unit_of_work() as session:
            for rid in (first, second):
                r = await repo.get(session, rid, for_update=True)
                assert r is not None
                await stats_table.bump(session, r, {"overdue": 1})
            await stats_table.bump(session, r, {"overdue": -1, "acknowledged": 1})
        events = stats_events(captured_events)
        assert len(events) == len(commands(personas))
        town = next(e for e in events if e.payload["unit_id"] == personas.town.unit_id)
        assert town.payload["counters"] == {"overdue": 1, "acknowledged": 1}
        assert len(town.payload["paths"]) == 2


class TestRoutingQueueLive:
    async def test_a_colleagues_routing_drops_it_from_the_other_officers_open_queue(
        self, live_server, sender: Sender, client, personas: Personas, town_colleague: Staff, captured_events
    ):
        p = personas
        colleague = await WsClient.connect(live_server.ws_url(town_colleague.token))
        county = await WsClient.connect(live_server.ws_url(p.xiuying.token))
        for ws in (colleague, county):
            await ws.drain(0.3)
        try:
            body = (await sender.one(registration(destination=STREET_ONLY))).json()
            assert body["dispatch"] == "routing"
            queued = await colleague.next_of("returnees.returnee.queued", timeout=5)
            assert queued["data"]["id"] == body["id"]
            queue = (await client.get("/api/returnees/routing-queue", headers=town_colleague.headers)).json()
            assert body["id"] in [x["id"] for x in queue["items"]]
            routed = await client.post(
                f"/api/returnees/{body['id']}/route",
                headers=p.town.headers,
                json={"village_id": p.grid1.unit_id},
            )
            assert routed.status_code == 200
            gone = await colleague.next_of(DEQUEUED, timeout=5)
            assert gone["data"] == {"id": body["id"], "from_unit_id": p.town.unit_id}
            changed = await colleague.next_of(STATS_CHANGED, timeout=5)
            assert changed["data"]["counters"]["routing"] == -1
            # the county above hears of the counters, but it does not staff the street's queue
            seen = await county.drain()
            assert [f["type"] for f in seen if f["type"] == DEQUEUED] == []
            assert any(f["type"] == STATS_CHANGED for f in seen)
            dequeued = [e for e in captured_events if e.type == DEQUEUED]
            assert len(dequeued) == 1 and set(dequeued[0].user_ids) == {
                p.town.user_id,
                town_colleague.user_id,
            }
        finally:
            await colleague.close()
            await county.close()

    async def test_queue_is_paged_with_a_total_and_scoped(
        self, sender: Sender, client, personas: Personas, sanya_command: Staff
    ):
        from tests.helpers import assert_list_scope_trio

        p = personas
        ids = [(await sender.one(registration(destination=STREET_ONLY))).json()["id"] for _ in range(3)]
        first = (
            await client.get("/api/returnees/routing-queue", params={"page_size": 2}, headers=p.town.headers)
        ).json()
        second = (
            await client.get(
                "/api/returnees/routing-queue", params={"page_size": 2, "page": 2}, headers=p.town.headers
            )
        ).json()
        assert first["total"] == second["total"] >= 3 and len(first["items"]) == 2
        assert not {x["id"] for x in first["items"]} & {x["id"] for x in second["items"]}
        assert [x["id"] for x in first["items"]] == sorted(ids, reverse=True)[:2]  # newest first
        everything = (
            await client.get(
                "/api/returnees/routing-queue", params={"page_size": 200}, headers=p.town.headers
            )
        ).json()
        assert len(everything["items"]) == min(everything["total"], 200)
        await assert_list_scope_trio(
            client,
            "/api/returnees/routing-queue?page_size=200",
            ids[0],
            sees=p.haikou,
            blind=sanya_command,
            outsider=p.grid1,
            items_key="items",
        )


class TestEventPayloads:
    async def test_anomaly_resolved_carries_what_reported_carries(
        self, sender: Sender, client, personas: Personas, captured_events
    ):
        p = personas
        rid = await arrive(sender)
        anomaly = (
            await client.post(
                f"/api/returnees/{rid}/anomalies",
                headers=p.grid1.headers,
                json={"kind": "left", "description": "外出未归"},
            )
        ).json()
        await client.post(
            f"/api/returnees/anomalies/{anomaly['id']}/resolve",
            headers=p.town.headers,
            json={"resolution": "已联系返回"},
        )
        reported = next(e for e in captured_events if e.type == "returnees.anomaly.reported")
        resolved = next(e for e in captured_events if e.type == "returnees.anomaly.resolved")
        assert set(reported.payload) == set(resolved.payload)
        for key in ("returnee_id", "returnee_name_masked", "unit_id", "unit_name", "kind_label"):
            assert resolved.payload[key] == reported.payload[key] and resolved.payload[key]
        assert resolved.payload["unit_name"] == p.grid1.unit_name
        assert resolved.payload["status"] == "resolved" and resolved.payload["resolution"] == "已联系返回"
        assert p.town.user_id in resolved.user_ids and p.grid1.user_id in resolved.user_ids

    async def test_every_returnee_event_has_its_shape_and_no_personal_data(
        self, sender: Sender, client, personas: Personas, captured_events
    ):
        p = personas
        item = registration()
        rid = (await sender.one(item)).json()["id"]
        queued = (await sender.one(registration(destination=STREET_ONLY))).json()["id"]
        await client.post(f"/api/returnees/{rid}/acknowledge", headers=p.grid1.headers)
        anomaly = (
            await client.post(
                f"/api/returnees/{rid}/anomalies", headers=p.grid1.headers, json={"kind": "unreachable"}
            )
        ).json()
        await client.post(
            f"/api/returnees/anomalies/{anomaly['id']}/resolve",
            headers=p.town.headers,
            json={"resolution": "已联系上"},
        )
        await client.post(
            f"/api/returnees/{rid}/reassign", headers=p.town.headers, json={"village_id": p.grid2.unit_id}
        )
        await client.post(
            f"/api/returnees/{queued}/route", headers=p.town.headers, json={"village_id": p.grid1.unit_id}
        )
        events = [e for e in captured_events if e.type.startswith("returnees.")]
        seen = {e.type for e in events}
        assert {
            "returnees.returnee.dispatched",
            "returnees.returnee.queued",
            "returnees.returnee.updated",
            "returnees.returnee.withdrawn",
            "returnees.returnee.dequeued",
            "returnees.anomaly.reported",
            "returnees.anomaly.resolved",
            STATS_CHANGED,
        } <= seen
        listed = (await client.get("/api/returnees", headers=p.grid2.headers)).json()["items"]
        item_keys = set(next(x for x in listed if x["id"] == rid))
        shapes = {
            "returnees.returnee.dispatched": "item",
            "returnees.returnee.queued": "item",
            "returnees.returnee.updated": "item",
            "returnees.returnee.escalated": "item",
            "returnees.returnee.withdrawn": {"id", "unit_id", "from_unit_id"},
            DEQUEUED: {"id", "from_unit_id"},
            STATS_CHANGED: {"unit_id", "counters", "days", "paths"},
        }
        anomaly_keys = None
        for e in events:
            text = orjson.dumps(e.payload).decode()
            for secret in (item["name"], item["id_number"], item["phone"]):
                assert secret not in text, (e.type, secret)
            shape = shapes.get(e.type)
            if shape == "item":
                assert set(e.payload) - {"reason"} == item_keys, e.type  # the list item (escalated: + reason)
            elif shape is not None:
                assert set(e.payload) == shape, e.type
            elif e.type.startswith("returnees.anomaly."):
                anomaly_keys = anomaly_keys or set(e.payload)
                assert (
                    set(e.payload) == anomaly_keys
                    and {"returnee_id", "returnee_name_masked", "unit_id", "unit_name"} <= anomaly_keys
                )
        assert anomaly_keys is not None
