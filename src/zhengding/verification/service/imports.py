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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, case, insert, literal, null, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core import events as events_mod
from zhengding.core import tabular
from zhengding.core.clock import local_day, now
from zhengding.core.errors import NotFound, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
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

FIELD_LABELS = {
    "name": "姓名",
    "id_number": "身份证号",
    "phone": "手机号",
    "clue": "线索地址",
    "source": "来源",
    "note": "备注",
}
COLUMNS = tabular.Columns(
    aliases={
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
    },
    labels=FIELD_LABELS,
    required=("name", "id_number", "clue"),
    numeric=frozenset({"id_number", "phone"}),
    max_rows=MAX_ROWS,
    too_many=f"单个批次超过 {MAX_ROWS} 行，请分批导入",
    no_rows="表格中没有数据行（只有表头）",
)
_SPACES = re.compile(r"[\s\u3000]+")
_OLD_ID = re.compile(r"\d{15}")


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


def clean_row(
    values: dict[str, str], problems: list[dict[str, Any]], number: int
) -> tuple[dict[str, str], list[dict]]:
    """A row's fields by the batch's rules; `problems` are those found reading the cells (a
    digit string Excel made lossy), which stand in for the field's own checks."""
    errors: list[dict] = []
    out: dict[str, str] = {}
    lossy = {e["field"]: e["reason"] for e in problems} if problems else {}
    name = _SPACES.sub("", unicodedata.normalize("NFKC", values.get("name", "")))
    if not name:
        errors.append(field_error("name", "姓名不能为空", number))
    elif len(name) > 50:
        errors.append(field_error("name", "姓名过长（最多50字）", number))
    out["name"] = name

    id_number = idcard.normalize(values.get("id_number", ""))
    if problem := lossy.get("id_number"):
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

    text = values.get("phone", "")
    phone = idcard.normalize_phone(text) if text else ""
    if problem := lossy.get("phone"):
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


def _progress(actor: Actor, token: str, processed: int, *, done: bool) -> events_mod.Event:
    return events_mod.Event(
        type="verification.import.progress",
        payload={"token": token, "processed": processed, "done": done},
        user_ids=(actor.user_id,),
    )


@dataclass
class _Import:
    """One import in progress: where its tasks go, and what the stages have counted so far."""

    batch: VerificationBatch
    root: OrgUnit
    router: _Router
    at: datetime
    day: str
    deadline: datetime | None
    appending: bool
    seen: dict[str, int] = field(default_factory=dict)  # ID number → the first row holding it
    bad: list[tabular.Rejected] = field(default_factory=list)
    held: Counter[tuple[str, str]] = field(default_factory=Counter)  # (holder path, status) → tasks
    receivers: Counter[str] = field(default_factory=Counter)
    processed: int = 0
    accepted: int = 0
    routed: int = 0


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
    """Import an upload as a new batch, or add the rows of a corrected report to `batch_id`.

    Stages: parse (header, rows cleaned in chunks), route (duplicates, then each clue to its
    unit), persist (the tasks of each chunk, then history, summary cells and the batch's counts
    and report), announce (receivers notified, audit row, and the final progress event, which
    is delivered only after the transaction commits)."""
    if not actor.grants_for(IMPORT):
        raise NotFound()
    if not content.strip():
        raise ValidationFailed("上传的文件是空的", [field_error("file", "文件为空")])
    run = await _start(session, actor, filename, name=name, deadline=deadline, batch_id=batch_id)
    table = await tabular.read_table(content, filename, COLUMNS)
    async for chunk in _parse(run, table, actor, progress_token):
        await _persist_tasks(session, run, await _route(session, run, chunk))
    await _persist_batch(session, actor, run, table)
    await _announce(session, actor, run, table, progress_token)
    return ImportResult(
        batch_id=run.batch.id,
        accepted=run.accepted,
        rejected=len(run.bad),
        routed=run.routed,
        unrouted=run.accepted - run.routed,
        errors=tabular.errors_of(run.bad, 500),
        unknown_columns=table.unknown_columns,
    )


async def _start(
    session: AsyncSession,
    actor: Actor,
    filename: str,
    *,
    name: str | None,
    deadline: datetime | None,
    batch_id: str | None,
) -> _Import:
    """The batch the rows go into (the one being corrected, or a new one under the importer's
    root unit) and the router from its root."""
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
    return _Import(
        batch=batch,
        root=root,
        router=router,
        at=at,
        day=local_day(at),
        deadline=deadline or batch.deadline,
        appending=bool(batch_id),
    )


_Clean = tuple[int, list[str], dict[str, str]]  # row number, the upload's cells, cleaned fields


