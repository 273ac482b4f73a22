"""Exports to xlsx, each carrying the exporter's watermark (`privacy.exports`: a visible line and
a hidden signed mark that `zhengding trace FILE.xlsx` verifies). Personal data is exported
masked. Every export is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.privacy import exports
from zhengding.verification.enums import STATUS_LABELS
from zhengding.verification.service import stats as stats_service
from zhengding.verification.service import tasks as task_service

STAT_COLUMNS = [
    ("name", "单位"),
    ("total", "任务总数"),
    ("pending", "待派发"),
    ("dispatched", "已派发"),
    ("in_progress", "核查中"),
    ("replied", "已回单"),
    ("closed", "已办结"),
    ("overdue", "逾期"),
    ("transferring", "转办中"),
    ("transfer_in", "转入"),
    ("transfer_out", "转出"),
    ("transfer_rejected", "转出被拒"),
    ("transfer_refused", "拒收转入"),
    ("completion_rate", "完成率"),
    ("median_reply_hours", "回单时长中位数(小时)"),
]
TASK_COLUMNS = [
    ("row_number", "行号"),
    ("name_masked", "姓名"),
    ("id_number_masked", "身份证号"),
    ("phone_masked", "手机号"),
    ("clue", "线索地址"),
    ("status", "状态"),
    ("owner_unit_name", "承办单位"),
    ("assignee_name", "网格员"),
    ("deadline", "期限"),
    ("nat_result", "核酸结果"),
]


def _book(
    actor: Actor, kind: str, title: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]
) -> bytes:
    labelled = (
        {**row, "status": STATUS_LABELS.get(str(row["status"]), row["status"])} if "status" in row else row
        for row in rows
    )
    return exports.watermarked_xlsx(actor, kind, title, columns, labelled)


async def export_stats(
    session: AsyncSession,
    actor: Actor,
    unit_id: str | None = None,
    *,
    batch_id: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> tuple[str, bytes]:
    data = await stats_service.unit_stats(
        session, actor, unit_id, batch_id=batch_id, day_from=day_from, day_to=day_to
    )
    rows = [data["unit"] | {"name": data["unit"]["name"] + "（合计）"}, *data["children"]]
    content = _book(actor, "verification.stats", "核查统计", STAT_COLUMNS, rows)
    audit.record(
        session,
        actor,
        "verification.stats.exported",
        target_type="org_unit",
        target_id=data["unit"]["id"],
        detail={"batch_id": batch_id, "from": day_from, "to": day_to},
    )
    return f"{data['unit']['name']}-核查统计-{exports.export_day()}.xlsx", content


async def export_tasks(session: AsyncSession, actor: Actor, **filters: Any) -> tuple[str, bytes]:
    data = await task_service.list_tasks(session, actor, page=1, page_size=500, **filters)
    content = _book(actor, "verification.tasks", "核查任务", TASK_COLUMNS, data["items"])
    audit.record(
        session,
        actor,
        "verification.tasks.exported",
        target_type="verification_batch",
        target_id=filters.get("batch_id"),
        detail={"count": len(data["items"])},
    )
    return f"核查任务-{exports.export_day()}.xlsx", content
