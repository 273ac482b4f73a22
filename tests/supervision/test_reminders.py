"""Reminders before the deadline, urge, SMS after the unread delay, overdue escalation, recurring
requests — with the clock moved."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import Personas
from tests.supervision.support import create, fresh, notifications, sms_users, sweep
from zhengding.core import jobs, outbox
from zhengding.core.clock import SHANGHAI, now
from zhengding.core.db import get_db
from zhengding.notify.service import inbox
from zhengding.supervision import jobs as supervision_jobs
from zhengding.supervision.models import SupervisionItem
from zhengding.supervision.service import recurring


async def read_all(user_id: str, item_id: str) -> None:
    async with get_db().unit_of_work() as session:
        await inbox.mark_read_internal(session, user_id, await notifications(user_id, item_id))


class TestReminders:
    async def test_24h_and_2h_reminders_then_overdue_escalation(
        self, db, client, personas: Personas, clock, captured_events
    ):
        p = personas
        deadline = now() + timedelta(days=3)
        item = await create(
            client,
            p.haikou,
            [{"unit_id": p.town.unit_id, "lead": True}, {"user_id": p.grid1.user_id}],
            deadline=deadline,
        )
        iid = item["id"]
        town_owner = next(o["id"] for o in item["owners"] if o["kind"] == "unit")
        await sweep()
        assert not await notifications(p.town.user_id, iid, "supervision.reminder")
        clock.advance(deadline - now() - timedelta(hours=23))  # 23 h before the deadline
        await sweep()
        assert len(await notifications(p.town.user_id, iid, "supervision.reminder")) == 1
        assert len(await notifications(p.grid1.user_id, iid, "supervision.reminder")) == 1
        await sweep()  # idempotent
        assert len(await notifications(p.town.user_id, iid, "supervision.reminder")) == 1
        # the town finishes; the 2 h reminder reaches only the unfinished owner
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=await fresh(client, p.town),
            json={"owner_id": town_owner, "text": "已办结", "final": True},
        )
        assert r.status_code == 200
        clock.advance(hours=22)  # 1 h before
        await sweep()
        assert len(await notifications(p.town.user_id, iid, "supervision.reminder")) == 1
        assert len(await notifications(p.grid1.user_id, iid, "supervision.reminder")) == 2
        # past the deadline: flagged once, red on the board, escalated to the unit's leader
        clock.advance(hours=2)
        result = await sweep()
        assert result["overdue"] >= 1
        assert len(await notifications(p.grid1.user_id, iid, "supervision.overdue")) == 1
        assert await notifications(p.haikou.user_id, iid, "supervision.overdue")
        await sweep()
        assert len(await notifications(p.grid1.user_id, iid, "supervision.overdue")) == 1
        haikou = await fresh(client, p.haikou)
        board = (
            await client.get(
                "/api/supervision/items", params={"overdue": "true", "page_size": 100}, headers=haikou
            )
        ).json()
        row = next(i for i in board["items"] if i["id"] == iid)
        assert row["overdue"] and board["counts"]["overdue"] >= 1
        grid_row = next(o for o in row["owners"] if o["kind"] == "user")
        assert grid_row["overdue"] and grid_row["overdue_at"]
        assert not next(o for o in row["owners"] if o["kind"] == "unit")["overdue"]  # submitted in time
        assert any(
            e.type == "supervision.item.overdue" and e.payload["item_id"] == iid for e in captured_events
        )
        # grid1's unit (a village) has no leader kept: its role holders other than grid1 (none in the
        # standard tree) — so the fallback adds nobody; with a leader kept, the leader is told
        # statistics count one overdue owner
        stats = (
            await client.get(
                "/api/supervision/stats",
                headers=haikou,
                params={
                    "unit_id": p.haikou.unit_id,
                    "start": (now() - timedelta(days=3)).date().isoformat(),
                    "end": (now() + timedelta(days=1)).date().isoformat(),
                },
            )
        ).json()
        assert stats["unit"]["overdue"] >= 1

    async def test_escalation_reaches_the_kept_leader_and_sms_after_unread_delay(
        self, db, client, personas: Personas, clock
    ):
        p = personas
        r = await client.post(
            "/api/supervision/leaders",
            headers=p.xiuying.headers,
            json={"unit_id": p.town.unit_id, "user_id": p.xiuying.user_id},
        )
        assert r.status_code in (201, 409), r.text
        leaders = (
            await client.get(
                "/api/supervision/leaders", params={"unit_id": p.town.unit_id}, headers=p.xiuying.headers
            )
        ).json()
        assert p.xiuying.user_id in [x["user_id"] for x in leaders]
        deadline = now() + timedelta(hours=1)
        item = await create(
            client,
            p.haikou,
            [{"unit_id": p.town.unit_id}],
            deadline=deadline,
            remind_before_minutes=[30],
            sms_after_minutes=20,
        )
        iid = item["id"]
        clock.advance(hours=1, minutes=1)
        await sweep()
        escalated = await notifications(p.xiuying.user_id, iid, "supervision.escalated")
        assert len(escalated) == 1
        # the town reads its overdue notice; the leader does not: only the leader gets an SMS,
        # and only after the unread delay
        await read_all(p.town.user_id, iid)
        clock.advance(minutes=10)
        await outbox.drain(db)
        assert await sms_users(iid) == []
        clock.advance(minutes=11)
        await outbox.drain(db)
        sms = await sms_users(iid)
        assert p.xiuying.user_id in sms and p.town.user_id not in sms
        r = await client.delete(
            f"/api/supervision/leaders/{p.town.unit_id}/{p.xiuying.user_id}",
            headers=await fresh(client, p.xiuying),
        )
        assert r.status_code == 200 and r.json() == []


class TestUrge:
    async def test_urge_reaches_only_unfinished_owners_and_sms_only_after_delay(
        self, db, client, personas: Personas, clock
    ):
        p = personas
        item = await create(
            client,
            p.haikou,
            [{"user_id": p.grid1.user_id}, {"user_id": p.grid2.user_id}, {"unit_id": p.town.unit_id}],
            sms_after_minutes=15,
        )
        iid = item["id"]
        grid2_owner = next(o["id"] for o in item["owners"] if o["user_id"] == p.grid2.user_id)
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.grid2.headers,
            json={"owner_id": grid2_owner, "text": "已完成", "final": True},
        )
        assert r.status_code == 200
        r = await client.post(
            f"/api/supervision/items/{iid}/urge",
            headers=p.haikou.headers,
            json={"message": "请今天下班前报送"},
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["urged_owner_ids"]) == 2
        assert len(await notifications(p.grid1.user_id, iid, "supervision.urged")) == 1
        assert len(await notifications(p.town.user_id, iid, "supervision.urged")) == 1
        assert not await notifications(p.grid2.user_id, iid, "supervision.urged")
        # urging again at once is refused
        again = await client.post(f"/api/supervision/items/{iid}/urge", headers=p.haikou.headers, json={})
        assert again.status_code == 429
        # grid1 reads it; town does not → SMS to town only, after the delay
        await read_all(p.grid1.user_id, iid)
        clock.advance(minutes=5)
        await outbox.drain(db)
        assert await sms_users(iid) == []
        clock.advance(minutes=11)
        await outbox.drain(db)
        sms = await sms_users(iid)
        assert p.town.user_id in sms and p.grid1.user_id not in sms and p.grid2.user_id not in sms
        detail = (
            await client.get(f"/api/supervision/items/{iid}", headers=await fresh(client, p.haikou))
        ).json()
        assert sum(o["urge_count"] for o in detail["owners"]) == 2
        assert [h for h in detail["history"] if h["kind"] == "urged"]


class TestScheduledSweep:
    async def test_the_sweep_runs_as_a_scheduled_job(self, db, client, personas: Personas, clock):
        p = personas
        assert supervision_jobs.SWEEP in jobs.schedules()
        deadline = now() + timedelta(days=5, minutes=7)
        item = await create(client, p.haikou, [{"user_id": p.grid2.user_id}], deadline=deadline)
        clock.advance(deadline - now() + timedelta(minutes=3))
        await outbox.drain(db)
        assert await notifications(p.grid2.user_id, item["id"], "supervision.overdue")


class TestRecurring:
    async def test_daily_report_creates_an_instance_per_period_and_flags_missed(
        self, db, client, personas: Personas, clock
    ):
        p = personas
        # start at 08:00 local tomorrow, so that today's 17:00 deadline is ahead
        local_now = now().astimezone(SHANGHAI)
        start = (local_now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        clock.advance(start - local_now)
        body = {
            "title": "疫情防控日报",
            "content": "每日17:00前报送",
            "owners": [{"unit_id": p.town.unit_id}, {"unit_id": p.xiuying.unit_id}],
            "recurrence": "daily",
            "due_time": "17:00",
        }
        haikou, town = await fresh(client, p.haikou), await fresh(client, p.town)
        r = await client.post("/api/supervision/items", json=body, headers=haikou)
        assert r.status_code == 201, r.text
        template = r.json()
        assert template["status"] == "recurring" and template["deadline"] is None
        assert len(template["instances"]) == 1
        first = template["instances"][0]
        assert first["period_key"] == start.date().isoformat()
        assert len(first["owners"]) == 2
        # the town reports today's; no review needed for a recurring report
        town_owner = next(o["id"] for o in first["owners"] if o["unit_id"] == p.town.unit_id)
        r = await client.post(
            f"/api/supervision/items/{first['id']}/progress",
            headers=town,
            json={"owner_id": town_owner, "text": "今日新增0例", "final": True},
        )
        assert r.status_code == 200 and r.json()["status"] == "accepted"
        # the county misses it
        clock.advance(hours=9, minutes=5)  # 17:05
        await sweep()
        haikou = await fresh(client, p.haikou)
        detail = (await client.get(f"/api/supervision/items/{template['id']}", headers=haikou)).json()
        inst = detail["instances"][0]
        county = next(o for o in inst["owners"] if o["unit_id"] == p.xiuying.unit_id)
        town = next(o for o in inst["owners"] if o["unit_id"] == p.town.unit_id)
        assert county["missed"] and not town["missed"]
        assert await notifications(p.xiuying.user_id, first["id"], "supervision.overdue")
        # the next day creates the next instance, once
        clock.advance(hours=8)  # 01:05 next day
        await sweep()
        await sweep()
        async with db.unit_of_work(readonly=True) as session:
            keys = (
                await session.scalars(
                    select(SupervisionItem.period_key).where(SupervisionItem.template_id == template["id"])
                )
            ).all()
        assert sorted(keys) == [start.date().isoformat(), (start + timedelta(days=1)).date().isoformat()]
        haikou, town = await fresh(client, p.haikou), await fresh(client, p.town)
        todos = (await client.get("/api/supervision/todos", headers=town)).json()
        assert any(i["template_id"] == template["id"] for i in todos["items"])
        # stopping the request ends new instances
        r = await client.post(f"/api/supervision/items/{template['id']}/stop", headers=haikou)
        assert r.status_code == 200 and r.json()["status"] == "stopped"
        clock.advance(days=1)
        await sweep()
        async with db.unit_of_work(readonly=True) as session:
            n = len(
                (
                    await session.scalars(
                        select(SupervisionItem.id).where(SupervisionItem.template_id == template["id"])
                    )
                ).all()
            )
        assert n == 2
        board = (
            await client.get(
                "/api/supervision/items", params={"recurring": "true"}, headers=await fresh(client, p.haikou)
            )
        ).json()
        assert template["id"] in {i["id"] for i in board["items"]}

    async def test_weekly_period_and_deadline(self, personas: Personas):
        template = SupervisionItem(recurrence="weekly", due_time="12:00", weekday=5)
        from datetime import UTC, datetime

        key, deadline, label = recurring.period_of(template, datetime(2026, 1, 6, 3, tzinfo=UTC))  # a Tuesday
        assert key == "2026-W02" and "第2周" in label
        assert deadline == datetime(2026, 1, 9, 4, tzinfo=UTC)  # Friday 12:00 in Asia/Shanghai
