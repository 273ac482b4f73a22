"""Import of a deliberately messy spreadsheet: each bad row named in the report, the corrected
report re-imported into the same batch adds only those rows; nothing lost or duplicated."""

from __future__ import annotations

import io
import random
import string

from python_calamine import CalamineWorkbook
from sqlalchemy import func, select

from tests.verification.support import (
    batch_tasks,
    csv_bytes,
    import_rows,
    new_id_number,
    new_old_id_number,
    xlsx,
)
from zhengding.core import events as events_mod
from zhengding.privacy.idcard import upgrade_15
from zhengding.verification.models import VerificationBatch, VerificationTask

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class TestMessyImport:
    async def test_report_and_corrected_reimport(self, client, personas):
        p = personas
        good, old15, dup, phone_id, open_id = (new_id_number() for _ in range(5))
        old = new_old_id_number()
        existing = await import_rows(client, p.province, [["旧任务", open_id, "", "海口市秀英区", "", ""]])
        assert existing["accepted"] == 1
        bad_checksum = good[:17] + ("0" if good[17] != "0" else "1")
        rows = [
            [
                " 张 三 ",
                good.translate(FULLWIDTH),
                "139 1234 5678",
                "海口市秀英区秀英街道",
                "公安",
                "",
                "外省",
            ],  # 2 ok
            ["李四", old, "", "三亚市", "", "", ""],  # 3 ok: 15-digit upgraded
            ["王五", 4.60105199001011e17, "", "海口市", "", "", ""],  # 4 lost digits
            ["赵六", good, "", "海口市", "", "", ""],  # 5 duplicate of row 2
            ["钱七", bad_checksum, "", "海口市", "", "", ""],  # 6 bad checksum
            ["", dup, "", "海口市", "", "", ""],  # 7 no name
            ["孙八", phone_id, "1381234", "儋州市", "", "", ""],  # 8 bad phone
            ["周九", open_id, "", "海口市", "", "", ""],  # 9 already an open task
            ["吴十", old15, "", "", "", "", ""],  # 10 no clue
        ]
        header = ["姓名", "身份证号", "手机号", "线索地址", "来源", "备注", "籍贯"]
        r = await client.post(
            "/api/verification/imports",
            headers=p.province.headers,
            files={"file": ("messy.xlsx", xlsx(rows, header), "application/octet-stream")},
        )
        assert r.status_code == 200, r.text
        result = r.json()
        assert (result["accepted"], result["rejected"]) == (2, 7)
        assert result["unknown_columns"] == ["籍贯"]
        by_row = {e["row"]: e for e in result["errors"]}
        assert set(by_row) == {4, 5, 6, 7, 8, 9, 10}
        assert "位已丢失" in by_row[4]["reason"] or "已丢失" in by_row[4]["reason"]
        assert "第 2 行" in by_row[5]["reason"]
        assert by_row[9]["reason"] == "该人员已有未办结的核查任务"
        batch_id = result["batch_id"]
        tasks = await batch_tasks(client, p.province, batch_id)
        assert sorted(t["row_number"] for t in tasks) == [2, 3]
        assert {t["id_number_masked"][-4:] for t in tasks} == {good[-4:], upgrade_15(old)[-4:]}
        assert next(t for t in tasks if t["row_number"] == 2)["phone_masked"] == "139****5678"

        report = await client.get(f"/api/verification/batches/{batch_id}/report", headers=p.province.headers)
        assert report.status_code == 200
        sheet = CalamineWorkbook.from_filelike(io.BytesIO(report.content)).get_sheet_by_index(0).to_python()
        assert sheet[0][-2:] == ["行号", "错误原因"]
        assert [int(row[-2]) for row in sheet[1:]] == [4, 5, 6, 7, 8, 9, 10]

        # Correct the report: fix rows 4, 6, 7, 8, 10; leave 5 (still a duplicate) and 9 (open task).
        fixed = []
        for row in sheet[1:]:
            cells = [str(c) for c in row]
            number = int(row[-2])
            if number == 4:
                cells[1] = new_id_number()
            elif number == 6:
                cells[1] = new_id_number()
            elif number == 7:
                cells[0] = "郑七"
            elif number == 8:
                cells[2] = "13812345678"
            elif number == 10:
                cells[3] = "海口市龙华区"
            fixed.append(cells)
        again = await client.post(
            "/api/verification/imports",
            headers=p.province.headers,
            data={"batch_id": batch_id},
            files={"file": ("fixed.csv", csv_bytes(fixed, [str(h) for h in sheet[0]]), "text/csv")},
        )
        assert again.status_code == 200, again.text
        body = again.json()
        assert (body["accepted"], body["rejected"]) == (5, 2)
        assert {e["row"] for e in body["errors"]} == {
            3,
            7,
        }  # lines of the corrected file: the dup, the open task
        tasks = await batch_tasks(client, p.province, batch_id)
        assert len(tasks) == 7 and len({t["id"] for t in tasks}) == 7
        # Importing the same corrected file again adds nothing.
        third = await client.post(
            "/api/verification/imports",
            headers=p.province.headers,
            data={"batch_id": batch_id},
            files={"file": ("fixed.csv", csv_bytes(fixed, [str(h) for h in sheet[0]]), "text/csv")},
        )
        assert third.json()["accepted"] == 0
        assert len(await batch_tasks(client, p.province, batch_id)) == 7

    async def test_header_missing_and_permission(self, client, personas):
        r = await client.post(
            "/api/verification/imports",
            headers=personas.province.headers,
            files={"file": ("x.csv", csv_bytes([["a", "b"]], ["名字", "号码"]), "text/csv")},
        )
        assert r.status_code == 422 and "姓名" in r.json()["error"]["message"]
        r = await client.post(
            "/api/verification/imports",
            headers=personas.haikou.headers,
            files={"file": ("x.csv", b"a", "text/csv")},
        )
        assert r.status_code == 403


class TestImportProgress:
    async def test_done_is_heard_only_when_the_tasks_are_visible_from_another_session(
        self, client, db, personas
    ):
        """The importer's progress says "done" only after the commit: a listener that reads
        the batch from its own session when it hears "done" finds every accepted task."""
        name = "进度批次-" + "".join(random.choices(string.ascii_lowercase, k=12))  # no digits: no ID number
        heard: list[tuple[dict, int]] = []

        async def listener(events: list) -> None:
            for event in events:
                if event.type == "verification.import.progress" and event.payload.get("token") == name:
                    async with db.new_session(readonly=True) as other:
                        visible = (
                            await other.execute(
                                select(func.count(VerificationTask.id))
                                .join(VerificationBatch, VerificationBatch.id == VerificationTask.batch_id)
                                .where(VerificationBatch.name == name)
                            )
                        ).scalar_one()
                        await other.rollback()
                    heard.append((event.payload, visible))

        rows = [[f"进度{i}", new_id_number(), "", "海口市秀英区", "", ""] for i in range(3)]
        events_mod.add_sink(listener)
        try:
            result = await import_rows(client, personas.province, rows, name=name, progress_token=name)
        finally:
            events_mod.remove_sink(listener)
        assert result["accepted"] == 3
        assert heard == [({"token": name, "processed": 3, "done": True}, 3)]
