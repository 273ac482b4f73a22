"""Grid worker's flow, anomalies, manual routing and reassignment, overdue sweep, statistics."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import Personas, login
from tests.realtime.support import WsClient
from tests.returnees.conftest import Sender, registration
from zhengding.core.clock import now
from zhengding.demo import DEMO_PASSWORD
from zhengding.notify.models import Ding, DingRecipient, Notification
from zhengding.returnees.models import Returnee
from zhengding.returnees.service.overdue import sweep_overdue

ENROL = {
    "identity_confirmed": True,
    "actual_address": "秀华社区5栋302",
    "contact_phone": "13912345678",
    "household_size": 3,
    "monitoring_plan": "home",
}


async def arrive(sender: Sender, **kw) -> str:
    r = await sender.one(registration(**kw))
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def fresh_headers(client, persona) -> dict[str, str]:
    """After the clock moved by hours, the session fixtures' tokens have expired: log in again."""
    return {"Authorization": f"Bearer {await login(client, persona.username, DEMO_PASSWORD)}"}


async def load(db, rid: str) -> Returnee:
    async with db.unit_of_work(readonly=True) as session:
        r = (await session.execute(select(Returnee).where(Returnee.id == rid))).scalar_one()
        session.expunge(r)  # keep the loaded values past the read-only session's rollback
        return r


