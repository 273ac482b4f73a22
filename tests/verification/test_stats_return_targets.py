"""Replied counts in every statistics view and the export; the live event of a returned reply;
the transfer-target picker beyond the holder's subtree; only active people are assignable."""

from __future__ import annotations

import io

from sqlalchemy import select, update

from tests.verification.support import batch_tasks, dispatch, import_rows, new_id_number
from zhengding.orgs.models import OrgUnit

REPLY = {
    "found": True,
    "location": "秀英街道3队12号",
    "contact": "",
    "health_status": "正常",
    "measure": "居家健康监测",
    "note": "已见到本人",
    "photo_ids": [],
}


async def _task_at_grid1(client, p) -> tuple[str, str]:
    """A task travelled province → city → county → town → village, assigned to grid1."""
    rows = [["回单", new_id_number(), "", f"海口市秀英区秀英街道{p.grid1.unit_name}", "", ""]]
    batch_id = (await import_rows(client, p.province, rows))["batch_id"]
    await dispatch(client, p.haikou, batch_id=batch_id, unit_id=p.xiuying.unit_id)
    await dispatch(client, p.xiuying, batch_id=batch_id, unit_id=p.town.unit_id)
    await dispatch(client, p.town, batch_id=batch_id, unit_id=p.grid1.unit_id, user_id=p.grid1.user_id)
    (task,) = await batch_tasks(client, p.grid1, batch_id)
    return batch_id, task["id"]


async def _reply(client, p, task_id: str) -> None:
    r = await client.post(f"/api/verification/tasks/{task_id}/reply", json=REPLY, headers=p.grid1.headers)
    assert r.status_code == 200, r.text


class TestRepliedCounted:
    async def test_replied_in_stats_batches_daily_and_export(self, client, personas):
        from python_calamine import CalamineWorkbook

        p = personas
        batch_id, task_id = await _task_at_grid1(client, p)
        await _reply(client, p, task_id)
        q = f"batch_id={batch_id}"
        stats = (await client.get(f"/api/verification/stats?{q}", headers=p.province.headers)).json()
        assert stats["unit"]["replied"] == 1 and stats["unit"]["open"] == 1
        haikou = next(c for c in stats["children"] if c["name"] == "海口市")
        assert haikou["replied"] == 1
        town = (
            await client.get(f"/api/verification/stats?{q}&unit_id={p.town.unit_id}", headers=p.town.headers)
        ).json()
        assert next(c for c in town["children"] if c["id"] == p.grid1.unit_id)["replied"] == 1
        # The time-to-reply buckets stay internal.
        assert not any(k in stats["unit"] for k in ("r0", "r9"))
        batches = (await client.get("/api/verification/stats/batches", headers=p.province.headers)).json()
        assert next(b for b in batches if b["batch_id"] == batch_id)["replied"] == 1
        daily = (await client.get(f"/api/verification/stats/daily?{q}", headers=p.province.headers)).json()
        assert sum(d["replied"] for d in daily) == 1
        r = await client.get(f"/api/verification/stats/export?{q}", headers=p.province.headers)
        assert r.status_code == 200
        rows = CalamineWorkbook.from_filelike(io.BytesIO(r.content)).get_sheet_by_index(0).to_python()
        column = rows[1].index("已回单")
        total_row = next(row for row in rows[2:] if str(row[0]).endswith("（合计）"))
        assert total_row[column] == 1


class TestReturnedIsLive:
    async def test_return_publishes_to_the_worker_and_the_chain_below_the_reviewer(
        self, client, personas, captured_events
    ):
        p = personas
        _, task_id = await _task_at_grid1(client, p)
        await _reply(client, p, task_id)
        r = await client.post(
            f"/api/verification/tasks/{task_id}/review",
            json={"accept": False, "reason": "照片不清楚"},
            headers=p.town.headers,
        )
        assert r.status_code == 200 and r.json()["status"] == "in_progress", r.text
        (event,) = [e for e in captured_events if e.type == "verification.reply.returned"]
        assert event.payload == {"task_id": task_id}
        assert event.user_ids == (p.grid1.user_id,) and event.unit_ids == (p.grid1.unit_id,)
        # A unit higher in the chain returns at once: the units between it and the worker hear of it.
        await _reply(client, p, task_id)
        r = await client.post(
            f"/api/verification/tasks/{task_id}/review",
            json={"accept": False, "reason": "地址不详"},
            headers=p.xiuying.headers,
        )
        assert r.status_code == 200 and r.json()["status"] == "in_progress", r.text
        event = [e for e in captured_events if e.type == "verification.reply.returned"][-1]
        assert event.user_ids == (p.grid1.user_id,) and event.unit_ids == (p.town.unit_id, p.grid1.unit_id)


