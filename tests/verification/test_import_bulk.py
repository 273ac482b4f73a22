"""A large import goes through several chunks: duplicates and open tasks are caught across
chunk boundaries, personal data lands encrypted (the v1 format, readable by the ORM), every
task gets its history rows and the summary cells count exactly the accepted tasks."""

from __future__ import annotations

from sqlalchemy import func, select, text

from tests.verification.support import csv_bytes, import_rows, new_id_number
from zhengding.privacy.crypto import blind_index
from zhengding.verification.models import StatCell, TaskEvent, VerificationTask
from zhengding.verification.service.common import CHUNK

HEADER = ["姓名", "身份证号", "手机号", "线索地址", "来源", "备注"]
VILLAGES = ["海口市秀英区秀英街道向荣村委会", "三亚市崖州区梅东村委会", "儋州市峨蔓镇长荣村委会"]


class TestImportAcrossChunks:
    async def test_duplicates_open_tasks_history_cells_and_ciphertext(self, client, db, personas):
        p = personas
        open_id = new_id_number()
        assert (await import_rows(client, p.province, [["旧任务", open_id, "", "海口市", "", ""]]))[
            "accepted"
        ] == 1

        n = CHUNK * 5 + 700  # more than one chunk
        ids: list[str] = []
        while len(ids) < n:
            candidate = new_id_number()
            if candidate not in ids and candidate != open_id:
                ids.append(candidate)
        rows = [
            [f"人员{i}", ids[i], f"139{i:08d}", f"{VILLAGES[i % 3]}{i % 40 + 1}号", "公安", ""]
            for i in range(n)
        ]
        rows[2] = ["无线索", ids[2], "", "不明地址", "", ""]  # row 4: stays in the province's queue
        last = n - 1
        rows[last - 1][1] = ids[10]  # a duplicate of row 12, in the second chunk
        rows[last][1] = open_id  # a person with an open task, in the second chunk
        r = await client.post(
            "/api/verification/imports",
            headers=p.province.headers,
            files={"file": ("big.csv", csv_bytes(rows, HEADER), "text/csv")},
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert (result["accepted"], result["rejected"]) == (n - 2, 2)
        by_row = {e["row"]: e["reason"] for e in result["errors"]}
        assert by_row == {last + 1: "与第 12 行的身份证号重复", last + 2: "该人员已有未办结的核查任务"}
        assert result["routed"] == n - 3 and result["unrouted"] == 1
        batch_id = result["batch_id"]

        async with db.new_session(readonly=True) as s:
            tasks = (
                (await s.execute(select(VerificationTask).where(VerificationTask.batch_id == batch_id)))
                .scalars()
                .all()
            )
            assert len(tasks) == n - 2
            by_number = {t.row_number: t for t in tasks}
            sample = by_number[2 + 7]
            assert (sample.name, sample.id_number, sample.phone) == ("人员7", ids[7], "13900000007")
            assert sample.id_number_bidx == blind_index("id_number", ids[7])
            assert sample.phone_bidx == blind_index("phone", "13900000007")
            assert by_number[4].phone is None and by_number[4].phone_bidx is None
            assert by_number[4].status == "pending" and by_number[4].owner_unit_id == p.province.unit_id
            same_village = {by_number[2 + i].owner_unit_id for i in range(0, 120, 3)}
            assert len(same_village) == 1  # house numbers differ, the village does not

            raw = (
                await s.execute(
                    text("SELECT name, id_number, phone FROM verification_tasks WHERE id = :id"),
                    {"id": sample.id},
                )
            ).one()
            assert (
                all(v.startswith("v1:") for v in raw) and ids[7] not in raw[1] and "13900000007" not in raw[2]
            )

            events = (
                await s.execute(
                    select(
                        TaskEvent.task_id,
                        TaskEvent.seq,
                        TaskEvent.kind,
                        TaskEvent.actor_id,
                        TaskEvent.from_unit_id,
                        TaskEvent.to_unit_id,
                    )
                    .join(VerificationTask, VerificationTask.id == TaskEvent.task_id)
                    .where(VerificationTask.batch_id == batch_id)
                )
            ).all()
            assert len(events) == (n - 2) + (n - 3)
            owner = {t.id: t.owner_unit_id for t in tasks}
            for task_id, seq, kind, actor_id, from_unit, to_unit in events:
                if seq == 1:
                    assert (kind, actor_id, from_unit, to_unit) == (
                        "created",
                        p.province.user_id,
                        None,
                        p.province.unit_id,
                    )
                else:
                    assert (seq, kind, actor_id, from_unit, to_unit) == (
                        2,
                        "routed",
                        None,
                        p.province.unit_id,
                        owner[task_id],
                    )
            assert {t.version for t in tasks if t.row_number != 4} == {2} and by_number[4].version == 1

            total = (
                await s.execute(
                    select(
                        func.sum(StatCell.total), func.sum(StatCell.dispatched), func.sum(StatCell.pending)
                    ).where(StatCell.batch_id == batch_id, StatCell.unit_id == p.province.unit_id)
                )
            ).one()
            assert tuple(total) == (n - 2, n - 3, 1)
