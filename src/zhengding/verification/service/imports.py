"""Batch import of verification tasks (批次导入) and routing by clue.

Use-cases: `import_batch` (parse an xlsx/csv upload, clean and validate every row, insert the
valid ones in bulk, route each by its clue, report the others), `batch_report` (download the
rejected rows), `list_batches`.

Rules: row numbers are the spreadsheet's own (header = row 1). Cells are cleaned as real
spreadsheets need: full-width digits and spaces, 15-digit old ID numbers (upgraded to 18),
ID numbers that Excel turned into numbers (recovered when every digit survived, refused when
digits were lost). A person already in this upload or in an open task (same ID number, by
blind index) is rejected. The rejected rows come back as an xlsx report (行号, 错误原因); that
report, corrected, can be imported into the same batch: only its rows are added.

Routing: each clue is resolved to the deepest certain division, mapped to its org unit (walking
up the code when a level has no unit); the task goes at once to the city/county command on the
way there (the root's child), or stays in the root's manual queue when the clue is unroutable.
Everything is set-based: rows are processed in chunks (one IN-query for duplicates, one COPY /
executemany per chunk), history rows are written by INSERT … SELECT. One notification per
receiving unit, not per task. Progress of a large upload is pushed to the importer live.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, insert, literal, null, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core import events as events_mod
from zhengding.core import spreadsheets
from zhengding.core.clock import local_day, now
from zhengding.core.errors import NotFound, PayloadTooLarge, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.core.sheetwriter import SheetBook
from zhengding.divisions.resolver import default_resolver
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.orgs.models import OrgUnit
from zhengding.privacy import idcard
from zhengding.privacy.crypto import blind_index_many
from zhengding.verification import repository as repo
from zhengding.verification.cells import Deltas, path_units
from zhengding.verification.enums import EventKind, TaskStatus
from zhengding.verification.models import TaskEvent, VerificationBatch, VerificationTask
from zhengding.verification.permissions import IMPORT
from zhengding.verification.service.common import CHUNK, bulk_insert

MAX_ROWS = 200_000
PROGRESS_EVERY = 5000

COLUMNS = {
    "姓名": "name",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "证件号码": "id_number",
    "身份证": "id_number",
    "手机号": "phone",
    "手机号码": "phone",
    "联系电话": "phone",
    "电话": "phone",
    "线索地址": "clue",
    "线索": "clue",
    "地址": "clue",
    "现住址": "clue",
    "来源": "source",
    "备注": "note",
}
REQUIRED = {"name": "姓名", "id_number": "身份证号", "clue": "线索地址"}
FIELD_LABELS = {
    "name": "姓名",
    "id_number": "身份证号",
    "phone": "手机号",
    "clue": "线索地址",
    "source": "来源",
    "note": "备注",
}
NUMERIC = frozenset({"id_number", "phone"})
ROW_COLUMN, REASON_COLUMN = "行号", "错误原因"
REPORT_COLUMNS = {ROW_COLUMN, REASON_COLUMN}
_SPACES = re.compile(r"[\s\u3000]+")
_OLD_ID = re.compile(r"\d{15}")


@dataclass
class BadRow:
    number: int
    cells: list[str]
    errors: list[dict[str, Any]]


@dataclass
class ImportResult:
    batch_id: str
    accepted: int
    rejected: int
    routed: int
    unrouted: int
    errors: list[dict[str, Any]]
    unknown_columns: list[str]


@dataclass
class _Router:
    """Clue → (resolved code, deepest unit id, its path, the unit the root hands the task to).
    The resolver keeps its readings (one per address head); here the unit lookup is kept per
    resolved code, so both caches stay bounded by the divisions, not by the rows."""

    root_path: str
    units: dict[str, tuple[str, str]]
    by_code: dict[str | None, tuple[str | None, str | None, str | None, str | None]] = field(
        default_factory=dict
    )

    def route(self, clue: str) -> tuple[str | None, str | None, str | None, str | None]:
        code = default_resolver().resolve(clue).code if clue else None
        hit = self.by_code.get(code)
        if hit is not None:
            return hit
        found: tuple[str, str] | None = None
        probe = code
        while probe and found is None:
            found = self.units.get(probe)
            if found is None:
                probe = _parent_code(probe)
        answer: tuple[str | None, str | None, str | None, str | None] = (code, None, None, None)
        if found is not None and found[1].startswith(self.root_path) and found[1] != self.root_path:
            depth = len(path_units(self.root_path))
            first = path_units(found[1])[depth]
            answer = (code, found[0], found[1], first)
        elif found is not None:
            answer = (code, found[0], found[1], None)
        self.by_code[code] = answer
        return answer


def _parent_code(code: str) -> str | None:
    for keep in (9, 6, 4, 2):
        if code[keep:].strip("0"):
            return code[:keep].ljust(12, "0")
    return None


# --- cleaning ------------------------------------------------------------------------------


def clean_text(value: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value)).strip()


def clean_row(values: dict[str, str], raw: dict[str, Any], number: int) -> tuple[dict[str, str], list[dict]]:
    errors: list[dict] = []
    out: dict[str, str] = {}
    name = _SPACES.sub("", unicodedata.normalize("NFKC", values.get("name", "")))
    if not name:
        errors.append(field_error("name", "姓名不能为空", number))
    elif len(name) > 50:
        errors.append(field_error("name", "姓名过长（最多50字）", number))
    out["name"] = name

    text = values.get("id_number", "")
    text, problem = spreadsheets.numeric_cell(raw.get("id_number"), text, "身份证号")
    id_number = idcard.normalize(text)
    if problem:
        errors.append(field_error("id_number", problem, number))
    elif not id_number:
        errors.append(field_error("id_number", "身份证号不能为空", number))
    else:
        if _OLD_ID.fullmatch(id_number):
            id_number = idcard.upgrade_15(id_number)
        reason = idcard.validation_error(id_number)
        if reason:
            errors.append(field_error("id_number", reason, number))
    out["id_number"] = id_number

    text, problem = spreadsheets.numeric_cell(raw.get("phone"), values.get("phone", ""), "手机号")
    phone = idcard.normalize_phone(text) if text else ""
    if problem:
        errors.append(field_error("phone", problem, number))
    elif phone and (reason := idcard.phone_error(phone)):
        errors.append(field_error("phone", reason, number))
    out["phone"] = phone

    clue = clean_text(values.get("clue", ""))
    if not clue:
        errors.append(field_error("clue", "线索地址不能为空", number))
    out["clue"] = clue[:500]
    out["source"] = clean_text(values.get("source", ""))[:100]
    out["note"] = clean_text(values.get("note", ""))[:1000]
    return out, errors


# --- import --------------------------------------------------------------------------------


async def _root_unit(session: AsyncSession, actor: Actor) -> OrgUnit:
    grants = sorted(actor.grants_for(IMPORT), key=lambda g: len(g.unit_path))
    if not grants:
        raise NotFound()
    return await org_service.access_unit(session, actor, grants[0].unit_id, IMPORT)


def _progress(actor: Actor, token: str | None, processed: int, done: bool = False) -> list[events_mod.Event]:
    if not token:
        return []
    return [
        events_mod.Event(
            type="verification.import.progress",
            payload={"token": token, "processed": processed, "done": done},
            user_ids=(actor.user_id,),
        )
    ]


async def import_batch(
    session: AsyncSession,
    actor: Actor,
    content: bytes,
    filename: str,
    *,
    name: str | None = None,
    deadline: datetime | None = None,
    batch_id: str | None = None,
    progress_token: str | None = None,
) -> ImportResult:
    """Import an upload as a new batch, or add the rows of a corrected report to `batch_id`."""
    if not actor.grants_for(IMPORT):
        raise NotFound()
    if not content.strip():
        raise ValidationFailed("上传的文件是空的", [field_error("file", "文件为空")])
    at = now()
    if batch_id:
        batch = await session.get(VerificationBatch, batch_id)
        if batch is None or not in_scope(actor, IMPORT, path=batch.unit_path):
            raise NotFound(kind="verification_batch", target_id=batch_id, exists=batch is not None)
        root = await org_service.access_unit(session, actor, batch.unit_id, IMPORT)
    else:
        root = await _root_unit(session, actor)
        stem = re.sub(r"\.(xlsx|xls|csv|txt)$", "", filename or "", flags=re.IGNORECASE)
        batch = VerificationBatch(
            id=new_id(),
            name=(name or stem or "核查批次")[:200],
            filename=(filename or "")[:200],
            created_by=actor.user_id,
            unit_id=root.id,
            unit_path=root.path,
            deadline=deadline,
            total=0,
            accepted=0,
            rejected=0,
            routed=0,
            unknown_columns=[],
            created_at=at,
        )
        session.add(batch)
        await session.flush()
    router = _Router(root.path, await repo.units_with_codes(session, root.path))
    day = local_day(at)
    task_deadline = deadline or batch.deadline

    rows = await spreadsheets.read_rows(content, filename)
    header: list[str] | None = None
    header_line = 0
    for header_line, raw in enumerate(rows, start=1):  # noqa: B007
        texts = [spreadsheets.cell_text(v) for v in raw]
        if any(texts):
            header = texts
            break
    if header is None:
        raise ValidationFailed("上传的文件是空的", [field_error("file", "文件为空")])
    fields: dict[int, str] = {}
    kept: list[int] = []
    unknown: list[str] = []
    for pos, text in enumerate(header):
        key = spreadsheets.header_key(text)
        if not key or key in REPORT_COLUMNS:
            continue
        kept.append(pos)
        if key in COLUMNS and COLUMNS[key] not in fields.values():
            fields[pos] = COLUMNS[key]
        else:
            unknown.append(text)
    missing = [label for f, label in REQUIRED.items() if f not in fields.values()]
    if missing:
        raise ValidationFailed(
            f"表头缺少必填列：{'、'.join(missing)}（表头应为：姓名、身份证号、线索地址，可选手机号、来源、备注）",
            [field_error("header", f"缺少列：{h}") for h in missing],
        )

    seen: dict[str, int] = {}  # ID number → the first row holding it
    bad: list[BadRow] = []
    held: Counter[tuple[str, str]] = Counter()  # (holder path, status) → tasks: the summary cells
    receivers: Counter[str] = Counter()
    accepted = routed = processed = 0
    chunk: list[tuple[int, list[str], dict[str, str]]] = []
    table = cast(Table, VerificationTask.__table__)
    slots = [(i, fields[p]) for i, p in enumerate(kept) if p in fields]
    numeric = [(p, f) for p, f in fields.items() if f in NUMERIC]
    cell_text = spreadsheets.cell_text

    async def flush_chunk() -> None:
        """Rows of a chunk, in order: duplicates in the upload, then open tasks (one query),
        routing, one bulk insert (personal data encrypted and indexed a column at a time)."""
        nonlocal accepted, routed
        fresh: list[tuple[int, list[str], dict[str, str]]] = []
        for number, cells, v in chunk:
            first_row = seen.setdefault(v["id_number"], number)
            if first_row != number:
                bad.append(
                    BadRow(
                        number,
                        cells,
                        [field_error("id_number", f"与第 {first_row} 行的身份证号重复", number)],
                    )
                )
            else:
                fresh.append((number, cells, v))
        chunk.clear()
        id_bidx = blind_index_many("id_number", [v["id_number"] for _, _, v in fresh])
        phone_bidx = blind_index_many("phone", [v["phone"] or None for _, _, v in fresh])
        open_bidx = await repo.open_task_bidx(session, cast(list[str], id_bidx))
        records: list[dict[str, Any]] = []
        for (number, cells, v), bidx, phone_index in zip(fresh, id_bidx, phone_bidx, strict=True):
            if bidx in open_bidx:
                bad.append(
                    BadRow(number, cells, [field_error("id_number", "该人员已有未办结的核查任务", number)])
                )
                continue
            code, clue_unit, clue_path, first = router.route(v["clue"])
            if first is not None:
                owner_id, status = first, TaskStatus.DISPATCHED
                owner_path = root.path + first + "/"
                chain = [root.id, first]
                routed += 1
                receivers[first] += 1
            else:
                owner_id, owner_path, status, chain = root.id, root.path, TaskStatus.PENDING, [root.id]
            records.append(
                {
                    "id": new_id(),
                    "batch_id": batch.id,
                    "row_number": number,
                    "name": v["name"],
                    "id_number": v["id_number"],
                    "id_number_bidx": bidx,
                    "phone": v["phone"] or None,
                    "phone_bidx": phone_index,
                    "clue": v["clue"],
                    "source": v["source"],
                    "note": v["note"],
                    "resolved_code": code,
                    "clue_unit_id": clue_unit,
                    "clue_unit_path": clue_path,
                    "status": str(status),
                    "owner_unit_id": owner_id,
                    "owner_path": owner_path,
                    "assignee_id": None,
                    "chain": chain,
                    "review_unit_id": None,
                    "transfer_id": None,
                    "deadline": task_deadline,
                    "overdue": False,
                    "nat_result": None,
                    "nat_sampled_at": None,
                    "stat_day": day,
                    "version": 2 if first else 1,
                    "created_at": at,
                    "replied_at": None,
                    "closed_at": None,
                }
            )
            held[(owner_path, str(status))] += 1
        await bulk_insert(session, table, records)
        accepted += len(records)

    for number, raw in enumerate(rows, start=header_line + 1):
        width = len(raw)
        texts = [cell_text(raw[p]) if p < width else "" for p in kept]
        if not any(texts):
            continue
        processed += 1
        if processed > MAX_ROWS:
            raise PayloadTooLarge(f"单个批次超过 {MAX_ROWS} 行，请分批导入")
        values = {f: texts[i] for i, f in slots}
        raws = {f: raw[p] if p < width else None for p, f in numeric}
        cleaned, errors = clean_row(values, raws, number)
        if errors:
            bad.append(BadRow(number, texts, errors))
            continue
        chunk.append((number, texts, cleaned))
        if len(chunk) >= CHUNK * 5:
            await flush_chunk()
        if processed % PROGRESS_EVERY == 0:
            await events_mod.deliver(_progress(actor, progress_token, processed))
    if chunk:
        await flush_chunk()
    if processed == 0:
        raise ValidationFailed("表格中没有数据行（只有表头）", [field_error("file", "没有数据行")])
    seen.clear()

    deltas = Deltas()
    for (owner_path, status), n in held.items():
        deltas.add_path(owner_path, batch.id, day, "total", n)
        deltas.add_path(owner_path, batch.id, day, status, n)
    await _write_import_history(session, actor, batch.id, root.id, at)
    await deltas.apply(session)
    bad.sort(key=lambda b: b.number)
    report_columns = [header[p] for p in kept]
    batch.total += accepted + len(bad)
    batch.accepted += accepted
    batch.rejected = len(bad) if batch_id is None else len(bad)  # the latest report's rows
    batch.routed += routed
    batch.unknown_columns = unknown
    batch.report = build_report(report_columns, bad) if bad else None
    await _notify_receivers(session, actor, batch, receivers)
    audit.record(
        session,
        actor,
        "verification.batch.imported",
        target_type="verification_batch",
        target_id=batch.id,
        detail={
            "filename": batch.filename,
            "accepted": accepted,
            "rejected": len(bad),
            "routed": routed,
            "unknown_columns": unknown,
            "append": bool(batch_id),
        },
    )
    await events_mod.deliver(_progress(actor, progress_token, processed, done=True))
    errors = [e for b in bad for e in b.errors]
    return ImportResult(
        batch_id=batch.id,
        accepted=accepted,
        rejected=len(bad),
        routed=routed,
        unrouted=accepted - routed,
        errors=errors[:500],
        unknown_columns=unknown,
    )


async def _write_import_history(
    session: AsyncSession, actor: Actor, batch_id: str, root_id: str, at: datetime
) -> None:
    """ "created" (seq 1) for every task of this import, "routed" (seq 2) for the routed ones:
    one INSERT … SELECT over the import's tasks joined to the two seqs, no row travels
    through Python."""
    t = VerificationTask
    events = cast(Table, TaskEvent.__table__)
    cols = ["task_id", "seq", "at", "kind", "actor_id", "actor_name", "from_unit_id", "to_unit_id"]
    seqs = select(literal(1).label("seq")).union_all(select(literal(2))).subquery("seqs")
    routed = seqs.c.seq == 2

    def pick(when_routed: Any, when_created: Any) -> Any:
        return case((routed, when_routed), else_=when_created)

    rows = (
        select(
            t.id,
            seqs.c.seq,
            literal(at, type_=t.created_at.type),
            pick(str(EventKind.ROUTED), str(EventKind.CREATED)),
            pick(null(), actor.user_id),
            pick("系统（按线索自动派发）", actor.name),
            pick(root_id, null()),
            pick(t.owner_unit_id, root_id),
        )
        .select_from(t)
        .join(seqs, true())
        .where(
            t.batch_id == batch_id,
            t.created_at == at,
            (seqs.c.seq == 1) | (t.status == TaskStatus.DISPATCHED),
        )
    )
    await session.execute(insert(events).from_select(cols, rows))


async def _notify_receivers(
    session: AsyncSession, actor: Actor, batch: VerificationBatch, receivers: Counter[str]
) -> None:
    if not receivers:
        return
    for unit_id, n in receivers.items():
        members = await org_service.member_user_ids(session, [unit_id], subtree=False)
        await inbox.notify_users(
            session,
            members,
            kind="verification",
            title=f"收到核查任务 {n} 条",
            body=f"批次「{batch.name}」按线索派发到本单位 {n} 条核查任务，请及时下发。",
            link=f"/verification/tasks?batch_id={batch.id}",
            object_type="verification_batch",
            object_id=batch.id,
            sender_id=actor.user_id,
        )
    publish_event(
        session,
        "verification.tasks.received",
        {"batch_id": batch.id, "counts": dict(receivers)},
        units=list(receivers),
    )


def build_report(columns: list[str], bad: list[BadRow]) -> bytes:
    xlsx = SheetBook(constant_memory=True)
    sheet = xlsx.sheet("错误行")
    head = xlsx.style(bold=True, bg_color="#F2F2F2")
    reason_format = xlsx.style(font_color="#C00000")
    text = xlsx.style(num_format="@")
    sheet.row(0, 0, [*columns, ROW_COLUMN, REASON_COLUMN], head)  # the upload's own header texts
    for r, b in enumerate(bad, start=1):
        for col, value in enumerate(b.cells):
            sheet.text(r, col, value, text)
        sheet.cell(r, len(columns), b.number)
        reasons = "；".join(f"{FIELD_LABELS.get(e['field'], e['field'])}：{e['reason']}" for e in b.errors)
        sheet.text(r, len(columns) + 1, reasons, reason_format)
    sheet.ws.set_column(0, max(len(columns) - 1, 0), 18, text)
    sheet.ws.set_column(len(columns) + 1, len(columns) + 1, 60)
    sheet.ws.freeze_panes(1, 0)
    return xlsx.close()


async def batch_report(session: AsyncSession, actor: Actor, batch_id: str) -> tuple[str, bytes]:
    batch = (
        await session.execute(
            select(VerificationBatch)
            .where(VerificationBatch.id == batch_id)
            .execution_options(populate_existing=True)
            .options()
        )
    ).scalar_one_or_none()
    if batch is None or not in_scope(actor, IMPORT, path=batch.unit_path):
        raise NotFound(kind="verification_batch", target_id=batch_id, exists=batch is not None)
    report = (
        await session.execute(select(VerificationBatch.report).where(VerificationBatch.id == batch_id))
    ).scalar()
    if report is None:
        raise NotFound("本批次没有被拒绝的行，无错误报告")
    audit.record(
        session,
        actor,
        "verification.batch_report.downloaded",
        target_type="verification_batch",
        target_id=batch.id,
        detail={"rejected": batch.rejected},
    )
    return f"{batch.name}-错误行.xlsx", report


async def list_batches(session: AsyncSession, actor: Actor) -> list[dict[str, Any]]:
    stmt = repo.batches_in_scope(actor, IMPORT).order_by(VerificationBatch.created_at.desc()).limit(200)
    batches = (await session.execute(stmt)).scalars().all()
    return [batch_read(b) for b in batches]


def batch_read(b: VerificationBatch) -> dict[str, Any]:
    return {
        "id": b.id,
        "name": b.name,
        "filename": b.filename,
        "deadline": b.deadline,
        "total": b.total,
        "accepted": b.accepted,
        "rejected": b.rejected,
        "routed": b.routed,
        "unknown_columns": b.unknown_columns,
        "created_at": b.created_at,
    }


async def set_batch_deadline(session: AsyncSession, actor: Actor, batch_id: str, deadline: datetime) -> dict:
    batch = await session.get(VerificationBatch, batch_id)
    if batch is None or not in_scope(actor, IMPORT, path=batch.unit_path):
        raise NotFound(kind="verification_batch", target_id=batch_id, exists=batch is not None)
    batch.deadline = deadline
    await session.execute(
        update(VerificationTask)
        .where(VerificationTask.batch_id == batch_id, VerificationTask.status != TaskStatus.CLOSED)
        .values(deadline=deadline)
        .execution_options(synchronize_session=False)
    )
    audit.record(
        session,
        actor,
        "verification.batch.deadline_set",
        target_type="verification_batch",
        target_id=batch.id,
        detail={"deadline": deadline.isoformat()},
    )
    return batch_read(batch)
