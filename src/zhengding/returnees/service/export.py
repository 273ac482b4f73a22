"""Export use-case `export_returnees`: the returnee list under the current filters, in the
exporter's export scope, as an xlsx carrying the exporter's watermark (`privacy.exports`;
`zhengding trace FILE.xlsx` names the exporter). Personal data is masked as in the list; the
destination text is scrubbed. One audit row per export, with the filters and the count."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core.errors import ValidationFailed
from zhengding.privacy import exports
from zhengding.returnees import repository as repo
from zhengding.returnees import views
from zhengding.returnees.models import Returnee
from zhengding.returnees.permissions import EXPORT
from zhengding.returnees.schemas import ReturneeFilter
from zhengding.returnees.service.access import list_conditions

MAX_ROWS = 10_000
KIND = "returnees.list"
HEALTH_CODES = {"green": "绿码", "yellow": "黄码", "red": "红码"}
TRANSPORTS = {"flight": "航班", "train": "火车", "ship": "轮渡", "car": "自驾", "other": "其他"}
COLUMNS = [
    ("name_masked", "姓名"),
    ("id_number_masked", "身份证号"),
    ("phone_masked", "手机号"),
    ("origin", "来源地"),
    ("origin_risk_area", "来自风险地区"),
    ("port_of_entry", "入琼口岸"),
    ("arrived_at", "抵达时间"),
    ("transport", "交通方式"),
    ("transport_no", "航班/车次"),
    ("destination_text", "填报目的地"),
    ("unit_name", "所属单位"),
    ("status_label", "状态"),
    ("health_code", "健康码"),
    ("acknowledged_at", "签收时间"),
    ("enrolled_at", "登记时间"),
    ("monitoring_until", "监测截止"),
    ("last_check_in_day", "最近健康监测"),
    ("overdue", "逾期"),
    ("open_anomalies", "未处置异常"),
]


def _row(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "origin": f"{item['origin_province']}{item['origin_city']}",
        "transport": TRANSPORTS.get(item["transport"], item["transport"]),
        "health_code": HEALTH_CODES.get(item["health_code"], item["health_code"]),
    }


async def export_returnees(session: AsyncSession, actor: Actor, f: ReturneeFilter) -> tuple[str, bytes]:
    conds = await list_conditions(session, actor, f, EXPORT)
    total = await repo.count_in_scope(session, actor, EXPORT, conds)
    if total > MAX_ROWS:
        raise ValidationFailed(
            f"符合条件的返乡人员有 {total} 人，超过单次导出上限 {MAX_ROWS} 人，"
            "请缩小范围（如按单位或抵达日期筛选）后分批导出"
        )
    stmt = repo.returnees_in_scope(actor, EXPORT).where(*conds).order_by(Returnee.id.desc())
    rows = [_row(views.list_item(r, name)) for r, name in (await session.execute(stmt)).all()]
    content = exports.watermarked_xlsx(actor, KIND, "返乡人员", COLUMNS, rows)
    audit.record(
        session,
        actor,
        "returnees.list.exported",
        target_type="returnee",
        detail={"count": len(rows), **f.detail()},
    )
    return f"返乡人员-{exports.export_day()}.xlsx", content
