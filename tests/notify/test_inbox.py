"""Inbox: entries per user with links, unread counts, mark read / read all, live badge sync."""

from __future__ import annotations

from tests.conftest import Personas
from tests.realtime.support import WsClient
from zhengding.core import outbox
from zhengding.core.db import get_db
from zhengding.notify import jobs as notify_jobs  # noqa: F401
from zhengding.notify.service import inbox


async def notify(user_ids, title="核查任务已派发", **kw) -> dict[str, str]:
    async with get_db().unit_of_work() as session:
        return await inbox.notify_users(
            session,
            user_ids,
            kind="verification.task",
            title=title,
            link="/verification/tasks/T1",
            object_type="verification_task",
            object_id="T1",
            **kw,
        )


class TestInbox:
    async def test_entries_counts_and_read(self, client, personas: Personas, live_server):
        other_device = await WsClient.connect(live_server.ws_url(personas.grid1.token))
        before = (await client.get("/api/notifications/unread-count", headers=personas.grid1.headers)).json()
        ids = await notify([personas.grid1.user_id])
        created = await other_device.next_of("notify.notification.created")
        assert created["data"]["link"] == "/verification/tasks/T1"
        listed = (await client.get("/api/notifications", headers=personas.grid1.headers)).json()
        assert listed["unread_count"] == before["unread_count"] + 1
        item = listed["items"][0]
        assert item["id"] == ids[personas.grid1.user_id] and item["read"] is False
        assert (item["object_type"], item["object_id"]) == ("verification_task", "T1")
        r = await client.post(f"/api/notifications/{item['id']}/read", headers=personas.grid1.headers)
        assert r.json()["unread_count"] == before["unread_count"]
        synced = await other_device.next_of("notify.notification.read")
        assert synced["data"]["ids"] == [item["id"]]
        await other_device.close()

    async def test_someone_elses_entry_is_404(self, client, personas: Personas):
        ids = await notify([personas.grid1.user_id])
        r = await client.post(
            f"/api/notifications/{ids[personas.grid1.user_id]}/read", headers=personas.grid2.headers
        )
        assert r.status_code == 404

    async def test_read_all_and_pagination(self, client, personas: Personas):
        for i in range(3):
            await notify([personas.xiuying.user_id], title=f"第{i}条")
        page = (await client.get("/api/notifications?limit=2", headers=personas.xiuying.headers)).json()
        assert len(page["items"]) == 2 and page["next_before"]
        rest = (
            await client.get(
                f"/api/notifications?limit=2&before={page['next_before']}", headers=personas.xiuying.headers
            )
        ).json()
        assert rest["items"][0]["title"] == "第0条"
        r = await client.post("/api/notifications/read-all", headers=personas.xiuying.headers)
        # what stays unread is the DINGs other tests sent this persona: each needs its own confirmation
        unread = (
            await client.get("/api/notifications?unread=true&limit=100", headers=personas.xiuying.headers)
        ).json()
        assert {i["kind"] for i in unread["items"]} <= {"ding"}
        assert (
            r.json()["unread_count"] == unread["unread_count"] == len(unread["items"])
            and r.json()["updated"] >= 3
        )

    async def test_unread_after_delay_escalates_to_sms(self, db, personas: Personas, clock):
        from zhengding.notify.sms import providers

        provider = providers.LogProvider()
        providers.set_provider(provider)
        try:
            from datetime import timedelta

            read_id = (await notify([personas.haikou.user_id], sms_after=timedelta(minutes=30)))[
                personas.haikou.user_id
            ]
            async with get_db().unit_of_work() as session:
                await inbox.mark_read_internal(session, personas.haikou.user_id, [read_id])
            await notify([personas.province.user_id], title="逾期提醒", sms_after=timedelta(minutes=30))
            clock.advance(minutes=31)
            await outbox.drain(db)
            phones = [m["phone"] for m in provider.sent]
            assert personas.province.phone in phones and personas.haikou.phone not in phones
        finally:
            providers.set_provider(None)

    async def test_deliver_handler_writes_entries_from_the_outbox(self, db, personas: Personas):
        async with db.unit_of_work() as session:
            outbox.enqueue(
                session,
                "notify.deliver",
                {
                    "user_ids": [personas.grid2.user_id],
                    "title": "督办提醒",
                    "kind": "supervision.reminder",
                    "link": "/supervision/1",
                },
            )
        await outbox.drain(db)
        async with db.unit_of_work(readonly=True) as session:
            listed = await inbox.list_notifications(
                session, type("A", (), {"user_id": personas.grid2.user_id})(), kind="supervision.reminder"
            )
        assert listed["items"][0]["link"] == "/supervision/1"
