"""Nucleic-acid results pushed through the signed inbound API are linked to the returnees with
the same ID number: stored, in the history, audited; a positive alerts the village (grid1) and
the town command at once — not the sibling village (grid2)."""

from __future__ import annotations

import os

from sqlalchemy import select

from tests.returnees.conftest import GRID2_DEST, Sender, registration
from zhengding.audit.models import AuditEntry
from zhengding.core.clock import now
from zhengding.notify.models import Notification
from zhengding.returnees.models_nat import ReturneeNatResult

NAT = "/api/inbound/nat-results"


def nat_result(id_number: str, result: str) -> dict:
    return {
        "id_number": id_number,
        "sampled_at": now().replace(microsecond=0).isoformat(),
        "result": result,
        "lab": "海南省疾控中心",
        "sample_id": "S" + os.urandom(6).hex(),
    }


async def arrive(sender: Sender, **kw) -> tuple[str, str]:
    item = registration(**kw)
    r = await sender.one(item)
    assert r.status_code == 201, r.text
    return r.json()["id"], item["id_number"]


class TestNatLink:
    async def test_positive_is_linked_and_alerts_the_village_and_the_town(
        self, db, client, personas, sender, captured_events
    ):
        p = personas
        rid, id_number = await arrive(sender)  # to grid1's village
        r = await sender.post(NAT, nat_result(id_number, "positive"))
        assert r.status_code == 201, r.text
        nat_id = r.json()["id"]
        async with db.unit_of_work(readonly=True) as s:
            linked = (
                await s.execute(
                    select(
                        ReturneeNatResult.nat_result_id,
                        ReturneeNatResult.result,
                        ReturneeNatResult.lab,
                        ReturneeNatResult.source,
                    ).where(ReturneeNatResult.returnee_id == rid)
                )
            ).all()
            alerted = set(
                (
                    await s.execute(
                        select(Notification.user_id).where(
                            Notification.object_id == rid, Notification.kind == "alert"
                        )
                    )
                ).scalars()
            )
            audited = (
                (
                    await s.execute(
                        select(AuditEntry.action).where(
                            AuditEntry.target_id == rid, AuditEntry.action == "returnees.nat.linked"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert [tuple(x) for x in linked] == [(nat_id, "positive", "海南省疾控中心", "api")]
        assert p.grid1.user_id in alerted and p.town.user_id in alerted and p.grid2.user_id not in alerted
        assert audited == ["returnees.nat.linked"]
        live = [e for e in captured_events if e.type == "returnees.nat.positive"]
        assert len(live) == 1 and live[0].payload == {
            "returnee_id": rid,
            "returnee_name_masked": "张**",
            "unit_id": p.grid1.unit_id,
            "unit_name": p.grid1.unit_name,
            "nat_result_id": nat_id,
        }
        assert p.grid1.user_id in live[0].user_ids and p.grid2.user_id not in live[0].user_ids
        detail = (await client.get(f"/api/returnees/{rid}", headers=p.grid1.headers)).json()
        assert detail["history"][-1]["kind"] == "nat_result" and "阳性" in detail["history"][-1]["note"]
        alerts = (
            await client.get(
                "/api/notifications", params={"kind": "alert", "limit": 100}, headers=p.grid1.headers
            )
        ).json()["items"]
        entry = next(n for n in alerts if n["object_id"] == rid)
        assert "阳性" in entry["body"] and entry["link"] == f"/returnees/{rid}"

    async def test_negative_is_linked_without_alert(self, db, personas, sender, captured_events):
        rid, id_number = await arrive(sender, destination=GRID2_DEST)
        r = await sender.post(NAT, {"items": [nat_result(id_number, "negative")]})
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        async with db.unit_of_work(readonly=True) as s:
            linked = (
                (
                    await s.execute(
                        select(ReturneeNatResult.result).where(ReturneeNatResult.returnee_id == rid)
                    )
                )
                .scalars()
                .all()
            )
            alerted = (
                (
                    await s.execute(
                        select(Notification.id).where(
                            Notification.object_id == rid, Notification.kind == "alert"
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert linked == ["negative"] and alerted == []
        assert not [e for e in captured_events if e.type == "returnees.nat.positive"]
