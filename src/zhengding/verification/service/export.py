"""Exports to xlsx, each carrying the exporter's watermark: a visible header line (who, when,
"内部资料 严禁外传") and a hidden HMAC-signed mark (custom property + very hidden sheet) that
`zhengding trace FILE.xlsx` verifies. Personal data is exported masked. Every export is audited."""

from __future__ import annotations

import io
from typing import Any

import xlsxwriter
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core import spreadsheets
from zhengding.core.clock import now
from zhengding.verification.enums import STATUS_LABELS
from zhengding.verification.service import stats as stats_service
from zhengding.verification.service import tasks as task_service
from zhengding.verification.service.common import SHANGHAI

STAT_COLUMNS = [("name", "单位"), ("total", "任务总数"), ("pending", "待派发"), ("dispatched", "已派发"),
                ("in_progress", "核查中"), ("replied", "已回单"), ("closed", "已办结"), ("overdue", "逾期"),
                ("transferring", "转办中"), ("transfer_in", "转入"), ("transfer_out", "转出"),
                ("transfer_rejected", "转出被拒"), ("transfer_refused", "拒收转入"), ("completion_rate", "完成率"),
                ("median_reply_hours", "回单时长中位数(小时)")]
TASK_COLUMNS = [("row_number", "行号"), ("name_masked", "姓名"), ("id_number_masked", "身份证号"),
                ("phone_masked", "手机号"), ("clue", "线索地址"), ("status", "状态"), ("owner_unit_name", "承办单位"),
                ("assignee_name", "网格员"), ("deadline", "期限"), ("nat_result", "核酸结果")]


def _book(actor: Actor, kind: str, title: str, columns: list[tuple[str, str]], rows: list[dict[str, Any]]) -> bytes:
    at = now()
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet(title[:31])
    shown = at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    mark_text = f"导出人：{actor.name}（{actor.unit_name or ''}）  导出时间：{shown}  内部资料 严禁外传"
    sheet.set_header(f"&L{mark_text}")
    warn = book.add_format({"font_color": "#C00000", "italic": True})
    head = book.add_format({"bold": True, "bg_color": "#F2F2F2"})
    sheet.write_string(0, 0, mark_text, warn)
    sheet.write_row(1, 0, [label for _, label in columns], head)
    for r, row in enumerate(rows, start=2):
        for c, (key, _) in enumerate(columns):
            value = row.get(key)
            if key == "status":
                value = STATUS_LABELS.get(str(value), value)
            if value is None:
                sheet.write_blank(r, c, None)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
                                   if hasattr(value, "astimezone") else str(value))
    sheet.set_column(0, len(columns) - 1, 14)
    sheet.freeze_panes(2, 0)
    spreadsheets.watermark_workbook(book, get_settings().secret_key,
                                    spreadsheets.Mark(user_id=actor.user_id, name=actor.name, at=at.isoformat(),
                                                      kind=kind))
    book.close()
    return out.getvalue()


async def export_stats(session: AsyncSession, actor: Actor, unit_id: str | None = None, *, batch_id: str | None = None,
                       day_from: str | None = None, day_to: str | None = None) -> tuple[str, bytes]:
    data = await stats_service.unit_stats(session, actor, unit_id, batch_id=batch_id, day_from=day_from, day_to=day_to)
    rows = [data["unit"] | {"name": data["unit"]["name"] + "（合计）"}, *data["children"]]
    content = _book(actor, "verification.stats", "核查统计", STAT_COLUMNS, rows)
    audit.record(session, actor, "verification.stats.exported", target_type="org_unit", target_id=data["unit"]["id"],
                 detail={"batch_id": batch_id, "from": day_from, "to": day_to})
    day = now().astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"{data['unit']['name']}-核查统计-{day}.xlsx", content


async def export_tasks(session: AsyncSession, actor: Actor, **filters: Any) -> tuple[str, bytes]:
    data = await task_service.list_tasks(session, actor, page=1, page_size=500, **filters)
    content = _book(actor, "verification.tasks", "核查任务", TASK_COLUMNS, data["items"])
    audit.record(session, actor, "verification.tasks.exported", target_type="verification_batch",
                 target_id=filters.get("batch_id"), detail={"count": len(data["items"])})
    day = now().astimezone(SHANGHAI).strftime("%Y%m%d")
    return f"核查任务-{day}.xlsx", content
