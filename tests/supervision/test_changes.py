"""The assigner changes a deadline (owners told, reminders rescheduled, statistics moved) or cancels
an item (owners told, closed as 已撤销, out of the on-time statistics); recurring requests catch up
on periods whose sweep did not run (server down) and flag them as 漏报."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import Personas
from tests.supervision.support import create, fresh, notifications, owner, sweep
from zhengding.audit.models import AuditEntry
from zhengding.core.clock import SHANGHAI, now
from zhengding.supervision.models import SupervisionItem
from zhengding.supervision.service import common, recurring


async def day_stats(client, headers, unit_id: str, first, last) -> dict[str, dict]:
    r = await client.get(
        "/api/supervision/stats",
        headers=headers,
        params={"unit_id": unit_id, "start": common.local_day(first), "end": common.local_day(last)},
    )
    assert r.status_code == 200, r.text
    return {d["day"]: d for d in r.json()["days"]} | {"unit": r.json()["unit"]}


async def audit_actions(db, item_id: str) -> list[str]:
    async with db.unit_of_work(readonly=True) as session:
        return list(
            (await session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == item_id))).all()
        )


class TestDeadlineChange:
    async def test_owners_told_reminders_rescheduled_stats_moved(
        self, db, client, personas: Personas, clock, captured_events
    ):
        p = personas
        old = now() + timedelta(days=1, hours=1)
        new = old + timedelta(days=4)
        item = await create(
            client,
            p.haikou,
            [{"unit_id": p.town.unit_id, "lead": True}, {"user_id": p.grid1.user_id}],
            deadline=old,
        )
        iid = item["id"]
        before = await day_stats(client, p.haikou.headers, p.haikou.unit_id, old, new)
        # the 24 h reminder goes out for the old deadline
        clock.advance(hours=2)
        await sweep()
        assert len(await notifications(p.grid1.user_id, iid, "supervision.reminder")) == 1
        haikou = await fresh(client, p.haikou)
        # owners may not change it; the new deadline must be ahead
        r = await client.post(
            f"/api/supervision/items/{iid}/deadline",
            headers=await fresh(client, p.grid1),
            json={"deadline": new.isoformat()},
        )
        assert r.status_code == 403
        r = await client.post(
            f"/api/supervision/items/{iid}/deadline",
            headers=haikou,
            json={"deadline": (now() - timedelta(minutes=1)).isoformat()},
        )
        assert r.status_code == 422
        r = await client.post(
            f"/api/supervision/items/{iid}/deadline",
            headers=haikou,
            json={"deadline": new.isoformat(), "reason": "市里统一延期"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["owners"] == 2
        assert await notifications(p.town.user_id, iid, "supervision.deadline_changed")
        assert await notifications(p.grid1.user_id, iid, "supervision.deadline_changed")
        assert any(
            e.type == "supervision.item.deadline_changed" and e.payload["item_id"] == iid
            for e in captured_events
        )
        assert "supervision.item.deadline_changed" in await audit_actions(db, iid)
        detail = (await client.get(f"/api/supervision/items/{iid}", headers=haikou)).json()
        assert detail["history"][-1]["kind"] == "deadline" and "市里统一延期" in detail["history"][-1]["text"]
        # statistics: the two owners are due on the new day, not on the old one
        after = await day_stats(client, haikou, p.haikou.unit_id, old, new)
        old_day, new_day = common.local_day(old), common.local_day(new)
        assert after[old_day]["due"] == before[old_day]["due"] - 2
        assert after[new_day]["due"] == before[new_day]["due"] + 2
        # past the old deadline: no overdue flag; the reminders restart from the new deadline
        clock.advance(days=1)
        await sweep()
        assert not await notifications(p.grid1.user_id, iid, "supervision.overdue")
        clock.advance(new - now() - timedelta(hours=23))
        await sweep()
        assert len(await notifications(p.grid1.user_id, iid, "supervision.reminder")) == 2
        clock.advance(hours=24)
        await sweep()
        assert len(await notifications(p.grid1.user_id, iid, "supervision.overdue")) == 1

    async def test_overdue_flag_lifted_when_extended(self, db, client, personas: Personas, clock):
        p = personas
        old = now() + timedelta(hours=3)
        item = await create(client, p.haikou, [{"user_id": p.grid1.user_id}], deadline=old)
        iid = item["id"]
        clock.advance(hours=4)
        await sweep()
        haikou = await fresh(client, p.haikou)
        overdue_before = (await day_stats(client, haikou, p.haikou.unit_id, old, old))["unit"]["overdue"]
        assert owner(
            (await client.get(f"/api/supervision/items/{iid}", headers=haikou)).json(), p.grid1.name
        )["overdue"]
        new = now() + timedelta(days=2)
        r = await client.post(
            f"/api/supervision/items/{iid}/deadline", headers=haikou, json={"deadline": new.isoformat()}
        )
        assert r.status_code == 200, r.text
        detail = (await client.get(f"/api/supervision/items/{iid}", headers=haikou)).json()
        o = owner(detail, p.grid1.name)
        assert not o["overdue"] and not o["missed"] and not detail["overdue"]
        assert (await day_stats(client, haikou, p.haikou.unit_id, old, old))["unit"][
            "overdue"
        ] == overdue_before - 1


class TestCancel:
    async def test_cancel_closes_as_revoked_tells_owners_and_leaves_statistics(
        self, db, client, personas: Personas, clock
    ):
        p = personas
        deadline = now() + timedelta(days=2)
        stats_before = (
            await day_stats(
                client, p.haikou.headers, p.haikou.unit_id, deadline - timedelta(days=1), deadline
            )
        )["unit"]
        item = await create(
            client,
            p.haikou,
            [{"unit_id": p.town.unit_id, "lead": True}, {"user_id": p.grid1.user_id}],
            deadline=deadline,
        )
        iid = item["id"]
        ids = {o["name"]: o["id"] for o in item["owners"]}
        # grid1 finishes and is accepted (on time); the town has split part of its work down
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.grid1.headers,
            json={"owner_id": ids[p.grid1.name], "text": "已办结", "final": True},
        )
        assert r.status_code == 200
        r = await client.post(
            f"/api/supervision/items/{iid}/review",
            headers=p.haikou.headers,
            json={"owner_id": ids[p.grid1.name], "decision": "accept"},
        )
        assert r.status_code == 200
        r = await client.post(
            f"/api/supervision/items/{iid}/split",
            headers=p.town.headers,
            json={
                "owner_id": ids[p.town.unit_name],
                "title": "分解：村级排查",
                "deadline": (deadline - timedelta(hours=5)).isoformat(),
                "owners": [{"user_id": p.grid2.user_id}],
            },
        )
        assert r.status_code == 201, r.text
        child_id = r.json()["id"]
        mid = (
            await day_stats(
                client, p.haikou.headers, p.haikou.unit_id, deadline - timedelta(days=1), deadline
            )
        )["unit"]
        # the two owners and the sub-item's owner
        assert mid["due"] == stats_before["due"] + 3 and mid["on_time"] == stats_before["on_time"] + 1
        # owners may not cancel; a reason is required
        r = await client.post(
            f"/api/supervision/items/{iid}/cancel", headers=p.town.headers, json={"reason": "x"}
        )
        assert r.status_code == 403
        r = await client.post(
            f"/api/supervision/items/{iid}/cancel", headers=p.haikou.headers, json={"reason": " "}
        )
        assert r.status_code == 422
        r = await client.post(
            f"/api/supervision/items/{iid}/cancel",
            headers=p.haikou.headers,
            json={"reason": "上级已另行部署"},
        )
        assert r.status_code == 200, r.text and r.json()["status"] == "cancelled"
        assert await notifications(p.town.user_id, iid, "supervision.cancelled")
        assert not await notifications(p.grid1.user_id, iid, "supervision.cancelled")  # already finished
        assert await notifications(p.grid2.user_id, child_id, "supervision.cancelled")  # the sub-item too
        assert "supervision.item.cancelled" in await audit_actions(db, iid)
        detail = (await client.get(f"/api/supervision/items/{iid}", headers=p.haikou.headers)).json()
        assert detail["status"] == "cancelled" and detail["closed_at"] and not detail["can_change"]
        assert owner(detail, p.town.unit_name)["status_label"] == "已撤销"
        assert detail["history"][-1]["kind"] == "cancelled"
        child = (await client.get(f"/api/supervision/items/{child_id}", headers=p.haikou.headers)).json()
        assert child["status"] == "cancelled"
        # excluded from the on-time statistics (neither due nor on time)
        after = (
            await day_stats(
                client, p.haikou.headers, p.haikou.unit_id, deadline - timedelta(days=1), deadline
            )
        )["unit"]
        assert (after["due"], after["on_time"]) == (stats_before["due"], stats_before["on_time"])
        # on the board as 已撤销, off the owners' open to-dos; no reminder, no overdue flag later
        board = (
            await client.get(
                "/api/supervision/items", params={"status": "cancelled"}, headers=p.haikou.headers
            )
        ).json()
        assert iid in {i["id"] for i in board["items"]} and board["counts"]["cancelled"] >= 1
        todos = (await client.get("/api/supervision/todos", headers=p.town.headers)).json()
        assert iid not in {i["id"] for i in todos["items"]}
        done = (
            await client.get("/api/supervision/todos", params={"done": "true"}, headers=p.town.headers)
        ).json()
        assert iid in {i["id"] for i in done["items"]}
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.town.headers,
            json={"owner_id": ids[p.town.unit_name], "text": "再报"},
        )
        assert r.status_code == 422
        r = await client.post(
            f"/api/supervision/items/{iid}/cancel", headers=p.haikou.headers, json={"reason": "再撤"}
        )
        assert r.status_code == 409
        clock.advance(days=3)
        await sweep()
        assert not await notifications(p.town.user_id, iid, "supervision.overdue")
        assert not await notifications(p.town.user_id, iid, "supervision.reminder")


class TestRecurringCatchUp:
    async def test_missed_periods_get_their_instances_flagged_once(
        self, db, client, personas: Personas, clock
    ):
        p = personas
        local_now = now().astimezone(SHANGHAI)
        start = (local_now + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
        clock.advance(start - local_now)
        body = {
            "title": "疫情防控日报",
            "owners": [{"unit_id": p.town.unit_id}],
            "recurrence": "daily",
            "due_time": "17:00",
        }
        r = await client.post("/api/supervision/items", json=body, headers=await fresh(client, p.haikou))
        assert r.status_code == 201, r.text
        template = r.json()
        assert [i["period_key"] for i in template["instances"]] == [start.date().isoformat()]
        # the server is down for several days: no sweep at all until the fourth day, 09:00
        clock.advance(days=3, hours=1)
        result = await sweep()
        days = [(start + timedelta(days=n)).date().isoformat() for n in range(4)]
        async with db.unit_of_work(readonly=True) as session:
            keys = sorted(
                (
                    await session.scalars(
                        select(SupervisionItem.period_key).where(
                            SupervisionItem.template_id == template["id"]
                        )
                    )
                ).all()
            )
        assert keys == days and result["instances"] == 3
        # every period whose deadline passed is flagged 漏报 (day 0 included), today's is still open
        haikou = await fresh(client, p.haikou)
        detail = (await client.get(f"/api/supervision/items/{template['id']}", headers=haikou)).json()
        missed = {i["period_key"]: i["owners"][0]["missed"] for i in detail["instances"]}
        assert missed == {days[0]: True, days[1]: True, days[2]: True, days[3]: False}
        overdue = [
            await notifications(p.town.user_id, i["id"], "supervision.overdue") for i in detail["instances"]
        ]
        assert [len(n) for n in overdue] == [0, 1, 1, 1]  # newest first
        # idempotent: sweeping again creates and flags nothing more
        again = await sweep()
        assert again["instances"] == 0 and again["overdue"] == 0
        async with db.unit_of_work(readonly=True) as session:
            n = len(
                (
                    await session.scalars(
                        select(SupervisionItem.id).where(SupervisionItem.template_id == template["id"])
                    )
                ).all()
            )
        assert n == 4

    async def test_weekly_catch_up_and_bound(self, personas: Personas):
        from datetime import UTC, datetime

        created = datetime(2026, 1, 5, 1, tzinfo=UTC)  # Monday 09:00 local
        template = SupervisionItem(recurrence="weekly", due_time="12:00", weekday=5, created_at=created)
        keys = [k for k, _, _ in recurring._periods(template, created + timedelta(days=22))]
        assert keys == ["2026-W02", "2026-W03", "2026-W04", "2026-W05"]
        daily = SupervisionItem(recurrence="daily", due_time="17:00", created_at=created)
        assert len(recurring._periods(daily, created + timedelta(days=400))) == recurring.CATCH_UP
