"""Assign, progress, return for rework, acceptance, close; split with roll-up; scope; boards."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Personas
from tests.helpers import assert_list_scope_trio, assert_scope_trio
from tests.supervision.support import create, notifications, owner
from zhengding.core.clock import now


def three_owners(p: Personas) -> list[dict]:
    return [
        {"unit_id": p.xiuying.unit_id, "lead": True},
        {"unit_id": p.town.unit_id},
        {"user_id": p.grid1.user_id},
    ]


async def board_row(client, persona, item_id: str, **params) -> dict | None:
    r = await client.get(
        "/api/supervision/items", params={"page_size": 100, **params}, headers=persona.headers
    )
    assert r.status_code == 200, r.text
    return next((i for i in r.json()["items"] if i["id"] == item_id), None)


async def stats_of(client, persona, unit_id: str) -> dict:
    period = {
        "start": (now() - timedelta(days=10)).date().isoformat(),
        "end": (now() + timedelta(days=10)).date().isoformat(),
    }
    r = await client.get(
        "/api/supervision/stats", params={"unit_id": unit_id, **period}, headers=persona.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


class TestThreeOwners:
    async def test_progress_return_accept_close_with_boards_and_stats(
        self, client, personas: Personas, captured_events
    ):
        p = personas
        stats_before = await stats_of(client, p.haikou, p.haikou.unit_id)
        todo_before = (await client.get("/api/supervision/todos", headers=p.town.headers)).json()[
            "open_count"
        ]
        item = await create(client, p.haikou, three_owners(p), copy_user_ids=[p.grid2.user_id])
        iid = item["id"]
        assert item["status"] == "open" and len(item["owners"]) == 3
        assert [o["role"] for o in item["owners"]].count("lead") == 1
        assert owner(item, p.xiuying.unit_name)["role"] == "lead"
        # every owner's people are told; the copied person too
        assert await notifications(p.town.user_id, iid, "supervision.assigned")
        assert await notifications(p.grid1.user_id, iid, "supervision.assigned")
        assert await notifications(p.grid2.user_id, iid, "supervision.copied")
        assigned = [
            e
            for e in captured_events
            if e.type == "supervision.item.assigned" and e.payload["item_id"] == iid
        ]
        assert assigned and {p.haikou.user_id, p.town.user_id, p.grid1.user_id} <= set(assigned[0].user_ids)
        # the owner's to-do list and the workbench counter
        todos = (await client.get("/api/supervision/todos", headers=p.town.headers)).json()
        assert todos["open_count"] == todo_before + 1
        mine = next(i for i in todos["items"] if i["id"] == iid)
        assert mine["my_owner"]["name"] == p.town.unit_name and mine["my_owner"]["mine"]
        wb = (await client.get("/api/workbench", headers=p.town.headers)).json()
        assert any(t["key"] == "supervision_open" and t["count"] >= 1 for t in wb["todos"])
        assert any(a["key"] == "supervision" for a in wb["apps"])

        ids = {o["name"]: o["id"] for o in item["owners"]}
        town_owner, county_owner, person_owner = (
            ids[p.town.unit_name],
            ids[p.xiuying.unit_name],
            ids[p.grid1.name],
        )
        # progress by the town (acting for its unit)
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.town.headers,
            json={"owner_id": town_owner, "text": "已完成辖区摸排60%", "percent": 60, "stage": "摸排"},
        )
        assert r.status_code == 200, r.text and r.json()["status"] == "in_progress"
        reported = [e for e in captured_events if e.type == "supervision.owner.reported"]
        assert reported and p.haikou.user_id in reported[-1].user_ids
        row = await board_row(client, p.haikou, iid)
        assert row is not None and owner(row, p.town.unit_name)["percent"] == 60
        assert owner(row, p.town.unit_name)["status"] == "in_progress" and row["progress"] == 20
        # nobody acts for someone else's owner row
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.grid1.headers,
            json={"owner_id": town_owner, "text": "冒报"},
        )
        assert r.status_code == 403
        # completion reports by all three
        for persona, oid in ((p.town, town_owner), (p.xiuying, county_owner), (p.grid1, person_owner)):
            r = await client.post(
                f"/api/supervision/items/{iid}/progress",
                headers=persona.headers,
                json={"owner_id": oid, "text": "已办结", "final": True},
            )
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "submitted"
        # a report under review cannot be reported again
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.grid1.headers,
            json={"owner_id": person_owner, "text": "再报"},
        )
        assert r.status_code == 409
        review = await client.get(
            "/api/supervision/items", params={"status": "review"}, headers=p.haikou.headers
        )
        assert iid in {i["id"] for i in review.json()["items"]}
        # owners may not review; the assigner returns one with a reason
        r = await client.post(
            f"/api/supervision/items/{iid}/review",
            headers=p.grid1.headers,
            json={"owner_id": person_owner, "decision": "accept"},
        )
        assert r.status_code == 403
        r = await client.post(
            f"/api/supervision/items/{iid}/review",
            headers=p.haikou.headers,
            json={"owner_id": town_owner, "decision": "return"},
        )
        assert r.status_code == 422
        r = await client.post(
            f"/api/supervision/items/{iid}/review",
            headers=p.haikou.headers,
            json={"owner_id": town_owner, "decision": "return", "reason": "缺少台账附件"},
        )
        assert r.status_code == 200 and r.json()["status"] == "returned"
        assert await notifications(p.town.user_id, iid, "supervision.reviewed")
        for oid in (county_owner, person_owner):
            r = await client.post(
                f"/api/supervision/items/{iid}/review",
                headers=p.haikou.headers,
                json={"owner_id": oid, "decision": "accept"},
            )
            assert r.status_code == 200 and r.json()["item_status"] == "open"
        row = await board_row(client, p.haikou, iid)
        assert owner(row, p.town.unit_name)["status"] == "returned"
        assert owner(row, p.town.unit_name)["returned_reason"] == "缺少台账附件"
        # rework, resubmit, accept: the item closes
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.town.headers,
            json={"owner_id": town_owner, "text": "已补充台账", "final": True},
        )
        assert r.status_code == 200
        r = await client.post(
            f"/api/supervision/items/{iid}/review",
            headers=p.haikou.headers,
            json={"owner_id": town_owner, "decision": "accept"},
        )
        assert r.json()["item_status"] == "closed"
        assert any(
            e.type == "supervision.item.closed" and e.payload["item_id"] == iid for e in captured_events
        )
        detail = (await client.get(f"/api/supervision/items/{iid}", headers=p.haikou.headers)).json()
        assert detail["status"] == "closed" and detail["progress"] == 100 and detail["closed_at"]
        kinds = [h["kind"] for h in detail["history"]]
        assert kinds.count("completion") == 4 and "returned" in kinds and kinds.count("accepted") >= 4
        closed = await board_row(client, p.haikou, iid, status="closed")
        assert closed is not None and not closed["overdue"]
        todos = (await client.get("/api/supervision/todos", headers=p.town.headers)).json()
        assert todos["open_count"] == todo_before
        # statistics: three owners due, three on time, within the city, per child unit
        after = await stats_of(client, p.haikou, p.haikou.unit_id)
        assert after["unit"]["due"] == stats_before["unit"]["due"] + 3
        assert after["unit"]["on_time"] == stats_before["unit"]["on_time"] + 3
        assert any(c["name"] == "秀英区" and c["on_time"] >= 3 for c in after["children"])
        # a closed item takes no more reports
        r = await client.post(
            f"/api/supervision/items/{iid}/progress",
            headers=p.town.headers,
            json={"owner_id": town_owner, "text": "补充"},
        )
        assert r.status_code == 422


class TestSplit:
    async def test_sub_item_progress_rolls_up(self, client, personas: Personas):
        p = personas
        item = await create(client, p.haikou, [{"unit_id": p.xiuying.unit_id}], title="组织疫苗接种")
        county_owner = item["owners"][0]["id"]
        r = await client.post(
            f"/api/supervision/items/{item['id']}/split",
            headers=p.xiuying.headers,
            json={
                "owner_id": county_owner,
                "title": "秀英街道接种组织",
                "deadline": (now() + timedelta(days=2)).isoformat(),
                "owners": [{"unit_id": p.town.unit_id}],
            },
        )
        assert r.status_code == 201, r.text
        child = r.json()
        assert child["parent"]["id"] == item["id"] and child["unit_name"] == "秀英区"
        # a sub-item may not outlast its parent
        r = await client.post(
            f"/api/supervision/items/{item['id']}/split",
            headers=p.xiuying.headers,
            json={
                "owner_id": county_owner,
                "title": "超期子项",
                "deadline": (now() + timedelta(days=9)).isoformat(),
                "owners": [{"unit_id": p.town.unit_id}],
            },
        )
        assert r.status_code == 422
        # only the owner's side may split
        r = await client.post(
            f"/api/supervision/items/{item['id']}/split",
            headers=p.town.headers,
            json={
                "owner_id": county_owner,
                "title": "越权",
                "owners": [{"unit_id": p.town.unit_id}],
                "deadline": (now() + timedelta(days=1)).isoformat(),
            },
        )
        assert r.status_code in (403, 404)
        town_owner = child["owners"][0]["id"]
        r = await client.post(
            f"/api/supervision/items/{child['id']}/progress",
            headers=p.town.headers,
            json={"owner_id": town_owner, "text": "已接种一半", "percent": 50},
        )
        assert r.status_code == 200
        parent = (await client.get(f"/api/supervision/items/{item['id']}", headers=p.haikou.headers)).json()
        assert parent["owners"][0]["sub_percent"] == 50 and parent["owners"][0]["percent"] == 50
        assert parent["progress"] == 50
        assert parent["children"][0]["id"] == child["id"]
        # the city sees the sub-item (its assigning unit is inside the city)
        r = await client.get(f"/api/supervision/items/{child['id']}", headers=p.haikou.headers)
        assert r.status_code == 200


class TestScope:
    async def test_detail_scope_trio(self, client, personas: Personas):
        p = personas
        item = await create(client, p.haikou, [{"user_id": p.grid1.user_id}], title="核实重点场所")
        url = f"/api/supervision/items/{item['id']}"
        await assert_scope_trio(client, url, sees=p.grid1, blind=p.grid2, outsider=p.outsider)
        # the assigning city and the province above it see it; a county below (not an owner) does not
        assert (await client.get(url, headers=p.province.headers)).status_code == 200
        assert (await client.get(url, headers=p.xiuying.headers)).status_code == 404

    async def test_todo_and_board_lists(self, client, personas: Personas):
        p = personas
        item = await create(client, p.xiuying, [{"user_id": p.grid1.user_id}], title="巡查农贸市场")
        iid = item["id"]
        await assert_list_scope_trio(
            client,
            "/api/supervision/todos",
            iid,
            sees=p.grid1,
            blind=p.grid2,
            outsider=p.outsider,
            items_key="items",
        )
        await assert_list_scope_trio(
            client,
            "/api/supervision/items",
            iid,
            sees=p.xiuying,
            blind=p.town,
            outsider=p.outsider,
            items_key="items",
        )
        # grid workers have no assigner's board
        assert (await client.get("/api/supervision/items", headers=p.grid1.headers)).status_code == 403

    async def test_owners_must_be_within_the_assigners_scope(self, client, personas: Personas):
        p = personas
        await create(client, p.xiuying, [{"unit_id": p.haikou.unit_id}], expect=404)
        await create(client, p.town, [{"user_id": p.province.user_id}], expect=404)
        await create(client, p.grid1, [{"user_id": p.grid2.user_id}], expect=403)
        await create(
            client, p.haikou, [{"user_id": p.grid1.user_id}], deadline=now() - timedelta(hours=1), expect=422
        )

    async def test_field_errors_name_the_owner_and_give_the_reason_in_chinese(
        self, client, personas: Personas
    ):
        p = personas
        outside = await create(
            client, p.xiuying, [{"user_id": p.grid1.user_id}, {"unit_id": p.haikou.unit_id}], expect=404
        )
        assert outside["error"]["details"] == [
            {"field": "owners.1.unit_id", "reason": "承办单位不存在或不在您的管辖范围内"}
        ]
        assert p.haikou.unit_id not in str(outside)
        person = await create(
            client, p.town, [{"user_id": p.grid1.user_id}, {"user_id": p.province.user_id}], expect=404
        )
        assert person["error"]["details"] == [
            {"field": "owners.1.user_id", "reason": "承办人不存在或不在您的管辖范围内"}
        ]
        past = await create(
            client, p.haikou, [{"user_id": p.grid1.user_id}], deadline=now() - timedelta(hours=1), expect=422
        )
        assert past["error"]["details"] == [{"field": "deadline", "reason": "办理时限须晚于当前时间"}]
        twice = await create(
            client, p.haikou, [{"user_id": p.grid1.user_id}, {"user_id": p.grid1.user_id}], expect=422
        )
        assert twice["error"]["details"] == [{"field": "owners", "reason": "承办对象重复"}]

    async def test_review_and_urge_only_by_the_assigner_side(self, client, personas: Personas):
        p = personas
        item = await create(client, p.haikou, [{"unit_id": p.town.unit_id}], title="整改隐患")
        r = await client.post(f"/api/supervision/items/{item['id']}/urge", headers=p.town.headers, json={})
        assert r.status_code == 403
        r = await client.post(f"/api/supervision/items/{item['id']}/urge", headers=p.grid2.headers, json={})
        assert r.status_code == 403  # grid workers do not hold supervision.assign at all


class TestAttachments:
    async def test_upload_attach_download_policy(self, client, personas: Personas):
        p = personas
        up = await client.post(
            "/api/files",
            headers=p.haikou.headers,
            files={"file": ("通知.txt", "会议纪要".encode(), "text/plain")},
        )
        assert up.status_code == 201, up.text
        fid = up.json()["id"]
        item = await create(client, p.haikou, [{"user_id": p.grid1.user_id}], attachment_ids=[fid])
        assert item["history"][0]["attachments"][0]["name"] == "通知.txt"
        ok = await client.get(f"/api/files/{fid}", headers=p.grid1.headers)
        assert ok.status_code == 200 and ok.content == "会议纪要".encode()
        assert "attachment" in ok.headers["content-disposition"]
        assert (await client.get(f"/api/files/{fid}", headers=p.grid2.headers)).status_code == 404
        # a file already attached cannot be attached again by someone else
        await create(client, p.xiuying, [{"user_id": p.grid1.user_id}], attachment_ids=[fid], expect=404)
        # progress with a photo
        photo = await client.post(
            "/api/files",
            headers=p.grid1.headers,
            files={"file": ("现场.jpg", b"\xff\xd8\xff" + b"0" * 100, "image/jpeg")},
        )
        r = await client.post(
            f"/api/supervision/items/{item['id']}/progress",
            headers=p.grid1.headers,
            json={
                "owner_id": item["owners"][0]["id"],
                "text": "现场照片",
                "attachment_ids": [photo.json()["id"]],
            },
        )
        assert r.status_code == 200
        assert (
            await client.get(f"/api/files/{photo.json()['id']}", headers=p.haikou.headers)
        ).status_code == 200

    async def test_upload_size_limit(self, client, personas: Personas, configure):
        configure(attachment_max_bytes=1000)
        r = await client.post(
            "/api/files",
            headers=personas.grid1.headers,
            files={"file": ("big.bin", b"x" * 1001, "application/octet-stream")},
        )
        assert r.status_code == 413
