"""Nucleic-acid results → returnees: the NAT listener declared in returnees/manifest.py (called
once per newly recorded result, inside the recording transaction — an import by a user or the
signed inbound API, which has no user).

For every returnee registered with the same ID number (blind index) it stores the result in
`returnee_nat_results`, adds a "nat_result" history row and an audit row (no personal data).
A positive result alerts at once, as an urgent inbox entry of kind "alert" with SMS when
still unread after the returnees' DING delay (ZD_RETURNEES_DING_SMS_MINUTES), and live ("returnees.nat.positive"
{returnee_id, returnee_name_masked, unit_id, unit_name, nat_result_id}):
- a returnee placed in a village → every member of the village's subtree (its staff and grid
  workers) and the members of the town command above it;
- a returnee still in a manual-routing queue → the members of the queue unit.
Imported at startup by the returnee router (`zhengding.returnees.router`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.core.clock import local_text, now
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.privacy.masking import mask_name
from zhengding.returnees import policy
from zhengding.returnees import repository as repo
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Returnee, ReturneeHistory
from zhengding.returnees.models_nat import ReturneeNatResult
from zhengding.verification.enums import NatResult

ALERT_KIND = "alert"
RESULT_LABELS = {NatResult.NEGATIVE: "阴性", NatResult.POSITIVE: "阳性"}


async def link_nat_result(session: AsyncSession, id_number_bidx: str, row: dict[str, Any]) -> None:
    returnees = list(
        (
            await session.execute(
                select(Returnee)
                .where(Returnee.id_number_bidx == id_number_bidx)
                .order_by(Returnee.received_at)
            )
        ).scalars()
    )
    if not returnees:
        return
    at = now()
    label = RESULT_LABELS.get(row["result"], str(row["result"]))
    sampled = local_text(row["sampled_at"])
    note = f"核酸检测{label}（{row['lab']}，采样 {sampled}）"[:200]
    for r in returnees:
        session.add(
            ReturneeNatResult(
                id=new_id(),
                returnee_id=r.id,
                nat_result_id=row["id"],
                sampled_at=row["sampled_at"],
                result=str(row["result"]),
                lab=row["lab"],
                source=row["source"],
                created_at=at,
            )
        )
        session.add(
            ReturneeHistory(
                id=new_id(),
                returnee_id=r.id,
                kind="nat_result",
                actor_id=None,
                actor_name=None,
                from_unit_id=None,
                to_unit_id=None,
                note=note,
                at=at,
            )
        )
        audit.record(
            session,
            None,
            "returnees.nat.linked",
            target_type="returnee",
            target_id=r.id,
            detail={"nat_result_id": row["id"], "result": str(row["result"]), "source": row["source"]},
        )
    await session.flush()
    if row["result"] == NatResult.POSITIVE:
        for r in returnees:
            await _alert(session, r, row, sampled)


async def _alert(session: AsyncSession, r: Returnee, row: dict[str, Any], sampled: str) -> None:
    unit = await session.get(OrgUnit, r.unit_id)
    if r.status == ReturneeStatus.ROUTING:
        users = await repo.members_of(session, [r.unit_id])
    else:
        town = org_service.unit_ids_in_path(r.unit_path)[-2:-1]
        users = sorted(
            set(await repo.members_under(session, r.unit_path)) | set(await repo.members_of(session, town))
        )
    content = (
        f"【核酸阳性预警】{unit.name if unit else ''}返乡人员{mask_name(r.name)}核酸检测结果为阳性"
        f"（{row['lab']}，采样 {sampled}），请立即核实处置。"
    )
    await inbox.notify_users(
        session,
        users,
        kind=ALERT_KIND,
        title="返乡人员核酸阳性预警",
        body=content,
        link=f"/returnees/{r.id}",
        object_type="returnee",
        object_id=r.id,
        sms_after=timedelta(minutes=policy.ding_escalate_minutes()),
    )
    publish_event(
        session,
        "returnees.nat.positive",
        {
            "returnee_id": r.id,
            "returnee_name_masked": mask_name(r.name),
            "unit_id": r.unit_id,
            "unit_name": unit.name if unit else None,
            "nat_result_id": row["id"],
        },
        users=users,
    )
