"""#13 point 9: the same answer for absent and not yours.

For every kind of object with a by-id endpoint, a request for a well-formed id that does not
exist and a request for an existing object outside the persona's scope get byte-identical
answers: same status, same body (code, message, details). Otherwise a 404 tells which ids exist.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import Any

import pytest

from tests.returnees.conftest import GRID1_DEST, GRID2_DEST, Sender, make_staff, registration
from tests.verification.support import batch_tasks, dispatch, import_rows, new_id_number
from zhengding import demo
from zhengding.core.ids import new_id

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
REPLY = {
    "found": True,
    "location": "秀英街道秀华社区3队12号",
    "health_status": "正常",
    "measure": "居家健康监测",
}


def _clue(persona) -> str:
    return f"海口市秀英区秀英街道{persona.unit_name}3队"


def _nat_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["姓名", "身份证号", "采样时间", "检测结果", "检测机构"])
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


@dataclass
class Who:
    """Headers of a caller that is not a standard persona (a staff account made for the test)."""

    headers: dict[str, str]


@pytest.fixture(scope="module")
async def world(db, client, personas) -> dict[str, Any]:
    """One object of each kind, all in grid1's village or belonging to someone else than the
    persona who asks for it."""
    from zhengding.returnees.service import inbound

    p = personas
    w: dict[str, Any] = {}
    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(session, f"健康码系统-absent-{os.getpid()}-{new_id()[-6:]}")
    sender = Sender(client, source.key_id, secret)
    r = await sender.one(registration(destination=GRID1_DEST))
    assert r.status_code == 201, r.text
    w["returnee"] = r.json()["id"]
    r = await sender.one(registration(destination=GRID2_DEST))
    assert r.status_code == 201, r.text

    # Three tasks down to grid1's village: A assigned to grid1 (with a photo), B left unassigned,
    # C transferred by grid1 to grid2's village.
    result = await import_rows(
        client,
        p.province,
        [["甲", new_id_number(), "", _clue(p.grid1), "", ""] for _ in range(3)],
        name="存在性测试",
    )
    w["batch"] = result["batch_id"]
    ids = [t["id"] for t in await batch_tasks(client, p.province, w["batch"])]
    await dispatch(client, p.haikou, task_ids=ids, unit_id=p.xiuying.unit_id)
    await dispatch(client, p.xiuying, task_ids=ids, unit_id=p.town.unit_id)
    await dispatch(client, p.town, task_ids=ids, unit_id=p.grid1.unit_id)
    await dispatch(client, p.town, task_ids=ids[:1], unit_id=p.grid1.unit_id, user_id=p.grid1.user_id)
    w["task_a"], w["task_b"], w["task_c"] = ids
    photo = await client.post(
        f"/api/verification/tasks/{ids[0]}/photos",
        files={"file": ("p.jpg", JPEG, "image/jpeg")},
        headers=p.grid1.headers,
    )
    assert photo.status_code == 200, photo.text
    w["photo"] = photo.json()["id"]
    t = await client.post(
        f"/api/verification/tasks/{ids[2]}/transfer",
        headers=p.grid1.headers,
        json={"to_unit_id": p.grid2.unit_id, "reason": "人员已搬到邻村"},
    )
    assert t.status_code == 200, t.text
    w["transfer"] = t.json()["id"]

    nat = await client.post(
        "/api/verification/nat-results/import",
        headers=p.province.headers,
        files={"file": ("nat.csv", _nat_csv([["错误", "123", "昨天", "可疑", ""]]), "text/csv")},
    )
    assert nat.status_code == 200, nat.text
    w["nat_import"] = nat.json()["import_id"]

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
            "owners": [{"user_id": p.grid1.user_id}],
        },
    )
    assert item.status_code == 201, item.text
    w["item"] = item.json()["id"]

    ding = await client.post(
        "/api/ding",
        headers=p.town.headers,
        json={"content": "今晚20:00前上报", "user_ids": [p.grid1.user_id], "sms": False},
    )
    assert ding.status_code == 201, ding.text
    w["ding"] = ding.json()["id"]
    inbox = (await client.get("/api/notifications", headers=p.grid1.headers)).json()["items"]
    w["notification"] = next(i["id"] for i in inbox if i["object_id"] == w["ding"])

    f = await client.post(
        "/api/files", files={"file": ("a.txt", b"hello", "text/plain")}, headers=p.grid1.headers
    )
    assert f.status_code == 201, f.text
    w["file"] = f.json()["id"]

    # A province-level importer anchored at another city: it has the permission, not the scope.
    w["sanya_importer"] = Who(
        (await make_staff(db, client, demo.SANYA, "province_command", "市指挥部值班员")).headers
    )
    return w


# (name, persona, method, url with {id}, the world key of the foreign object, request keywords)
CASES: list[tuple[str, str, str, str, str, dict[str, Any]]] = [
    ("returnee", "grid2", "GET", "/api/returnees/{id}", "returnee", {}),
    ("returnee.acknowledge", "grid2", "POST", "/api/returnees/{id}/acknowledge", "returnee", {}),
    ("org_unit", "grid2", "GET", "/api/orgs/{id}", "grid1_unit", {}),
    ("org_unit.members", "grid2", "GET", "/api/orgs/{id}/members", "grid1_unit", {}),
    ("org_unit.stats", "town", "GET", "/api/verification/stats?unit_id={id}", "haikou_unit", {}),
    ("person", "grid2", "GET", "/api/people/{id}", "grid1_user", {}),
    ("account", "town", "GET", "/api/accounts/{id}", "haikou_user", {}),
    ("verification_task", "grid2", "GET", "/api/verification/tasks/{id}", "task_a", {}),
    (
        "verification_task.not_assigned.photo",
        "grid1",
        "POST",
        "/api/verification/tasks/{id}/photos",
        "task_b",
        {"files": {"file": ("p.jpg", JPEG, "image/jpeg")}},
    ),
    (
        "verification_task.not_assigned.reply",
        "grid1",
        "POST",
        "/api/verification/tasks/{id}/reply",
        "task_b",
        {"json": REPLY},
    ),
    ("verification_photo", "grid2", "GET", "/api/verification/photos/{id}", "photo", {}),
    ("verification_transfer", "grid1", "POST", "/api/verification/transfers/{id}/accept", "transfer", {}),
    (
        "verification_batch.report",
        "sanya_importer",
        "GET",
        "/api/verification/batches/{id}/report",
        "batch",
        {},
    ),
    (
        "verification_batch.deadline",
        "sanya_importer",
        "POST",
        "/api/verification/batches/{id}/deadline",
        "batch",
        {"json": {"deadline": "2099-01-01T00:00:00+08:00"}},
    ),
    (
        "nat_import.report",
        "sanya_importer",
        "GET",
        "/api/verification/nat-results/imports/{id}/report",
        "nat_import",
        {},
    ),
    ("supervision_item", "grid2", "GET", "/api/supervision/items/{id}", "item", {}),
    ("ding", "grid2", "GET", "/api/ding/{id}", "ding", {}),
    ("ding.confirm_by_sender", "town", "POST", "/api/ding/{id}/confirm", "ding", {}),
    (
        "ding.remind_by_another_sender",
        "haikou",
        "POST",
        "/api/ding/{id}/remind",
        "ding",
        {"json": {"sms": False}},
    ),
    ("notification", "grid2", "POST", "/api/notifications/{id}/read", "notification", {}),
    ("file", "grid2", "GET", "/api/files/{id}", "file", {}),
]


def _foreign_id(world: dict[str, Any], personas, key: str) -> str:
    derived = {
        "grid1_unit": personas.grid1.unit_id,
        "grid1_user": personas.grid1.user_id,
        "haikou_unit": personas.haikou.unit_id,
        "haikou_user": personas.haikou.user_id,
    }
    return derived[key] if key in derived else world[key]


@pytest.mark.parametrize(("name", "who", "method", "url", "key", "kw"), CASES, ids=[c[0] for c in CASES])
async def test_absent_and_foreign_answer_the_same(client, personas, world, name, who, method, url, key, kw):
    caller = world[who] if who in world else personas[who]
    foreign = await client.request(
        method, url.format(id=_foreign_id(world, personas, key)), headers=caller.headers, **kw
    )
    absent = await client.request(method, url.format(id=new_id()), headers=caller.headers, **kw)
    assert absent.status_code == 404, absent.text
    assert (foreign.status_code, foreign.content) == (absent.status_code, absent.content)
    assert foreign.headers["content-type"] == absent.headers["content-type"]


async def test_the_owner_does_see_each_object(client, personas, world):
    """The foreign objects above exist: their owners reach them (else the test proves nothing)."""
    p = personas
    for persona, url in (
        (p.grid1, f"/api/returnees/{world['returnee']}"),
        (p.grid1, f"/api/verification/tasks/{world['task_a']}"),
        (p.grid1, f"/api/verification/photos/{world['photo']}"),
        (p.grid2, f"/api/verification/tasks/{world['task_c']}"),
        (p.grid1, f"/api/supervision/items/{world['item']}"),
        (p.grid1, f"/api/ding/{world['ding']}"),
        (p.grid1, f"/api/files/{world['file']}"),
        (p.grid1, f"/api/orgs/{p.grid1.unit_id}"),
        (p.grid1, f"/api/people/{p.grid1.user_id}"),
        (p.haikou, f"/api/accounts/{p.haikou.user_id}"),
        (p.haikou, f"/api/verification/stats?unit_id={p.haikou.unit_id}"),
        (p.province, f"/api/verification/nat-results/imports/{world['nat_import']}/report"),
    ):
        r = await client.get(url, headers=persona.headers)
        assert r.status_code == 200, (url, r.text)
    # The batch's rows were all accepted: the importer is told there is no report, a 404 of its own.
    r = await client.get(f"/api/verification/batches/{world['batch']}/report", headers=p.province.headers)
    assert r.json()["error"]["message"] == "本批次没有被拒绝的行，无错误报告"
