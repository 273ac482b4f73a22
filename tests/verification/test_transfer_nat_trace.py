"""Transfers accepted and rejected (ownership, statistics); nucleic-acid results linked by ID
number with the positive alert and the listener hook; watermarked exports traced."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from typer.testing import CliRunner

from tests.verification.support import batch_tasks, dispatch, import_rows, new_id_number
from zhengding.core.spreadsheets import trace_xlsx
from zhengding.notify.models import Ding
from zhengding.verification import nat


async def _task_at_village(client, p, n: int = 1) -> tuple[str, list[str]]:
    rows = [
        [f"转办{i}", new_id_number(), "", f"海口市秀英区秀英街道{p.grid1.unit_name}", "", ""]
        for i in range(n)
    ]
    batch_id = (await import_rows(client, p.province, rows))["batch_id"]
    await dispatch(client, p.haikou, batch_id=batch_id, by_clue=True)
    tasks = await batch_tasks(client, p.grid1, batch_id)
    assert len(tasks) == n
    return batch_id, [t["id"] for t in tasks]


async def _village_stats(client, p, batch_id):
    stats = (
        await client.get(
            f"/api/verification/stats?batch_id={batch_id}&unit_id={p.town.unit_id}", headers=p.town.headers
        )
    ).json()
    rows = {c["id"]: c for c in stats["children"]}
    return stats["unit"], rows[p.grid1.unit_id], rows[p.grid2.unit_id]


class TestTransfer:
    async def test_accepted_moves_ownership_and_is_counted(self, client, personas, captured_events):
        p = personas
        batch_id, (task_id,) = await _task_at_village(client, p)
        r = await client.post(
            f"/api/verification/tasks/{task_id}/transfer",
            json={"to_unit_id": p.grid2.unit_id, "reason": "人员实际居住在隔壁村"},
            headers=p.grid1.headers,
        )
        assert r.status_code == 200, r.text
        transfer_id = r.json()["id"]
        # The target sees the task it is asked to accept, and the transfer in its inbox.
        assert (
            await client.get(f"/api/verification/tasks/{task_id}", headers=p.grid2.headers)
        ).status_code == 200
        inbox = (
            await client.get("/api/verification/transfers?box=in&status=pending", headers=p.grid2.headers)
        ).json()
        assert transfer_id in {t["id"] for t in inbox["items"]}
        # A second transfer while one is pending is refused; the source cannot accept its own.
        again = await client.post(
            f"/api/verification/tasks/{task_id}/transfer",
            json={"to_unit_id": p.grid2.unit_id, "reason": "重复"},
            headers=p.grid1.headers,
        )
        assert again.status_code == 409
        assert (
            await client.post(f"/api/verification/transfers/{transfer_id}/accept", headers=p.grid1.headers)
        ).status_code == 404
        ok = await client.post(f"/api/verification/transfers/{transfer_id}/accept", headers=p.grid2.headers)
        assert ok.status_code == 200 and ok.json()["status"] == "accepted"
        assert (
            await client.get(f"/api/verification/tasks/{task_id}", headers=p.grid1.headers)
        ).status_code == 404
        detail = (await client.get(f"/api/verification/tasks/{task_id}", headers=p.grid2.headers)).json()
        assert detail["owner_unit_id"] == p.grid2.unit_id
        assert detail["chain"][-1]["id"] == p.grid2.unit_id and p.grid1.unit_id not in [
            c["id"] for c in detail["chain"]
        ]
        assert [h["kind"] for h in detail["history"]][-2:] == ["transfer_requested", "transfer_accepted"]
        town, v1, v2 = await _village_stats(client, p, batch_id)
        assert (v1["total"], v1["transfer_out"], v1["transfer_in"]) == (0, 1, 0)
        assert (v2["total"], v2["transfer_in"], v2["transferring"]) == (1, 1, 0)
        assert (town["total"], town["transfer_in"], town["transfer_out"]) == (1, 0, 0)  # internal to the town
        assert "verification.transfer.accepted" in {e.type for e in captured_events}

    async def test_rejected_returns_ownership_and_is_counted(self, client, personas):
        p = personas
        batch_id, (task_id,) = await _task_at_village(client, p)
        r = await client.post(
            f"/api/verification/tasks/{task_id}/transfer",
            json={"to_unit_id": p.grid2.unit_id, "reason": "不在本村"},
            headers=p.grid1.headers,
        )
        transfer_id = r.json()["id"]
        _, v1, _ = await _village_stats(client, p, batch_id)
        assert v1["transferring"] == 1
        no_reason = await client.post(
            f"/api/verification/transfers/{transfer_id}/reject", json={"reason": ""}, headers=p.grid2.headers
        )
        assert no_reason.status_code == 422
        r = await client.post(
            f"/api/verification/transfers/{transfer_id}/reject",
            json={"reason": "经核实不在本村"},
            headers=p.grid2.headers,
        )
        assert r.status_code == 200 and r.json()["status"] == "rejected"
        detail = (await client.get(f"/api/verification/tasks/{task_id}", headers=p.grid1.headers)).json()
        assert detail["owner_unit_id"] == p.grid1.unit_id and not detail["transferring"]
        assert (
            await client.get(f"/api/verification/tasks/{task_id}", headers=p.grid2.headers)
        ).status_code == 404
        _, v1, v2 = await _village_stats(client, p, batch_id)
        assert (v1["total"], v1["transferring"], v1["transfer_rejected"], v1["transfer_out"]) == (1, 0, 1, 0)
        assert (v2["total"], v2["transfer_refused"]) == (0, 1)
        outbox = (await client.get("/api/verification/transfers?box=out", headers=p.grid1.headers)).json()
        assert any(t["id"] == transfer_id and t["reject_reason"] == "经核实不在本村" for t in outbox["items"])

    async def test_transfer_into_own_subtree_is_refused(self, client, personas):
        p = personas
        rows = [["下级", new_id_number(), "", "海口市", "", ""]]
        batch_id = (await import_rows(client, p.province, rows))["batch_id"]
        (task,) = await batch_tasks(client, p.haikou, batch_id)
        r = await client.post(
            f"/api/verification/tasks/{task['id']}/transfer",
            json={"to_unit_id": p.town.unit_id, "reason": "应派发"},
            headers=p.haikou.headers,
        )
        assert r.status_code == 422


def _nat_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["姓名", "身份证号", "采样时间", "检测结果", "检测机构"])
    w.writerows(rows)
    return out.getvalue().encode("gb18030")


class TestNatResults:
    async def test_linking_positive_alert_and_listener(self, db, client, personas, captured_events):
        p = personas
        neg_id, pos_id, stranger = new_id_number(), new_id_number(), new_id_number()
        batch = await import_rows(
            client,
            p.province,
            [["阴性者", neg_id, "", "海口市", "", ""], ["阳性者", pos_id, "", "海口市", "", ""]],
        )
        tasks = {t["row_number"]: t for t in await batch_tasks(client, p.province, batch["batch_id"])}
        heard: list[tuple[str, dict]] = []

        async def listener(session, bidx, row):
            heard.append((bidx, row))

        nat.register_nat_listener(listener)
        try:
            content = _nat_csv(
                [
                    ["阴性者", neg_id, "2022-01-20 08:30", "阴性", "海口市人民医院"],
                    ["阳性者", pos_id, "2022/01/20 09:00", "阳性", "海南省疾控中心"],
                    ["路人", stranger, "2022-01-20 10:00", "阴性", "海口市人民医院"],
                    ["错误", "123", "昨天", "可疑", ""],
                ]
            )
            r = await client.post(
                "/api/verification/nat-results/import",
                headers=p.province.headers,
                files={"file": ("nat.csv", content, "text/csv")},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["recorded"], body["linked_tasks"], body["positive"], body["rejected"]) == (
                3,
                2,
                1,
                1,
            )
            assert {e["field"] for e in body["errors"]} == {"id_number", "sampled_at", "result", "lab"}
            assert len(heard) == 3 and all(len(b) == 64 for b, _ in heard)
            # Re-importing the same file records nothing new.
            again = await client.post(
                "/api/verification/nat-results/import",
                headers=p.province.headers,
                files={"file": ("nat.csv", content, "text/csv")},
            )
            assert (again.json()["recorded"], again.json()["duplicates"]) == (0, 3)
            assert len(heard) == 3
        finally:
            nat.unregister_nat_listener(listener)
        pos = (await client.get(f"/api/verification/tasks/{tasks[3]['id']}", headers=p.haikou.headers)).json()
        neg = (await client.get(f"/api/verification/tasks/{tasks[2]['id']}", headers=p.haikou.headers)).json()
        assert pos["nat_result"] == "positive" and neg["nat_result"] == "negative"
        assert pos["history"][-1]["kind"] == "nat_result"
        alert = [e for e in captured_events if e.type == "verification.nat.positive"]
        assert (
            alert
            and alert[0].payload["task_ids"] == [tasks[3]["id"]]
            and alert[0].unit_ids == (pos["owner_unit_id"],)
        )
        async with db.unit_of_work(readonly=True) as s:
            sender, content = (
                await s.execute(select(Ding.sender_id, Ding.content).where(Ding.object_id == tasks[3]["id"]))
            ).one()
        assert sender == p.province.user_id and "阳性" in content
        assert pos_id not in content


class TestExportTrace:
    async def test_export_names_the_exporter(self, client, personas, tmp_path, settings):
        r = await client.get("/api/verification/stats/export", headers=personas.haikou.headers)
        assert r.status_code == 200
        mark, tokens = trace_xlsx(r.content, settings.secret_key)
        assert (
            mark is not None and mark.user_id == personas.haikou.user_id and mark.name == personas.haikou.name
        )
        assert len(tokens) == 1  # the property and the hidden sheet carry the same token
        assert trace_xlsx(r.content, "another-secret")[0] is None
        path = tmp_path / "stats.xlsx"
        path.write_bytes(r.content)
        from zhengding.cli import app

        out = CliRunner().invoke(app, ["trace", str(path)])
        assert out.exit_code == 0, out.output
        assert personas.haikou.name in out.output and personas.haikou.user_id in out.output
        # A mark signed with another key (a forged or altered file) names nobody.
        import xlsxwriter

        from zhengding.core.spreadsheets import Mark, watermark_workbook

        forged = io.BytesIO()
        book = xlsxwriter.Workbook(forged, {"in_memory": True})
        book.add_worksheet().write_string(0, 0, "x")
        watermark_workbook(
            book, "not-the-server-secret", Mark(personas.province.user_id, "冒名", "2022-01-01", "x")
        )
        book.close()
        path.write_bytes(forged.getvalue())
        bad = CliRunner().invoke(app, ["trace", str(path)])
        assert bad.exit_code == 1 and "冒名" not in bad.output

    async def test_task_export_is_masked_and_marked(self, client, personas, settings):
        from python_calamine import CalamineWorkbook

        r = await client.get("/api/verification/tasks/export", headers=personas.province.headers)
        assert r.status_code == 200
        book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
        rows = book.get_sheet_by_index(0).to_python()
        assert "导出人" in rows[0][0]
        assert all("*" in str(row[2]) for row in rows[2:] if row[2])
        assert trace_xlsx(r.content, settings.secret_key)[0].user_id == personas.province.user_id
