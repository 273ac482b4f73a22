"""A batch travels province → city → county → town → village → grid worker, is replied,
reviewed up the chain and closed; each level sees exactly its subtree; the history keeps
every hop; statistics follow from the summary cells."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.helpers import assert_list_scope_trio, assert_scope_trio
from tests.verification.support import batch_tasks, dispatch, import_rows, new_id_number
from zhengding.verification.models import StatCell

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100


def village_clue(persona) -> str:
    return f"海口市秀英区秀英街道{persona.unit_name}3队"


class TestBatchTravelsDownAndBack:
    async def test_full_chain(self, client, personas, captured_events):
        p = personas
        ids = [new_id_number() for _ in range(3)]
        result = await import_rows(
            client,
            p.province,
            [
                ["张三", ids[0], "13912345678", village_clue(p.grid1), "公安推送", ""],
                ["李四", ids[1], "", village_clue(p.grid1), "", ""],
                ["王五", ids[2], "", "火星基地", "", "线索不明"],
            ],
        )
        assert (result["accepted"], result["rejected"], result["routed"], result["unrouted"]) == (3, 0, 2, 1)
        batch_id = result["batch_id"]
        tasks = await batch_tasks(client, p.province, batch_id)
        routed = [t for t in tasks if t["status"] == "dispatched"]
        queue = [t for t in tasks if t["status"] == "pending"]
        assert len(routed) == 2 and len(queue) == 1
        assert {t["owner_unit_name"] for t in routed} == {"海口市"}
        assert all("*" in t["id_number_masked"] for t in tasks)
        task_id = routed[0]["id"]

        # The city sees the routed tasks, not the province's manual queue; the county nothing yet.
        seen = {t["id"] for t in await batch_tasks(client, p.haikou, batch_id)}
        assert seen == {t["id"] for t in routed}
        assert await batch_tasks(client, p.xiuying, batch_id) == []

        # city → county → town → (by clue) village → grid worker
        haikou_to = await dispatch(
            client, p.haikou, task_ids=[t["id"] for t in routed], unit_id=p.xiuying.unit_id
        )
        assert haikou_to["dispatched"] == 2
        await dispatch(client, p.xiuying, batch_id=batch_id, unit_id=p.town.unit_id)
        by_clue = await dispatch(client, p.town, batch_id=batch_id, by_clue=True)
        assert by_clue["dispatched"] == 2
        assert {t["owner_unit_name"] for t in await batch_tasks(client, p.town, batch_id)} == {
            p.grid1.unit_name
        }
        # The county cannot dispatch upward or sideways out of the holder's subtree.
        sideways = await dispatch(client, p.town, task_ids=[task_id], unit_id=p.grid2.unit_id)
        assert sideways["dispatched"] == 0 and sideways["skipped"][0]["reason"]
        await dispatch(
            client,
            p.town,
            task_ids=[task_id],
            unit_id=p.grid1.unit_id,
            user_id=p.grid1.user_id,
            deadline="2099-01-01T00:00:00+08:00",
        )

        # Each level sees exactly its subtree: the sibling village and an outsider do not.
        await assert_scope_trio(
            client, f"/api/verification/tasks/{task_id}", sees=p.town, blind=p.grid2, outsider=p.outsider
        )
        await assert_list_scope_trio(
            client,
            f"/api/verification/tasks?batch_id={batch_id}",
            task_id,
            sees=p.grid1,
            blind=p.grid2,
            outsider=p.outsider,
            items_key="items",
        )
        mine = (await client.get("/api/verification/tasks?mine=true", headers=p.grid1.headers)).json()[
            "items"
        ]
        assert task_id in {t["id"] for t in mine}

        # Reply with a photo; only the assignee may reply.
        photo = await client.post(
            f"/api/verification/tasks/{task_id}/photos",
            files={"file": ("p.jpg", JPEG, "image/jpeg")},
            headers=p.grid1.headers,
        )
        assert photo.status_code == 200, photo.text
        body = {
            "found": True,
            "location": "秀英街道向荣村3队12号",
            "contact": "13912345678",
            "health_status": "正常",
            "measure": "居家健康监测",
            "note": "已见到本人",
            "photo_ids": [photo.json()["id"]],
        }
        refused = await client.post(
            f"/api/verification/tasks/{task_id}/reply", json=body, headers=p.grid2.headers
        )
        assert refused.status_code == 404
        ok = await client.post(f"/api/verification/tasks/{task_id}/reply", json=body, headers=p.grid1.headers)
        assert ok.status_code == 200, ok.text
        got = await client.get(f"/api/verification/photos/{photo.json()['id']}", headers=p.haikou.headers)
        assert got.status_code == 200 and got.content == JPEG

        # Review climbs the chain: returned once, replied again, then accepted level by level.
        back = await client.post(
            f"/api/verification/tasks/{task_id}/review",
            json={"accept": False, "reason": "照片不清楚"},
            headers=p.town.headers,
        )
        assert back.status_code == 200 and back.json()["status"] == "in_progress"
        body["photo_ids"] = []
        assert (
            await client.post(f"/api/verification/tasks/{task_id}/reply", json=body, headers=p.grid1.headers)
        ).status_code == 200
        for reviewer in (p.town, p.xiuying, p.haikou):
            queue_r = await client.get("/api/verification/tasks?review=true", headers=reviewer.headers)
            assert task_id in {t["id"] for t in queue_r.json()["items"]}, reviewer.username
            r = await client.post(
                f"/api/verification/tasks/{task_id}/review", json={"accept": True}, headers=reviewer.headers
            )
            assert r.status_code == 200 and r.json()["status"] == "replied", r.text
        # The grid worker cannot review; the province closes.
        assert (
            await client.post(
                f"/api/verification/tasks/{task_id}/review", json={"accept": True}, headers=p.grid1.headers
            )
        ).status_code == 403
        r = await client.post(
            f"/api/verification/tasks/{task_id}/review", json={"accept": True}, headers=p.province.headers
        )
        assert r.json()["status"] == "closed"

        detail = (await client.get(f"/api/verification/tasks/{task_id}", headers=p.province.headers)).json()
        kinds = [h["kind"] for h in detail["history"]]
        assert kinds == [
            "created",
            "routed",
            "dispatched",
            "dispatched",
            "dispatched",
            "assigned",
            "replied",
            "reply_returned",
            "replied",
            "reply_accepted",
            "reply_accepted",
            "reply_accepted",
            "reply_accepted",
            "closed",
        ]
        assert detail["history"][0]["actor_name"] == p.province.name
        assert detail["history"][5]["to_user_name"] == p.grid1.name
        assert [c["id"] for c in detail["chain"]] == [
            p.province.unit_id,
            routed[0]["owner_unit_id"],
            p.xiuying.unit_id,
            p.town.unit_id,
            p.grid1.unit_id,
        ]
        assert detail["replies"][0]["status"] == "returned" and detail["replies"][1]["status"] == "accepted"
        assert detail["replies"][1]["contact_masked"] == "139****5678"

        # Statistics from the cells: province → Haikou row; drill-down to the village.
        stats = (
            await client.get(f"/api/verification/stats?batch_id={batch_id}", headers=p.province.headers)
        ).json()
        assert stats["unit"]["total"] == 3 and stats["unit"]["closed"] == 1 and stats["unit"]["pending"] == 1
        haikou = next(c for c in stats["children"] if c["name"] == "海口市")
        assert (haikou["total"], haikou["closed"], haikou["dispatched"]) == (2, 1, 1)
        assert haikou["completion_rate"] == 0.5 and haikou["median_reply_hours"] is not None
        village = (
            await client.get(
                f"/api/verification/stats?batch_id={batch_id}&unit_id={p.town.unit_id}",
                headers=p.town.headers,
            )
        ).json()
        assert next(c for c in village["children"] if c["id"] == p.grid1.unit_id)["total"] == 2
        # Out of scope for drill-down: 404.
        assert (
            await client.get(f"/api/verification/stats?unit_id={p.province.unit_id}", headers=p.town.headers)
        ).status_code == 404
        batches = (await client.get("/api/verification/stats/batches", headers=p.province.headers)).json()
        assert any(b["batch_id"] == batch_id and b["total"] == 3 for b in batches)
        types = {e.type for e in captured_events}
        assert {
            "verification.tasks.received",
            "verification.task.dispatched",
            "verification.task.closed",
        } <= types

    async def test_cells_match_a_recount(self, db, client, personas):
        """The summary cells agree with a GROUP BY over the tasks (for every unit's subtree)."""
        from zhengding.verification.models import VerificationTask

        async with db.unit_of_work(readonly=True) as s:
            cells = dict(
                (
                    await s.execute(
                        select(StatCell.unit_id, func.sum(StatCell.total))
                        .where(StatCell.unit_id == personas.province.unit_id)
                        .group_by(StatCell.unit_id)
                    )
                ).all()
            )
            total = (await s.execute(select(func.count()).select_from(VerificationTask))).scalar_one()
        assert cells.get(personas.province.unit_id, 0) == total


class TestOverdue:
    async def test_job_marks_overdue_and_counts_it(self, db, client, personas, clock):
        from zhengding.verification.jobs import mark_overdue

        p = personas
        deadline = (clock.now() + timedelta(minutes=10)).isoformat()
        result = await import_rows(
            client,
            p.province,
            [["赵六", new_id_number(), "", village_clue(p.grid1), "", ""]],
            deadline=deadline,
        )
        batch_id = result["batch_id"]
        before = (
            await client.get(f"/api/verification/stats?batch_id={batch_id}", headers=p.province.headers)
        ).json()
        assert before["unit"]["overdue"] == 0
        clock.advance(minutes=11)  # sessions stay alive (30 minutes idle)
        async with db.unit_of_work() as s:
            assert await mark_overdue(s) >= 1
        async with db.unit_of_work() as s:
            await mark_overdue(s)  # idempotent
        after = (
            await client.get(f"/api/verification/stats?batch_id={batch_id}", headers=p.province.headers)
        ).json()
        assert after["unit"]["overdue"] == 1
        assert next(c for c in after["children"] if c["name"] == "海口市")["overdue"] == 1
