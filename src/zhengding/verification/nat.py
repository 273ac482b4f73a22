"""Nucleic-acid test results (核酸检测结果): import (xlsx/csv, or records from the inbound API),
automatic linking by the ID number's blind index, the positive-result alert, and the listener
registry through which other domains (returnees) link results to their own records.

`register_nat_listener(async fn(session, id_number_bidx, result_row))` — called once for every
newly recorded result, inside the recording transaction; `result_row` = {id, sampled_at,
result, lab, source}. A result already recorded (same person, sample time and lab) is skipped,
so re-importing a file changes nothing.

Linking: every task with the same ID blind index gets the latest result (and a history row);
a positive result alerts the units holding those tasks at once: a DING from the importer (with
SMS escalation when unread), or — for the inbound API, which has no user — an urgent inbox
entry of kind "alert" (not "ding": there is no DING to confirm) with SMS after the same delay.
The alert names the task, never the person.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.core import spreadsheets, tabular
from zhengding.core.clock import SHANGHAI, now
from zhengding.core.errors import NotFound, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.notify.service import ding as ding_service
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.privacy import idcard
from zhengding.privacy.crypto import blind_index
from zhengding.verification.enums import NAT_LABELS, EventKind, NatResult
from zhengding.verification.models import NatImport, NatTestResult, VerificationTask
from zhengding.verification.permissions import NAT_IMPORT
from zhengding.verification.service.common import bulk_update_tasks, event_row, insert_events

# The inbox kind of an urgent alert that is not a DING (a DING entry is read only by confirming
# its DING, which this alert has none of): read like any entry, SMS when still unread.
ALERT_KIND = "alert"

NatListener = Callable[[AsyncSession, str, dict[str, Any]], Awaitable[None]]
_listeners: list[NatListener] = []

MAX_ROWS = 200_000
LABELS = {
    "id_number": "身份证号",
    "name": "姓名",
    "sampled_at": "采样时间",
    "result": "检测结果",
    "lab": "检测机构",
}
# The cells keep their own types (a sampling time may be a date cell; an ID number Excel made
# a number is recovered by `clean_result`, as for the inbound API's records).
COLUMNS = tabular.Columns(
    aliases={
        "身份证号": "id_number",
        "身份证号码": "id_number",
        "证件号码": "id_number",
        "姓名": "name",
        "采样时间": "sampled_at",
        "检测结果": "result",
        "结果": "result",
        "检测机构": "lab",
        "检测单位": "lab",
    },
    labels=LABELS,
    required=("id_number", "sampled_at", "result", "lab"),
    max_rows=MAX_ROWS,
    too_many=f"单次导入超过 {MAX_ROWS} 行，请分批导入",
    no_rows=None,  # a header alone records nothing
    hint=False,
    blank="fields",
)


def register_nat_listener(listener: NatListener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unregister_nat_listener(listener: NatListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


# --- cleaning ------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    text = spreadsheets.cell_text(value).replace("/", "-").replace("T", " ")
    text = re.sub(r"[年月]", "-", text).replace("日", " ").strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            parsed = datetime.strptime(text[:19], fmt)
        except ValueError:
            continue
        return parsed.replace(tzinfo=SHANGHAI)
    try:
        parsed = datetime.fromisoformat(spreadsheets.cell_text(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def clean_result(values: dict[str, Any], number: int | None = None) -> tuple[dict[str, Any], list[dict]]:
    errors: list[dict] = []
    raw_id = values.get("id_number")
    text, problem = spreadsheets.numeric_cell(raw_id, spreadsheets.cell_text(raw_id), "身份证号")
    id_number = idcard.normalize(text)
    if re.fullmatch(r"\d{15}", id_number):
        id_number = idcard.upgrade_15(id_number)
    reason = problem or (idcard.validation_error(id_number) if id_number else "身份证号不能为空")
    if reason:
        errors.append(field_error("id_number", reason, number))
    sampled = parse_time(values.get("sampled_at"))
    if sampled is None:
        errors.append(field_error("sampled_at", "采样时间无法识别（应为 2022-01-20 08:30）", number))
    elif sampled > now() + timedelta(hours=1):
        errors.append(field_error("sampled_at", "采样时间晚于当前时间", number))
    result = NAT_LABELS.get(spreadsheets.cell_text(values.get("result")).lower())
    if result is None:
        errors.append(field_error("result", "检测结果应为 阴性 或 阳性", number))
    lab = spreadsheets.cell_text(values.get("lab"))[:200]
    if not lab:
        errors.append(field_error("lab", "检测机构不能为空", number))
    name = re.sub(r"\s+", "", spreadsheets.cell_text(values.get("name")))[:50] or None
    return {"id_number": id_number, "name": name, "sampled_at": sampled, "result": result, "lab": lab}, errors


# --- recording -----------------------------------------------------------------------------


async def record_results(
    session: AsyncSession,
    actor: Actor | None,
    items: list[dict[str, Any]],
    *,
    source: str,
    import_id: str | None = None,
) -> dict[str, int]:
    """Insert clean results (duplicates skipped), link them, alert on positives, call listeners.

    An item may carry its own "id" (the inbound API answers with it); a duplicate of a result
    already recorded keeps no row, so its id is absent from the table afterwards."""
    at = now()
    rows = [
        {
            "id": i.get("id") or new_id(),
            "id_number": i["id_number"],
            "id_number_bidx": blind_index("id_number", i["id_number"]),
            "name": i.get("name"),
            "sampled_at": i["sampled_at"],
            "result": str(i["result"]),
            "lab": i["lab"],
            "source": source,
            "import_id": import_id,
            "linked_tasks": 0,
            "created_at": at,
        }
        for i in items
    ]
    table = cast(Table, NatTestResult.__table__)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    inserted: set[str] = set()
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        stmt = (
            dialect.insert(table)
            .on_conflict_do_nothing(index_elements=["id_number_bidx", "sampled_at", "lab"])
            .returning(table.c.id)
        )
        # One multi-row INSERT … RETURNING per chunk (RETURNING with executemany is not portable).
        result = await session.execute(stmt.values(chunk))
        inserted |= set(result.scalars())
    fresh = [r for r in rows if r["id"] in inserted]
    linked = await _link(session, actor, fresh)
    for r in fresh:
        result_row = {
            "id": r["id"],
            "sampled_at": r["sampled_at"],
            "result": r["result"],
            "lab": r["lab"],
            "source": source,
        }
        for listener in list(_listeners):
            await listener(session, r["id_number_bidx"], result_row)
    positives = sum(1 for r in fresh if r["result"] == NatResult.POSITIVE)
    return {
        "recorded": len(fresh),
        "duplicates": len(rows) - len(fresh),
        "linked_tasks": linked,
        "positive": positives,
    }


async def _link(session: AsyncSession, actor: Actor | None, fresh: list[dict[str, Any]]) -> int:
    latest: dict[str, dict[str, Any]] = {}
    for r in fresh:
        if r["id_number_bidx"] not in latest or latest[r["id_number_bidx"]]["sampled_at"] < r["sampled_at"]:
            latest[r["id_number_bidx"]] = r
    positive_bidx = {r["id_number_bidx"] for r in fresh if r["result"] == NatResult.POSITIVE}
    bidx = list(latest)
    t = VerificationTask
    tasks: list[Any] = []
    for start in range(0, len(bidx), 1000):
        tasks += (
            await session.execute(
                select(t.id, t.version, t.id_number_bidx, t.owner_unit_id, t.nat_sampled_at, t.nat_result)
                .where(t.id_number_bidx.in_(bidx[start : start + 1000]))
                .with_for_update()
            )
        ).all()
    updates, events = [], []
    alerts: dict[str, list[str]] = {}
    linked_count: dict[str, int] = {}
    for task_id, version, b, owner, sampled, current in tasks:
        r = latest[b]
        linked_count[r["id"]] = linked_count.get(r["id"], 0) + 1
        state = {"id": task_id, "version": version}
        events.append(
            event_row(
                state,
                EventKind.NAT_RESULT,
                actor,
                detail={"result": r["result"], "lab": r["lab"], "sampled_at": r["sampled_at"].isoformat()},
            )
        )
        newer = sampled is None or sampled <= r["sampled_at"]
        result, when = (r["result"], r["sampled_at"]) if newer else (current, sampled)
        if b in positive_bidx:  # a positive in this upload marks the task, whatever came with it
            result = NatResult.POSITIVE
            alerts.setdefault(owner, []).append(task_id)
        updates.append(
            {
                "id": task_id,
                "version": state["version"],
                "nat_result": str(result) if result else None,
                "nat_sampled_at": when,
            }
        )
    await bulk_update_tasks(session, updates, ["version", "nat_result", "nat_sampled_at"])
    await insert_events(session, events)
    if linked_count:
        await session.execute(table_update_linked(), [{"_id": k, "_n": v} for k, v in linked_count.items()])
    for unit_id, task_ids in alerts.items():
        await _alert(session, actor, unit_id, task_ids)
    return len(tasks)


def table_update_linked() -> Any:
    from sqlalchemy import bindparam, update

    table = cast(Table, NatTestResult.__table__)
    return update(table).where(table.c.id == bindparam("_id")).values(linked_tasks=bindparam("_n"))


async def _alert(session: AsyncSession, actor: Actor | None, unit_id: str, task_ids: list[str]) -> None:
    content = (
        f"【核酸阳性预警】本单位承办的 {len(task_ids)} 条核查任务人员核酸检测结果为阳性，请立即核实处置。"
        f"任务编号：{'、'.join(task_ids[:5])}{' 等' if len(task_ids) > 5 else ''}"
    )
    sent = False
    if actor is not None and actor.can(ding_service.DING_SEND):
        try:
            await ding_service.send_ding(
                session,
                actor,
                content=content,
                user_ids=[],
                unit_ids=[unit_id],
                object_type="verification_task",
                object_id=task_ids[0],
            )
            sent = True
        except (NotFound, ValidationFailed):
            sent = False
    if not sent:
        members = await org_service.member_user_ids(session, [unit_id], subtree=True)
        await inbox.notify_users(
            session,
            members,
            kind=ALERT_KIND,
            title="核酸阳性预警",
            body=content,
            link=f"/verification/tasks/{task_ids[0]}",
            object_type="verification_task",
            object_id=task_ids[0],
            sms_after=timedelta(minutes=ding_service.default_escalate_minutes()),
        )
    publish_event(
        session,
        "verification.nat.positive",
        {"task_ids": task_ids[:50], "count": len(task_ids)},
        units=[unit_id],
    )


# --- file import ---------------------------------------------------------------------------


async def import_results(
    session: AsyncSession, actor: Actor, content: bytes, filename: str
) -> dict[str, Any]:
    if not actor.grants_for(NAT_IMPORT):
        raise NotFound()
    if not content.strip():
        raise ValidationFailed("上传的文件是空的", [field_error("file", "文件为空")])
    table = await tabular.read_table(content, filename, COLUMNS)
    good: list[dict[str, Any]] = []
    bad: list[tabular.Rejected] = []
    for row in table.rows():
        clean, errors = clean_result({f: row.raw(f) for f in LABELS}, row.number)
        if errors:
            # The report holds the known columns, in a fixed order, not the upload's own.
            bad.append(tabular.Rejected(row.number, [row.values.get(f, "") for f in LABELS], errors))
        else:
            good.append(clean)
    unknown = table.unknown_columns
    record = NatImport(
        id=new_id(),
        created_by=actor.user_id,
        filename=(filename or "核酸结果")[:200],
        accepted=0,
        rejected=len(bad),
        report=_report(bad) if bad else None,
    )
    session.add(record)
    await session.flush()
    counts = await record_results(session, actor, good, source="file", import_id=record.id)
    record.accepted = counts["recorded"]
    audit.record(
        session,
        actor,
        "verification.nat.imported",
        target_type="nat_import",
        target_id=record.id,
        detail={**counts, "rejected": len(bad), "unknown_columns": unknown},
    )
    return {
        "import_id": record.id,
        **counts,
        "rejected": len(bad),
        "unknown_columns": unknown,
        "errors": tabular.errors_of(bad, 500),
    }


def _report(bad: list[tabular.Rejected]) -> bytes:
    return tabular.error_report(list(LABELS.values()), bad, LABELS)


async def import_report(session: AsyncSession, actor: Actor, import_id: str) -> tuple[str, bytes]:
    record = await session.get(NatImport, import_id)
    if record is None or record.created_by != actor.user_id:
        raise NotFound(kind="nat_import", target_id=import_id, exists=record is not None)
    report = (await session.execute(select(NatImport.report).where(NatImport.id == import_id))).scalar()
    if report is None:
        raise NotFound("本次导入没有被拒绝的行")
    audit.record(
        session, actor, "verification.nat_report.downloaded", target_type="nat_import", target_id=import_id
    )
    return "核酸结果-错误行.xlsx", report