async def _parse(
    run: _Import, table: tabular.Table, actor: Actor, progress_token: str | None
) -> AsyncIterator[list[_Clean]]:
    """The clean rows in chunks (the rejected ones go to `run.bad`); the importer sees the
    count of rows read every PROGRESS_EVERY rows — never "done", which only the commit may say."""
    chunk: list[_Clean] = []
    for row in table.rows():
        run.processed += 1
        cleaned, errors = clean_row(row.values, row.problems, row.number)
        if errors:
            run.bad.append(tabular.Rejected(row.number, row.cells, errors))
        else:
            chunk.append((row.number, row.cells, cleaned))
            if len(chunk) >= CHUNK * 5:
                yield chunk
                chunk = []
        if progress_token and run.processed % PROGRESS_EVERY == 0:
            await events_mod.deliver([_progress(actor, progress_token, run.processed, done=False)])
    if chunk:
        yield chunk
    run.seen.clear()


async def _route(session: AsyncSession, run: _Import, chunk: list[_Clean]) -> list[dict[str, Any]]:
    """The task rows of a chunk, in order: duplicates in the upload, then open tasks (one
    query), then each clue routed; personal data indexed a column at a time."""
    fresh: list[_Clean] = []
    for number, cells, v in chunk:
        first_row = run.seen.setdefault(v["id_number"], number)
        if first_row != number:
            errors = [field_error("id_number", f"与第 {first_row} 行的身份证号重复", number)]
            run.bad.append(tabular.Rejected(number, cells, errors))
        else:
            fresh.append((number, cells, v))
    id_bidx = blind_index_many("id_number", [v["id_number"] for _, _, v in fresh])
    phone_bidx = blind_index_many("phone", [v["phone"] or None for _, _, v in fresh])
    open_bidx = await repo.open_task_bidx(session, cast(list[str], id_bidx))
    root, batch = run.root, run.batch
    records: list[dict[str, Any]] = []
    for (number, cells, v), bidx, phone_index in zip(fresh, id_bidx, phone_bidx, strict=True):
        if bidx in open_bidx:
            errors = [field_error("id_number", "该人员已有未办结的核查任务", number)]
            run.bad.append(tabular.Rejected(number, cells, errors))
            continue
        code, clue_unit, clue_path, first = run.router.route(v["clue"])
        if first is not None:
            owner_id, status = first, TaskStatus.DISPATCHED
            owner_path = root.path + first + "/"
            chain = [root.id, first]
            run.routed += 1
            run.receivers[first] += 1
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
                "deadline": run.deadline,
                "overdue": False,
                "nat_result": None,
                "nat_sampled_at": None,
                "stat_day": run.day,
                "version": 2 if first else 1,
                "created_at": run.at,
                "replied_at": None,
                "closed_at": None,
            }
        )
        run.held[(owner_path, str(status))] += 1
    return records


async def _persist_tasks(session: AsyncSession, run: _Import, records: list[dict[str, Any]]) -> None:
    """One bulk insert per chunk (personal data encrypted a column at a time)."""
    await bulk_insert(session, cast(Table, VerificationTask.__table__), records)
    run.accepted += len(records)


async def _persist_batch(session: AsyncSession, actor: Actor, run: _Import, table: tabular.Table) -> None:
    """History rows, summary cells, the batch's counts and the report of its rejected rows."""
    batch = run.batch
    deltas = Deltas()
    for (owner_path, status), n in run.held.items():
        deltas.add_path(owner_path, batch.id, run.day, "total", n)
        deltas.add_path(owner_path, batch.id, run.day, status, n)
    await _write_import_history(session, actor, batch.id, run.root.id, run.at)
    await deltas.apply(session)
    run.bad.sort(key=lambda b: b.number)
    batch.total += run.accepted + len(run.bad)
    batch.accepted += run.accepted
    batch.rejected = len(run.bad)  # the latest report's rows
    batch.routed += run.routed
    batch.unknown_columns = table.unknown_columns
    batch.report = build_report(table.columns, run.bad) if run.bad else None


async def _announce(
    session: AsyncSession, actor: Actor, run: _Import, table: tabular.Table, progress_token: str | None
) -> None:
    """Receivers notified, the audit row; "done" is published on the session, so the importer
    hears it after the commit, when the tasks are there to be read (and never on a rollback)."""
    batch = run.batch
    await _notify_receivers(session, actor, batch, run.receivers)
    audit.record(
        session,
        actor,
        "verification.batch.imported",
        target_type="verification_batch",
        target_id=batch.id,
        detail={
            "filename": batch.filename,
            "accepted": run.accepted,
            "rejected": len(run.bad),
            "routed": run.routed,
            "unknown_columns": table.unknown_columns,
            "append": run.appending,
        },
    )
    if progress_token:
        done = _progress(actor, progress_token, run.processed, done=True)
        publish_event(session, done.type, done.payload, users=done.user_ids)


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


def build_report(columns: list[str], bad: list[tabular.Rejected]) -> bytes:
    return tabular.error_report(columns, bad, FIELD_LABELS, width=18)


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
