"""Moving a grid carries its work: every domain's copy of the unit path follows the tree in the
move's transaction (orgs.moves), so the new town's command and the grid worker see the moved
verification task, returnee and supervised item, the old town no longer does, the statistics of
both towns follow, and a reply climbs the grid's new line."""

from __future__ import annotations

import itertools
import os
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Personas
from tests.returnees.conftest import GRID1_DEST, Sender, Staff, registration, staff_in_unit
from tests.verification.support import dispatch, import_rows, new_id_number
from zhengding.core.clock import SHANGHAI as LOCAL
from zhengding.core.clock import now
from zhengding.orgs import moves
from zhengding.orgs import repository as org_repo
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.returnees import stats_table
from zhengding.returnees.models import Anomaly, Returnee

NEW_TOWN = "460105002000"  # 海秀街道, beside the personas' 秀英街道 in 秀英区
NEW_VILLAGE = "460105002001"  # 海港社区, under it
ENROL = {
    "identity_confirmed": True,
    "actual_address": "网格内12号",
    "contact_phone": "13912345678",
    "household_size": 2,
    "monitoring_plan": "home",
}

_serial = itertools.count(1)
_salt = int.from_bytes(os.urandom(3), "big")


@pytest.fixture(scope="module")
async def move_sender(db, client) -> Sender:
    from zhengding.returnees.service import inbound

    async with db.unit_of_work() as session:
        source, secret = await inbound.add_source(session, f"健康码系统-移交-{os.getpid()}-{_salt}")
        key_id = source.key_id
    return Sender(client, key_id, secret)


@dataclass
class World:
    """A grid of the personas' first village holding one item of each domain, moved to a
    village of the neighbouring town; `before` holds the statistics read before the move."""

    grid: str
    old_village: str
    old_town: str
    new_village: str
    new_town: str
    county: str
    worker: Staff
    new_command: Staff
    batch_id: str
    task_id: str  # dispatched to the grid worker
    transferred_id: str  # transferred from the second village to the grid, accepted
    returnee_id: str
    returnee_id_number: str
    anomaly_id: str
    item_id: str
    item_title: str
    deadline_day: str
    org_version: tuple[int, int] = (0, 0)
    before: dict[str, Any] = field(default_factory=dict)