class TestTransferTargets:
    async def test_picker_searches_the_chain_top_outside_the_holders_subtree(self, client, personas):
        p = personas
        _, task_id = await _task_at_grid1(client, p)
        url = "/api/verification/transfer-targets"

        async def search(persona, q: str, task: str = task_id):
            return await client.get(url, params={"task_id": task, "q": q}, headers=persona.headers)

        r = await search(p.grid1, p.grid2.unit_name)
        assert r.status_code == 200, r.text
        hit = next(u for u in r.json() if u["id"] == p.grid2.unit_id)
        assert set(hit) == {"id", "name", "kind", "level", "path_names"}
        assert hit["name"] == p.grid2.unit_name and hit["kind"] == "committee"
        assert "海口市" in hit["path_names"] and "秀英区" in hit["path_names"]
        # The directory search of a grid worker covers their own subtree only, the picker more.
        directory = (
            await client.get(
                "/api/directory/search", params={"q": p.grid2.unit_name}, headers=p.grid1.headers
            )
        ).json()
        assert p.grid2.unit_id not in {u["id"] for u in directory.get("units", [])}
        # The holder's own unit (and below) is not a transfer target; the chain top is the
        # province, so the whole province is searched (another city's units too).
        assert p.grid1.unit_id not in {u["id"] for u in (await search(p.grid1, p.grid1.unit_name)).json()}
        sanya = (await search(p.grid1, "三亚")).json()
        assert sanya[0]["name"] == "三亚市" and sanya[0]["path_names"] == ["海南省"]
        assert all(u["path_names"][:1] == ["海南省"] for u in sanya)
        assert len((await search(p.grid1, "社区")).json()) == 30
        assert (await search(p.grid1, "  ")).json() == []
        # Only who may transfer the task: the sibling village 404, an outsider 403/404.
        assert (await search(p.grid2, "三亚")).status_code == 404
        assert (await search(p.outsider, "三亚")).status_code in (403, 404)
        assert (await search(p.grid1, "三亚", task="0" * 26)).status_code == 404
        # A target found by the picker is accepted by the transfer itself.
        r = await client.post(
            f"/api/verification/tasks/{task_id}/transfer",
            json={"to_unit_id": sanya[0]["id"], "reason": "人员已去三亚"},
            headers=p.grid1.headers,
        )
        assert r.status_code == 200, r.text


class TestAssignablePeople:
    async def test_pending_accounts_are_not_assignable(self, db, client, personas, unique_phone):
        from zhengding.accounts.enums import UserStatus
        from zhengding.accounts.models import User
        from zhengding.accounts.service import users as user_service
        from zhengding.orgs.models import Membership

        p = personas
        async with db.unit_of_work() as s:  # a village of the town other than grid1's and grid2's
            village = (
                (
                    await s.execute(
                        select(OrgUnit)
                        .where(
                            OrgUnit.parent_id == (await s.get(OrgUnit, p.grid1.unit_id)).parent_id,
                            OrgUnit.id.not_in([p.grid1.unit_id, p.grid2.unit_id]),
                        )
                        .order_by(OrgUnit.sort_key)
                    )
                )
                .scalars()
                .first()
            )
            row = user_service.user_row(
                user_service.validate_new_user("待激活", unique_phone(), village.id, "网格员")
            )
            await s.execute(User.__table__.insert(), [row])
            s.add(Membership(user_id=row["id"], unit_id=village.id, position="网格员"))
        assert row["status"] == UserStatus.PENDING

        async def people(unit_id: str) -> set[str]:
            r = await client.get(f"/api/verification/units/{unit_id}/assignees", headers=p.town.headers)
            assert r.status_code == 200, r.text
            return {x["id"] for x in r.json()}

        assert row["id"] not in await people(village.id)
        assert row["id"] not in await people(p.town.unit_id)
        assert p.grid1.user_id in await people(p.grid1.unit_id)
        async with db.unit_of_work() as s:
            await s.execute(update(User).where(User.id == row["id"]).values(status=str(UserStatus.ACTIVE)))
        assert row["id"] in await people(village.id)