async def stats(client, persona, unit_id: str | None = None) -> dict:
    r = await client.get(
        "/api/returnees/stats", params={"unit_id": unit_id} if unit_id else {}, headers=persona.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


class TestGridWorkerFlow:
    async def test_acknowledge_enrol_check_in_release(
        self, sender: Sender, client, personas: Personas, clock, db
    ):
        rid = await arrive(sender)
        g = personas.grid1.headers
        ack = await client.post(f"/api/returnees/{rid}/acknowledge", headers=g)
        assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
        assert (await client.post(f"/api/returnees/{rid}/acknowledge", headers=g)).status_code == 200
        refused = await client.post(f"/api/returnees/{rid}/acknowledge", headers=personas.grid2.headers)
        assert refused.status_code == 404
        bad = await client.post(
            f"/api/returnees/{rid}/enrol", headers=g, json={**ENROL, "identity_confirmed": False}
        )
        assert bad.status_code == 422
        enrolled = await client.post(f"/api/returnees/{rid}/enrol", headers=g, json=ENROL)
        assert enrolled.status_code == 200 and enrolled.json()["status"] == "monitoring"
        first = await client.post(
            f"/api/returnees/{rid}/check-ins",
            headers=g,
            json={"temperature": 36.6, "symptoms": [], "note": "居家"},
        )
        assert first.status_code == 201
        again = await client.post(f"/api/returnees/{rid}/check-ins", headers=g, json={"temperature": 36.5})
        assert again.status_code == 409
        early = await client.post(f"/api/returnees/{rid}/release", headers=g, json={})
        assert early.status_code == 409 and "监测期未满" in early.json()["error"]["message"]
        clock.advance(days=14, minutes=1)
        g = await fresh_headers(client, personas.grid1)
        released = await client.post(f"/api/returnees/{rid}/release", headers=g, json={"note": "期满解除"})
        assert released.status_code == 200 and released.json()["status"] == "released"
        detail = (await client.get(f"/api/returnees/{rid}", headers=g)).json()
        assert [h["kind"] for h in detail["history"]] == [
            "dispatched",
            "acknowledged",
            "enrolled",
            "checked_in",
            "released",
        ]
        assert (
            detail["contact_phone_masked"] == "139****5678" and detail["check_ins"][0]["temperature"] == 36.6
        )

    async def test_monitoring_days_configurable(self, sender: Sender, client, personas: Personas, configure):
        configure(returnees_monitoring_days=7)
        rid = await arrive(sender)
        body = (
            await client.post(f"/api/returnees/{rid}/enrol", headers=personas.grid1.headers, json=ENROL)
        ).json()
        r = (await client.get(f"/api/returnees/{rid}", headers=personas.grid1.headers)).json()
        assert r["monitoring_days"] == 7 and body["monitoring_until"]


class TestAnomaly:
    async def test_report_dings_town_and_county_live_and_is_tracked_to_resolution(
        self, sender: Sender, client, personas: Personas, live_server, db
    ):
        town_ws = await WsClient.connect(live_server.ws_url(personas.town.token))
        county_ws = await WsClient.connect(live_server.ws_url(personas.xiuying.token))
        rid = await arrive(sender)
        await client.post(f"/api/returnees/{rid}/enrol", headers=personas.grid1.headers, json=ENROL)
        r = await client.post(
            f"/api/returnees/{rid}/anomalies",
            headers=personas.grid1.headers,
            json={"kind": "fever", "description": "体温38.5℃，已联系卫生院"},
        )
        assert r.status_code == 201, r.text
        anomaly = r.json()
        for ws in (town_ws, county_ws):
            ding = await ws.next_of("notify.ding.received", timeout=5)
            assert ding["data"]["ding_id"] == anomaly["ding_id"] and "发热" in ding["data"]["content"]
            live = await ws.next_of("returnees.anomaly.reported", timeout=5)
            assert live["data"]["id"] == anomaly["id"]
        async with db.unit_of_work(readonly=True) as session:
            recipients = set(
                (
                    await session.execute(
                        select(DingRecipient.user_id).where(DingRecipient.ding_id == anomaly["ding_id"])
                    )
                ).scalars()
            )
            sender_id = (await session.get(Ding, anomaly["ding_id"])).sender_id
        assert {personas.town.user_id, personas.xiuying.user_id} <= recipients
        assert personas.haikou.user_id not in recipients and personas.grid2.user_id not in recipients
        assert sender_id == personas.grid1.user_id
        listed = (await client.get("/api/returnees/anomalies", headers=personas.town.headers)).json()
        assert anomaly["id"] in [a["id"] for a in listed]
        assert (
            await client.post(
                f"/api/returnees/anomalies/{anomaly['id']}/resolve",
                headers=personas.grid1.headers,
                json={"resolution": "已送医"},
            )
        ).status_code == 403
        done = await client.post(
            f"/api/returnees/anomalies/{anomaly['id']}/resolve",
            headers=personas.town.headers,
            json={"resolution": "已转运至定点医院，核酸阴性"},
        )
        assert done.status_code == 200 and done.json()["status"] == "resolved"
        detail = (await client.get(f"/api/returnees/{rid}", headers=personas.grid1.headers)).json()
        assert detail["open_anomalies"] == 0 and detail["anomalies"][0]["status"] == "resolved"
        await town_ws.close()
        await county_ws.close()


class TestRouting:
    async def test_unresolved_destination_waits_in_the_deepest_units_queue_and_staff_pick_the_village(
        self, sender: Sender, client, personas: Personas, captured_events
    ):
        body = (await sender.one(registration(destination="海口市秀英区秀英街道 具体地址到了再说"))).json()
        assert body["dispatch"] == "routing" and body["unit_id"] == personas.town.unit_id
        queued = [e for e in captured_events if e.type == "returnees.returnee.queued"]
        assert queued and personas.town.user_id in queued[0].user_ids
        assert personas.grid1.user_id not in queued[0].user_ids
        queue = (await client.get("/api/returnees/routing-queue", headers=personas.town.headers)).json()
        assert body["id"] in [x["id"] for x in queue["items"]] and queue["total"] >= 1
        mine = (await client.get("/api/returnees", headers=personas.grid1.headers)).json()["items"]
        assert body["id"] not in [x["id"] for x in mine]
        routed = await client.post(
            f"/api/returnees/{body['id']}/route",
            headers=personas.town.headers,
            json={"village_id": personas.grid1.unit_id},
        )
        assert routed.status_code == 200 and routed.json()["status"] == "dispatched"
        pushed = [e for e in captured_events if e.type == "returnees.returnee.dispatched"]
        assert personas.grid1.user_id in pushed[-1].user_ids
        assert (
            await client.get(f"/api/returnees/{body['id']}", headers=personas.grid1.headers)
        ).status_code == 200

    async def test_outside_the_province_goes_to_the_province_queue(
        self, sender: Sender, personas: Personas, db
    ):
        body = (await sender.one(registration(destination="广东省广州市天河区"))).json()
        assert body["dispatch"] == "routing" and body["resolved"]["code"] is None
        r = await load(db, body["id"])
        assert r.unit_path.count("/") == 2  # the province unit

    async def test_reassign_to_another_village_keeps_history(
        self, sender: Sender, client, personas: Personas, captured_events
    ):
        rid = await arrive(sender)
        await client.post(f"/api/returnees/{rid}/enrol", headers=personas.grid1.headers, json=ENROL)
        assert (
            await client.post(
                f"/api/returnees/{rid}/reassign",
                headers=personas.grid1.headers,
                json={"village_id": personas.grid2.unit_id},
            )
        ).status_code == 403
        moved = await client.post(
            f"/api/returnees/{rid}/reassign",
            headers=personas.town.headers,
            json={"village_id": personas.grid2.unit_id, "note": "搬家至秀海社区"},
        )
        assert moved.status_code == 200 and moved.json()["unit_id"] == personas.grid2.unit_id
        withdrawn = [e for e in captured_events if e.type == "returnees.returnee.withdrawn"]
        assert personas.grid1.user_id in withdrawn[-1].user_ids
        assert (await client.get(f"/api/returnees/{rid}", headers=personas.grid1.headers)).status_code == 404
        detail = (await client.get(f"/api/returnees/{rid}", headers=personas.grid2.headers)).json()
        assert detail["status"] == "monitoring"
        kinds = [h["kind"] for h in detail["history"]]
        assert (
            kinds == ["dispatched", "acknowledged", "enrolled", "reassigned"][:1] + kinds[1:]
            and "reassigned" in kinds
        )
        hop = next(h for h in detail["history"] if h["kind"] == "reassigned")
        assert hop["from_unit_id"] == personas.grid1.unit_id and hop["to_unit_id"] == personas.grid2.unit_id


class TestOverdue:
    async def test_unacknowledged_arrival_is_flagged_reminded_by_sms_and_escalated_to_the_town(
        self, sender: Sender, client, personas: Personas, clock, db
    ):
        import zhengding.notify.jobs  # noqa: F401  (the SMS escalation handler)
        from zhengding.core import outbox
        from zhengding.notify.models import SmsMessage

        rid = await arrive(sender)
        clock.advance(hours=1, minutes=59)
        async with db.unit_of_work() as session:
            assert rid not in (await sweep_overdue(session)).ack_flagged
        clock.advance(minutes=2)
        async with db.unit_of_work() as session:
            assert rid in (await sweep_overdue(session)).ack_flagged
        async with db.unit_of_work() as session:
            assert rid not in (await sweep_overdue(session)).ack_flagged  # once
        r = await load(db, rid)
        assert r.ack_overdue_at is not None
        async with db.unit_of_work(readonly=True) as session:
            kinds = (
                (
                    await session.execute(
                        select(Notification.user_id).where(
                            Notification.object_id == rid, Notification.kind == "returnees.overdue"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert personas.grid1.user_id in kinds and personas.grid2.user_id not in kinds
        clock.advance(minutes=31)
        await outbox.drain(db)
        async with db.unit_of_work(readonly=True) as session:
            sms = (
                (await session.execute(select(SmsMessage.user_id).where(SmsMessage.object_id == rid)))
                .scalars()
                .all()
            )
        assert personas.grid1.user_id in sms
        clock.advance(hours=2)
        async with db.unit_of_work() as session:
            assert rid in (await sweep_overdue(session)).ack_escalated
        async with db.unit_of_work(readonly=True) as session:
            town = (
                (
                    await session.execute(
                        select(Notification.user_id).where(
                            Notification.object_id == rid, Notification.kind == "returnees.escalated"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert personas.town.user_id in town
        g = await fresh_headers(client, personas.grid1)
        listed = (await client.get("/api/returnees", params={"overdue": "true"}, headers=g)).json()["items"]
        assert rid in [x["id"] for x in listed]
        await client.post(f"/api/returnees/{rid}/acknowledge", headers=g)
        assert (await load(db, rid)).ack_overdue_at is None

    async def test_missed_check_in_is_flagged_and_escalated_and_cleared_by_the_next_check_in(
        self, sender: Sender, client, personas: Personas, clock, db
    ):
        rid = await arrive(sender)
        await client.post(f"/api/returnees/{rid}/enrol", headers=personas.grid1.headers, json=ENROL)
        clock.advance(days=1)
        async with db.unit_of_work() as session:
            assert rid not in (await sweep_overdue(session)).check_in_flagged  # enrolment day is free
        clock.advance(days=1)
        async with db.unit_of_work() as session:
            assert rid in (await sweep_overdue(session)).check_in_flagged
        clock.advance(hours=2, minutes=1)
        async with db.unit_of_work() as session:
            assert rid in (await sweep_overdue(session)).check_in_escalated
        g = await fresh_headers(client, personas.grid1)
        assert (
            await client.post(f"/api/returnees/{rid}/check-ins", headers=g, json={"temperature": 36.4})
        ).status_code == 201
        r = await load(db, rid)
        assert r.checkin_overdue_at is None


class TestStats:
    async def test_counters_by_unit_subtree_port_origin_and_day(
        self, sender: Sender, client, personas: Personas
    ):
        before_town = await stats(client, personas.town)
        before_village = {c["id"]: c for c in before_town["children"]}[personas.grid1.unit_id]
        port = f"测试口岸{now().microsecond}"
        a = await arrive(sender, port_of_entry=port, origin_province="湖北省")
        await arrive(sender, port_of_entry=port)
        await client.post(f"/api/returnees/{a}/enrol", headers=personas.grid1.headers, json=ENROL)
        after_town = await stats(client, personas.town)
        village = {c["id"]: c for c in after_town["children"]}[personas.grid1.unit_id]
        assert village["arrivals"] - before_village["arrivals"] == 2
        assert village["enrolled"] - before_village["enrolled"] == 1
        assert village["in_monitoring"] - before_village["in_monitoring"] == 1
        assert after_town["total"]["arrivals"] - before_town["total"]["arrivals"] == 2
        ports = {p["port_of_entry"]: p for p in after_town["by_port"]}
        assert ports[port]["arrivals"] == 2 and ports[port]["enrolled"] == 1
        assert any(o["origin_province"] == "湖北省" for o in after_town["by_origin"])
        province = await stats(client, personas.province)
        assert (
            province["unit"]["level"] == 1
            and province["total"]["arrivals"] >= after_town["total"]["arrivals"]
        )
        assert (
            await client.get(
                "/api/returnees/stats",
                params={"unit_id": personas.grid2.unit_id},
                headers=personas.grid1.headers,
            )
        ).status_code == 403
        hidden = await client.get(
            "/api/returnees/stats",
            params={"unit_id": personas.grid1.unit_id},
            headers=personas.outsider.headers,
        )
        assert hidden.status_code == 403

    async def test_stats_table_matches_the_rows(self, client, personas: Personas, db):
        from sqlalchemy import func

        town = await stats(client, personas.town)
        async with db.unit_of_work(readonly=True) as session:
            path = (
                await session.execute(
                    select(Returnee.unit_path).where(Returnee.unit_id == personas.grid1.unit_id).limit(1)
                )
            ).scalar_one()
            town_path = path.rsplit("/", 2)[0] + "/"
            rows = (
                await session.execute(
                    select(func.count()).select_from(Returnee).where(Returnee.unit_path.startswith(town_path))
                )
            ).scalar_one()
            enrolled = (
                await session.execute(
                    select(func.count())
                    .select_from(Returnee)
                    .where(Returnee.unit_path.startswith(town_path), Returnee.enrolled_at.is_not(None))
                )
            ).scalar_one()
        assert town["total"]["arrivals"] == rows and town["total"]["enrolled"] == enrolled

    async def test_jobs_are_scheduled(self):
        import zhengding.returnees.jobs  # noqa: F401
        from zhengding.core import jobs

        try:
            assert {"returnees.overdue.sweep", "returnees.nonces.prune"} <= set(jobs.schedules())
        finally:
            jobs.unschedule("returnees.overdue.sweep")
            jobs.unschedule("returnees.nonces.prune")