async def _get(client, url: str, headers: dict[str, str], **params: Any) -> Any:
    r = await client.get(url, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def snapshot(client, p: Personas, w: World) -> dict[str, Any]:
    """The county's statistics per town (verification of the batch, returnees, supervision on
    the item's deadline day), read by the county command above both towns."""
    county = p.xiuying.headers
    verification = await _get(
        client, "/api/verification/stats", county, unit_id=w.county, batch_id=w.batch_id
    )
    returnees = await _get(client, "/api/returnees/stats", county, unit_id=w.county)
    supervision = await _get(
        client, "/api/supervision/stats", county, unit_id=w.county, start=w.deadline_day, end=w.deadline_day
    )
    blank = {"due": 0, "on_time": 0, "late": 0, "overdue": 0}
    return {
        "verification": {c["id"]: c for c in verification["children"]} | {"county": verification["unit"]},
        "returnees": {c["id"]: c for c in returnees["children"]} | {"county": returnees["total"]},
        "supervision": {
            t: next((c for c in supervision["children"] if c["id"] == t), blank)
            for t in (w.old_town, w.new_town)
        }
        | {"county": supervision["unit"]},
    }


async def _org_version(db) -> int:
    async with db.unit_of_work(readonly=True) as s:
        version = await org_repo.org_version(s)
    assert version is not None
    return version


@pytest.fixture
async def moved(db, client, personas: Personas, move_sender: Sender) -> World:
    p = personas
    admin = p.sysadmin.headers
    async with db.unit_of_work(readonly=True) as s:
        new_town = await org_service.unit_for_division(s, NEW_TOWN)
        new_village = await org_service.unit_for_division(s, NEW_VILLAGE)
        assert new_town is not None and new_village is not None
        new_town_id, new_village_id = new_town.id, new_village.id
    r = await client.post(
        "/api/orgs",
        json={"parent_id": p.grid1.unit_id, "name": f"移交网格{uuid.uuid4().hex[:6]}", "kind": "grid"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    grid = r.json()["id"]
    worker = await staff_in_unit(db, client, grid, "grid_worker", "网格员")
    leader = await staff_in_unit(
        db, client, grid, "town_command", "网格长"
    )  # may assign supervised items at the grid
    new_command = await staff_in_unit(db, client, new_town_id, "town_command", "街道干部")

    # Verification: two tasks of one batch end up held by the grid — one dispatched to its
    # worker, one transferred in from the second village (transfer counters on both sides).
    clue = f"海口市秀英区秀英街道{p.grid1.unit_name}3队"
    batch = await import_rows(
        client,
        p.province,
        [["赵移", new_id_number(), "", clue, "", ""], ["钱移", new_id_number(), "", clue, "", ""]],
    )
    assert batch["routed"] == 2
    tasks = await _get(client, "/api/verification/tasks", p.province.headers, batch_id=batch["batch_id"])
    task_id, transferred_id = sorted(t["id"] for t in tasks["items"])
    assert (
        await dispatch(client, p.haikou, task_ids=[task_id], unit_id=p.grid1.unit_id, user_id=worker.user_id)
    )["dispatched"] == 1
    assert (await dispatch(client, p.haikou, task_ids=[transferred_id], unit_id=p.grid2.unit_id))[
        "dispatched"
    ] == 1
    r = await client.post(
        f"/api/verification/tasks/{transferred_id}/transfer",
        json={"to_unit_id": grid, "reason": "人员住在该网格"},
        headers=p.grid2.headers,
    )
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/verification/transfers/{r.json()['id']}/accept", headers=worker.headers)
    assert r.status_code == 200, r.text

    # Returnees: routed to villages only (division units, which never move), so the arrival is
    # rehomed into the grid by the domain's own summary move; its worker enrols it and reports.
    item = registration(destination=GRID1_DEST)
    r = await move_sender.one(item)
    assert r.status_code == 201, r.text
    returnee_id = r.json()["id"]
    async with db.unit_of_work() as s:
        returnee = (await s.execute(select(Returnee).where(Returnee.id == returnee_id))).scalar_one()
        grid_path = (await s.execute(select(OrgUnit.path).where(OrgUnit.id == grid))).scalar_one()
        await stats_table.move(s, returnee, grid, grid_path)
    r = await client.post(f"/api/returnees/{returnee_id}/enrol", json=ENROL, headers=worker.headers)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/returnees/{returnee_id}/anomalies",
        headers=worker.headers,
        json={"kind": "fever", "description": "体温38.2℃"},
    )
    assert r.status_code == 201, r.text
    anomaly_id = r.json()["id"]

    # Supervision: an item assigned at the grid, its worker the owner.
    title = f"网格排查{uuid.uuid4().hex[:8]}"
    deadline = now() + timedelta(days=3)
    r = await client.post(
        "/api/supervision/items",
        headers=leader.headers,
        json={
            "title": title,
            "content": "逐户排查",
            "source_kind": "instruction",
            "priority": "urgent",
            "unit_id": grid,
            "deadline": deadline.isoformat(),
            "owners": [{"user_id": worker.user_id}],
        },
    )
    assert r.status_code == 201, r.text

    w = World(
        grid=grid,
        old_village=p.grid1.unit_id,
        old_town=p.town.unit_id,
        new_village=new_village_id,
        new_town=new_town_id,
        county=p.xiuying.unit_id,
        worker=worker,
        new_command=new_command,
        batch_id=batch["batch_id"],
        task_id=task_id,
        transferred_id=transferred_id,
        returnee_id=returnee_id,
        returnee_id_number=item["id_number"],
        anomaly_id=anomaly_id,
        item_id=r.json()["id"],
        item_title=title,
        deadline_day=deadline.astimezone(LOCAL).date().isoformat(),
    )
    # Before the move the old town sees all three and the new town none.
    for url in (
        f"/api/verification/tasks/{task_id}",
        f"/api/returnees/{returnee_id}",
        f"/api/supervision/items/{w.item_id}",
    ):
        assert (await client.get(url, headers=p.town.headers)).status_code == 200, url
        assert (await client.get(url, headers=new_command.headers)).status_code == 404, url
    w.before = await snapshot(client, p, w)

    version = await _org_version(db)
    r = await client.post(f"/api/orgs/{grid}/move", json={"new_parent_id": new_village_id}, headers=admin)
    assert r.status_code == 200, r.text
    w.org_version = (version, await _org_version(db))
    return w


def _ids(body: Any, key: str | None = "items") -> set[str]:
    return {row["id"] for row in (body[key] if key else body)}


class TestMoveCarriesWork:
    async def test_new_town_and_grid_worker_see_the_moved_work_and_the_old_town_does_not(
        self, client, personas: Personas, moved: World
    ):
        w, old = moved, personas.town.headers
        details = (
            f"/api/verification/tasks/{w.task_id}",
            f"/api/verification/tasks/{w.transferred_id}",
            f"/api/returnees/{w.returnee_id}",
            f"/api/supervision/items/{w.item_id}",
        )
        for url in details:
            for viewer in (w.new_command.headers, w.worker.headers):
                assert (await client.get(url, headers=viewer)).status_code == 200, url
            assert (await client.get(url, headers=old)).status_code == 404, url

        tasks = {w.task_id, w.transferred_id}
        for viewer, present in ((w.new_command.headers, True), (w.worker.headers, True), (old, False)):
            listed = _ids(await _get(client, "/api/verification/tasks", viewer, batch_id=w.batch_id))
            assert listed == (tasks if present else set())
            returnees = _ids(await _get(client, "/api/returnees", viewer, q=w.returnee_id_number))
            assert (w.returnee_id in returnees) is present
            anomalies = _ids(await _get(client, "/api/returnees/anomalies", viewer, status="open"), None)
            assert (w.anomaly_id in anomalies) is present
        # Supervision lists: the assigner's board by assign scope, the owner's to-dos by participation.
        for viewer, present in ((w.new_command.headers, True), (old, False)):
            board = _ids(await _get(client, "/api/supervision/items", viewer, q=w.item_title))
            assert (w.item_id in board) is present
        todos = await _get(client, "/api/supervision/todos", w.worker.headers)
        assert w.item_id in {i["id"] for i in todos["items"]}

    async def test_statistics_of_both_towns_follow_the_grid(self, client, personas: Personas, moved: World):
        w, before = moved, moved.before
        after = await snapshot(client, personas, w)

        # Verification cells are kept per ancestor: the old town and village drop both tasks,
        # the new ones count them; the transfer from the second village is now one between
        # towns (out at the old town, in at the new), and the county above both is unchanged.
        keys = ("total", "in_progress", "dispatched", "transfer_in", "transfer_out")
        v0, v1 = before["verification"], after["verification"]
        assert [v0[w.old_town][k] for k in keys] == [2, 1, 1, 0, 0]
        assert [v0[w.new_town][k] for k in keys] == [0, 0, 0, 0, 0]
        assert [v1[w.old_town][k] for k in keys] == [0, 0, 0, 0, 1]
        assert [v1[w.new_town][k] for k in keys] == [2, 1, 1, 1, 0]
        assert [v1["county"][k] for k in keys] == [v0["county"][k] for k in keys] == [2, 1, 1, 0, 0]
        new_town = await _get(
            client, "/api/verification/stats", w.new_command.headers, unit_id=w.new_town, batch_id=w.batch_id
        )
        village = next(c for c in new_town["children"] if c["id"] == w.new_village)
        assert [village[k] for k in keys] == [2, 1, 1, 1, 0]
        old_town = await _get(
            client, "/api/verification/stats", personas.town.headers, unit_id=w.old_town, batch_id=w.batch_id
        )
        by_id = {c["id"]: c for c in old_town["children"]}
        assert [by_id[w.old_village][k] for k in keys] == [0, 0, 0, 0, 0]
        assert [by_id[personas.grid2.unit_id][k] for k in keys] == [0, 0, 0, 0, 1]

        # Returnee and supervision summaries are summed by the holding unit's path.
        for counter in ("arrivals", "enrolled", "open_anomalies"):
            r0, r1 = before["returnees"], after["returnees"]
            assert r1[w.old_town][counter] - r0[w.old_town][counter] == -1, counter
            assert r1[w.new_town][counter] - r0[w.new_town][counter] == 1, counter
            assert r1["county"][counter] == r0["county"][counter], counter
        s0, s1 = before["supervision"], after["supervision"]
        assert s1[w.old_town]["due"] - s0[w.old_town]["due"] == -1
        assert s1[w.new_town]["due"] - s0[w.new_town]["due"] == 1
        assert s1["county"]["due"] == s0["county"]["due"]

    async def test_every_copy_under_the_grid_agrees_with_the_tree(self, db, moved: World):
        assert moved.org_version[1] > moved.org_version[0]  # members' caches keyed by it are dropped
        async with db.unit_of_work(readonly=True) as s:
            grid_path = (await s.execute(select(OrgUnit.path).where(OrgUnit.id == moved.grid))).scalar_one()
            subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(grid_path))
            held: dict[str, int] = {}
            for entry in moves.path_columns():
                if entry.unit_id is None:
                    continue
                model = entry.column.class_
                rows = (
                    await s.execute(
                        select(entry.column, OrgUnit.path)
                        .select_from(model)
                        .join(OrgUnit, OrgUnit.id == entry.unit_id)
                        .where(entry.unit_id.in_(subtree))
                    )
                ).all()
                assert all(copy == path for copy, path in rows), entry.name
                held[entry.name] = len(rows)
            anomaly_path = (
                await s.execute(select(Anomaly.unit_path).where(Anomaly.id == moved.anomaly_id))
            ).scalar_one()
        assert anomaly_path == grid_path  # a copy without a unit id column follows too
        assert grid_path == f"{await _unit_path(db, moved.new_village)}{moved.grid}/"
        assert held == {
            "verification_batches.unit_path": 0,
            "verification_tasks.owner_path": 2,
            "verification_tasks.clue_unit_path": 0,
            "verification_transfers.from_path": 0,
            "verification_transfers.to_path": 1,
            "returnees.unit_path": 1,
            "returnee_stats.unit_path": 1,
            "supervision_items.unit_path": 1,
            "supervision_owners.stat_unit_path": 1,
            "supervision_unit_days.unit_path": 1,
        }

    async def test_a_reply_climbs_the_grid_s_new_line(self, client, personas: Personas, moved: World):
        w = moved
        detail = await _get(client, f"/api/verification/tasks/{w.task_id}", w.worker.headers)
        # the old village left the chain; the units above the grid that are still above it stay
        assert [u["id"] for u in detail["chain"]] == [
            personas.province.unit_id,
            personas.haikou.unit_id,
            w.grid,
        ]
        r = await client.post(
            f"/api/verification/tasks/{w.task_id}/reply",
            headers=w.worker.headers,
            json={"found": True, "location": "网格内12号"},
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            f"/api/verification/tasks/{w.task_id}/review",
            json={"accept": True},
            headers=w.new_command.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "replied"
        detail = await _get(client, f"/api/verification/tasks/{w.task_id}", personas.haikou.headers)
        assert detail["review_unit_id"] == personas.haikou.unit_id
        old = await client.post(
            f"/api/verification/tasks/{w.task_id}/review",
            json={"accept": True},
            headers=personas.town.headers,
        )
        assert old.status_code == 404, old.text


async def _unit_path(db, unit_id: str) -> str:
    async with db.unit_of_work(readonly=True) as s:
        return (await s.execute(select(OrgUnit.path).where(OrgUnit.id == unit_id))).scalar_one()


def test_every_column_named_like_a_path_is_registered_or_explained():
    from zhengding.models import metadata

    named = {
        f"{table.name}.{column.name}"
        for table in metadata.tables.values()
        for column in table.columns
        if column.name.endswith("path")
    }
    registered = [entry.name for entry in moves.path_columns()]
    assert len(registered) == len(set(registered))
    assert named == set(registered) | set(moves.NOT_UNIT_PATHS)
    assert not set(registered) & set(moves.NOT_UNIT_PATHS)
