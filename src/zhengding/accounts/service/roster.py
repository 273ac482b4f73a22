"""Roster import (名册导入): parse an xlsx or csv roster, validate every row, create the valid
accounts in bulk and keep an xlsx report of the rejected rows; download that report.

Rules: row numbers are the spreadsheet's own (header = row 1); a row is rejected with every
reason that applies (field errors, an org code unknown or outside the importer's scope, a
phone / ID number / username used by an earlier row of the file or by an existing account —
one person, one account); valid rows are kept. Inserts are set-based (executemany in chunks),
never one query per row. The whole import is one transaction: on any failure nothing is
written. A corrected report can be imported again: its 行号 and 错误原因 columns are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.accounts.models import RosterImport, User
from zhengding.accounts.service.users import NewUser, existing_identities, user_row, validate_new_user
from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import in_scope
from zhengding.core import tabular
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, NotFound, field_error
from zhengding.core.ids import new_id
from zhengding.orgs.models import Membership, OrgUnit

PERMISSION = "accounts.import"
MAX_ROWS = 50_000
CHUNK = 1000  # rows per executemany; also the IN-list size of the look-ups

FIELD_LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "org_code": "机构编码",
    "position": "职务",
    "id_number": "身份证号",
    "username": "用户名",
}
# Header text → field. 身份证号 and 用户名 are optional columns.
COLUMNS = tabular.Columns(
    aliases={label: name for name, label in FIELD_LABELS.items()},
    labels=FIELD_LABELS,
    required=("name", "phone", "org_code", "position"),
    numeric=frozenset({"phone", "id_number", "org_code"}),  # digit strings Excel may turn into numbers
    max_rows=MAX_ROWS,
    too_many=f"名册超过 {MAX_ROWS} 行，请分批导入",
    no_rows="名册中没有数据行（只有表头）",
)

USERNAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{2,49}")  # as for a single account (AccountCreate)


# --- parsing -------------------------------------------------------------------------------


@dataclass
class Roster:
    columns: list[str]  # the original header texts (report columns excluded)
    rows: list[tabular.Row]
    unknown_columns: list[str]


async def read_roster(content: bytes, filename: str = "") -> Roster:
    """Read the first sheet (or the csv), within the upload limits and off the event loop;
    header problems raise a 422 at once."""
    table = await tabular.read_table(content, filename, COLUMNS)
    return Roster(columns=table.columns, rows=list(table.rows()), unknown_columns=table.unknown_columns)


# --- validation ----------------------------------------------------------------------------


@dataclass
class Checked:
    row: tabular.Row
    item: NewUser
    errors: list[dict] = field(default_factory=list)
    values: dict | None = None  # column values for the insert (valid rows only)


@dataclass(frozen=True)
class _Unit:
    id: str
    path: str


async def _units_by_code(session: AsyncSession, codes: list[str]) -> dict[str, _Unit]:
    """Org code → unit, by 12-digit division code or by unit id; one query per chunk."""
    found: dict[str, _Unit] = {}
    for start in range(0, len(codes), CHUNK):
        chunk = codes[start : start + CHUNK]
        rows = (
            await session.execute(
                select(OrgUnit.id, OrgUnit.path, OrgUnit.division_code).where(
                    or_(OrgUnit.division_code.in_(chunk), OrgUnit.id.in_(chunk))
                )
            )
        ).all()
        for unit_id, path, division_code in rows:
            unit = _Unit(unit_id, path)
            found[unit_id] = unit
            if division_code:
                found[division_code] = unit
    return found


async def _taken_usernames(session: AsyncSession, names: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(names), CHUNK):
        chunk = names[start : start + CHUNK]
        result = await session.execute(select(User.username).where(User.username.in_(chunk)))
        taken |= {name for name in result.scalars() if name is not None}  # IN never matches NULL
    return taken


async def validate_roster(session: AsyncSession, actor: Actor, roster: Roster) -> list[Checked]:
    codes = sorted({r.values.get("org_code", "").strip() for r in roster.rows} - {""})
    units = await _units_by_code(session, codes)
    checked: list[Checked] = []
    for row in roster.rows:
        errors = list(row.problems)
        noted = {e["field"] for e in row.problems}
        v = row.values
        code = v.get("org_code", "").strip()
        unit = units.get(code)
        if not code:
            errors.append(field_error("org_code", "机构编码不能为空", row.number))
        elif unit is None or not in_scope(actor, PERMISSION, path=unit.path):
            # The same answer for "no such unit" and "not yours", so existence does not leak.
            if "org_code" not in noted:
                errors.append(
                    field_error("org_code", f"机构编码 {code} 不存在或不在您的管理范围内", row.number)
                )
        item = validate_new_user(
            v.get("name", ""),
            v.get("phone", ""),
            unit.id if unit else "",
            v.get("position", ""),
            v.get("id_number") or None,
            v.get("username") or None,
            row=row.number,
        )
        errors += [e for e in item.errors if e["field"] not in noted]
        if item.username and not USERNAME_RE.fullmatch(item.username):
            errors.append(
                field_error("username", "用户名应以字母开头，由3–50位字母、数字、_ . - 组成", row.number)
            )
        checked.append(Checked(row=row, item=item, errors=errors))

    # Within the file, the first otherwise-valid row holding a phone / ID / username wins.
    seen: dict[tuple[str, str], int] = {}
    for c in checked:
        if c.errors:
            continue
        item = c.item
        keys = [("phone", item.phone), ("id_number", item.id_number), ("username", item.username)]
        dups = [(f, seen[(f, value)]) for f, value in keys if value and (f, value) in seen]
        for f, first in dups:
            c.errors.append(
                field_error(f, f"与第 {first} 行的{FIELD_LABELS[f]}重复（一人一号）", c.row.number)
            )
        if not dups:
            for f, value in keys:
                if value:
                    seen[(f, value)] = c.row.number

    # Already registered: blind-index look-ups for the whole file at once.
    valid = [c for c in checked if not c.errors]
    values = {id(c): user_row(c.item) for c in valid}
    phones, ids = await existing_identities(
        session,
        [values[id(c)]["phone_bidx"] for c in valid],
        [values[id(c)]["id_number_bidx"] for c in valid if values[id(c)]["id_number_bidx"]],
    )
    names = await _taken_usernames(session, [c.item.username for c in valid if c.item.username])
    for c in valid:
        v = values[id(c)]
        if v["phone_bidx"] in phones:
            c.errors.append(field_error("phone", "该手机号已有账号（一人一号）", c.row.number))
        if v["id_number_bidx"] and v["id_number_bidx"] in ids:
            c.errors.append(field_error("id_number", "该身份证号已有账号（一人一号）", c.row.number))
        if c.item.username and c.item.username in names:
            c.errors.append(field_error("username", "用户名已被使用", c.row.number))
        c.values = v
    return checked


# --- import --------------------------------------------------------------------------------


@dataclass
class ImportResult:
    import_id: str
    accepted: int
    rejected: int
    errors: list[dict]


async def insert_accounts(session: AsyncSession, rows: list[tuple[dict, str, str]]) -> None:
    """Bulk insert of users and their primary memberships: (user values, unit id, position)."""
    t = now()
    users = [values for values, _, _ in rows]
    memberships = [
        {
            "id": new_id(),
            "user_id": values["id"],
            "unit_id": unit_id,
            "position": position,
            "is_primary": True,
            "created_at": t,
        }
        for values, unit_id, position in rows
    ]
    for start in range(0, len(users), CHUNK):
        await session.execute(cast(Table, User.__table__).insert(), users[start : start + CHUNK])
    for start in range(0, len(memberships), CHUNK):
        await session.execute(cast(Table, Membership.__table__).insert(), memberships[start : start + CHUNK])


def _insert_values(checked: Checked) -> dict:
    assert checked.values is not None, "validate_roster sets values on every row without errors"
    return checked.values


async def import_roster(session: AsyncSession, actor: Actor, content: bytes, filename: str) -> ImportResult:
    """Create the valid rows' accounts (pending activation); report the others."""
    if not actor.grants_for(PERMISSION):
        raise NotFound()
    roster = await read_roster(content, filename)
    checked = await validate_roster(session, actor, roster)
    good = [c for c in checked if not c.errors]
    bad = [c for c in checked if c.errors]
    try:
        await insert_accounts(session, [(_insert_values(c), c.item.unit_id, c.item.position) for c in good])
    except IntegrityError:
        # Another import or administrator created one of these people meanwhile.
        raise Conflict(
            "导入期间其他管理员创建了相同手机号/身份证号/用户名的账号，本次导入未保存，请重新导入"
        ) from None
    errors = [e for c in bad for e in c.errors]
    record = RosterImport(
        id=new_id(),
        created_by=actor.user_id,
        filename=(filename or "名册")[:200],
        accepted=len(good),
        rejected=len(bad),
        report=build_report(roster.columns, bad) if bad else None,
    )
    session.add(record)
    await session.flush()
    audit.record(
        session,
        actor,
        "accounts.roster.imported",
        target_type="roster_import",
        target_id=record.id,
        detail={
            "filename": record.filename,
            "accepted": len(good),
            "rejected": len(bad),
            "unknown_columns": roster.unknown_columns,
        },
    )
    return ImportResult(import_id=record.id, accepted=len(good), rejected=len(bad), errors=errors)


def build_report(columns: list[str], bad: list[Checked]) -> bytes:
    """The rejected rows as they were given, followed by 行号 and 错误原因."""
    rejected = [tabular.Rejected(c.row.number, c.row.cells, c.errors) for c in bad]
    return tabular.error_report(columns, rejected, FIELD_LABELS, width=16)


async def import_report(session: AsyncSession, actor: Actor, import_id: str) -> tuple[str, bytes]:
    """The rejected rows of one's own import (404 for anyone else's); the download is audited."""
    record = await session.get(RosterImport, import_id)
    if record is None or record.created_by != actor.user_id or not actor.grants_for(PERMISSION):
        raise NotFound(kind="roster_import", target_id=import_id, exists=record is not None)
    if record.report is None:
        raise NotFound("本次导入没有被拒绝的行，无错误报告")
    audit.record(
        session,
        actor,
        "accounts.roster_report.downloaded",
        target_type="roster_import",
        target_id=record.id,
        detail={"rejected": record.rejected},
    )
    stem = re.sub(r"\.(xlsx|xls|csv|txt)$", "", record.filename, flags=re.IGNORECASE)
    return f"{stem}-错误行.xlsx", record.report
