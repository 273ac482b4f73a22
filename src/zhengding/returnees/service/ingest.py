"""Receiving registrations from the inbound API: `apply_submissions` (any number of signed
requests in one transaction, a constant number of statements) and `GroupCommit` (the single-
record endpoint: the requests in flight share one transaction and one commit).

Per transaction, whatever the number of records: one INSERT of the nonces (… ON CONFLICT DO
NOTHING RETURNING), one INSERT of the returnees (same), one SELECT of the prior records when
some were replays or conflicts, one INSERT of their history rows, one upsert of the summary
counters, one SELECT of the people to notify, one INSERT of their inbox entries, the audit chain
(one SELECT, one INSERT), and a DELETE of the nonces of refused single requests when any.

Semantics per request, as when each request had its own transaction:
- the nonce is claimed first: a reused nonce refuses the request and stores nothing of it;
- (source, registration id) is unique: the first insert wins, a later one with the same body is
  a replay (the stored original answer, no change), with another body a conflict;
- a single-record request whose record is rejected or in conflict fails (422/409): its nonce is
  released in the same transaction, as the rollback of its own transaction would have done;
- nothing is acknowledged before the shared commit; an error in one request's work falls back to
  one SAVEPOINT per request, so that only that request fails.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections import defaultdict
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import orjson
from sqlalchemy import TextClause, and_, bindparam, insert, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.audit.service import RequestInfo
from zhengding.core.clock import local_day, now
from zhengding.core.db import Database, get_db
from zhengding.core.events import publish_event
from zhengding.core.hashing import sm3_hex
from zhengding.core.ids import new_id
from zhengding.notify.models import Notification
from zhengding.orgs.models import Membership, OrgUnit
from zhengding.privacy.crypto import blind_index
from zhengding.privacy.masking import mask_name
from zhengding.returnees import stats_table
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Returnee, ReturneeHistory
from zhengding.returnees.schemas import Registration, parse_registration
from zhengding.returnees.service import inbound
from zhengding.returnees.service.dispatch import Placement, resolve_destination
from zhengding.returnees.views import list_item

log = logging.getLogger("zhengding.returnees.ingest")
_RETURNEE_INSERT: dict[str, Any] = {}
_CONFLICT = [{"field": "registration_id", "reason": "该登记编号已提交过不同的内容"}]
_RETURNEE_DEFAULTS: dict[str, Any] = {c.key: None for c in Returnee.__mapper__.column_attrs}


@dataclass
class ItemResult:
    index: int
    registration_id: str | None
    status: str  # accepted | replayed | rejected | conflict
    result: dict[str, Any] | None = None
    errors: list[dict[str, str]] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.index,
            "registration_id": self.registration_id,
            "status": self.status,
        }
        if self.result is not None:
            out.update(self.result)
        if self.errors is not None:
            out["errors"] = self.errors
        return out


@dataclass
class Submission:
    """One signed request's records. `nonce` is claimed in the transaction (None: already
    claimed by the caller). `single`: the request fails as a whole when its record does."""

    source: inbound.SourceRef
    items: list[Any]
    nonce: str | None = None
    single: bool = False
    request: RequestInfo | None = None
    # outcome
    nonce_refused: bool = False
    results: list[ItemResult] = field(default_factory=list)
    error: BaseException | None = None

    def reset(self) -> None:
        self.nonce_refused, self.results, self.error = False, [], None


@dataclass
class _Fresh:
    sub: Submission
    index: int
    reg: Registration
    digest: str
    place: Placement
    values: dict[str, Any]


def _digest(item: dict[str, Any]) -> str:
    return sm3_hex(orjson.dumps(item, option=orjson.OPT_SORT_KEYS))


def _returnee_insert(dialect_name: str) -> Any:
    stmt = _RETURNEE_INSERT.get(dialect_name)
    if stmt is None:  # one constant statement per dialect: compiled once, values as parameters
        dialect = postgresql if dialect_name == "postgresql" else sqlite
        stmt = _RETURNEE_INSERT[dialect_name] = (
            dialect.insert(Returnee)
            .on_conflict_do_nothing(index_elements=["source_id", "registration_id"])
            .returning(Returnee.id)
        )
    return stmt


async def _row(session: AsyncSession, sub: Submission, reg: Registration, digest: str) -> _Fresh:
    at = now()
    place = await resolve_destination(session, reg.destination)
    returnee_id = new_id()
    result = {
        "id": returnee_id,
        "dispatch": "village" if place.is_village else "routing",
        "unit_id": place.unit_id,
        "unit_name": place.unit_name,
        "resolved": {"code": place.code, "level": place.level, "path": place.path_names},
    }
    status = ReturneeStatus.DISPATCHED if place.is_village else ReturneeStatus.ROUTING
    values = dict(
        id=returnee_id,
        source_id=sub.source.id,
        registration_id=reg.registration_id,
        body_digest=digest,
        result=result,
        name=reg.name,
        name_bidx=blind_index("name", reg.name),
        id_number=reg.id_number,
        id_number_bidx=blind_index("id_number", reg.id_number),
        phone=reg.phone,
        phone_bidx=blind_index("phone", reg.phone),
        origin_province=reg.origin_province,
        origin_city=reg.origin_city,
        origin_risk_area=reg.origin_risk_area,
        port_of_entry=reg.port_of_entry,
        arrived_at=reg.arrived_at,
        transport=reg.transport,
        transport_no=reg.transport_no,
        destination_text=reg.destination,
        health_code=reg.health_code,
        resolved_code=place.code,
        resolved_level=place.level,
        resolved_path=place.path_names[:200],
        status=str(status),
        unit_id=place.unit_id,
        unit_path=place.unit_path,
        day=local_day(reg.arrived_at),
        received_at=at,
        dispatched_at=at if place.is_village else None,
        household_note="",
        anomaly_count=0,
        open_anomalies=0,
        created_at=at,
    )
    return _Fresh(sub, 0, reg, digest, place, values)


async def apply_submissions(session: AsyncSession, subs: list[Submission]) -> None:
    """Apply the requests in the session's transaction (the caller commits); fills each
    submission's outcome."""
    # 1. Validation and every row's values: no statement yet (no lock held on SQLite).
    candidates: list[_Fresh] = []
    for sub in subs:
        sub.reset()
        for index, item in enumerate(sub.items):
            reg, errors = parse_registration(item)
            if reg is None:
                rid = item.get("registration_id") if isinstance(item, dict) else None
                sub.results.append(
                    ItemResult(index, rid if isinstance(rid, str) else None, "rejected", errors=errors)
                )
                continue
            row = await _row(session, sub, reg, _digest(item))
            row.index = index
            candidates.append(row)

    # 2. Nonces first: a request whose nonce was used stores nothing.
    claiming = [s for s in subs if s.nonce is not None]
    nonce_rows: dict[int, str] = {}
    if claiming:
        claimed = await inbound.claim_nonces(session, [(s.source.id, s.nonce or "") for s in claiming])
        for sub, row_id in zip(claiming, claimed, strict=True):
            if row_id is None:
                sub.nonce_refused = True
                sub.results = []
            else:
                nonce_rows[id(sub)] = row_id
    candidates = [c for c in candidates if not c.sub.nonce_refused]

    # 3. The returnees: the first insert of (source, registration id) wins.
    inserted: set[str] = set()
    if candidates:
        stmt = _returnee_insert(session.bind.dialect.name)  # type: ignore[union-attr]
        result = await (await session.connection()).execute(stmt, [c.values for c in candidates])
        inserted = set(result.scalars())
    fresh = [c for c in candidates if c.values["id"] in inserted]
    others = [c for c in candidates if c.values["id"] not in inserted]
    if others:
        prior = await _prior(session, others)
        for c in others:
            digest, answer = prior[(c.sub.source.id, c.reg.registration_id)]
            if digest == c.digest:
                c.sub.results.append(ItemResult(c.index, c.reg.registration_id, "replayed", result=answer))
            else:
                c.sub.results.append(ItemResult(c.index, c.reg.registration_id, "conflict", errors=_CONFLICT))
    for c in fresh:
        c.sub.results.append(
            ItemResult(c.index, c.reg.registration_id, "accepted", result=c.values["result"])
        )

    # 4. A single request whose record failed keeps no nonce (its own transaction would have rolled back).
    failed = [
        nonce_rows[id(s)]
        for s in subs
        if s.single and id(s) in nonce_rows and any(r.status in ("rejected", "conflict") for r in s.results)
    ]
    await inbound.release_nonces(session, failed)
    for sub in subs:
        sub.results.sort(key=lambda r: r.index)

    # 5. What follows an arrival: history, counters, inbox entries, audit, live push.
    if fresh:
        await _dispatch(session, fresh)


async def _prior(
    session: AsyncSession, rows: list[_Fresh]
) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    by_source: dict[str, list[str]] = defaultdict(list)
    for c in rows:
        by_source[c.sub.source.id].append(c.reg.registration_id)
    stmt = select(Returnee.source_id, Returnee.registration_id, Returnee.body_digest, Returnee.result).where(
        or_(
            *[
                and_(Returnee.source_id == s, Returnee.registration_id.in_(ids))
                for s, ids in by_source.items()
            ]
        )
    )
    return {(s, rid): (digest, answer) for s, rid, digest, answer in (await session.execute(stmt)).all()}


async def _dispatch(session: AsyncSession, fresh: list[_Fresh]) -> None:
    conn = await session.connection()
    await conn.execute(
        insert(ReturneeHistory),
        [
            {
                "id": new_id(),
                "returnee_id": c.values["id"],
                "kind": "dispatched" if c.place.is_village else "queued",
                "actor_id": None,
                "actor_name": "健康码系统",
                "from_unit_id": None,
                "to_unit_id": c.place.unit_id,
                "note": f"目的地解析：{c.place.path_names or '无法解析'}",
                "at": c.values["received_at"],
            }
            for c in fresh
        ],
    )

    # Read-only views of the new rows, for the counters and the pushed item: not ORM objects,
    # whose ~50 instrumented attribute sets each cost more than the rest of a record's work.
    returnees = [cast(Returnee, SimpleNamespace(**{**_RETURNEE_DEFAULTS, **c.values})) for c in fresh]
    await stats_table.upsert(session, stats_table.add_arrivals(returnees))

    # The people of each holding unit: a village's subtree, or a routing queue's own members.
    villages = sorted({r.unit_path for r in returnees if r.status != ReturneeStatus.ROUTING})
    queues = sorted({r.unit_id for r in returnees if r.status == ReturneeStatus.ROUTING})
    params: dict[str, Any] = {f"p{i}": p for i, p in enumerate(villages)}
    params.update({f"q{i}": p + "\x7f" for i, p in enumerate(villages)})
    if queues:
        params["queues"] = queues
    village_set, queue_set = set(villages), set(queues)
    holders: dict[str, list[str]] = defaultdict(list)  # village path or queue unit id -> user ids
    for user_id, unit_id, path in await session.execute(_holders_sql(len(villages), bool(queues)), params):
        if unit_id in queue_set:
            holders[unit_id].append(user_id)
        end = path.find("/", 1)
        while end != -1:  # the village whose subtree holds the unit is a prefix of its path
            if (prefix := path[: end + 1]) in village_set:
                holders[prefix].append(user_id)
            end = path.find("/", end + 1)

    notes: list[dict[str, Any]] = []
    info = session.info.get("request")
    try:
        for c, r in zip(fresh, returnees, strict=True):
            item = list_item(r, c.place.unit_name)
            if r.status == ReturneeStatus.ROUTING:
                users = list(dict.fromkeys(holders.get(r.unit_id, ())))
                title = f"待分派返乡人员：{mask_name(r.name)}（目的地无法确定到村）"
                kind, event, link = "returnees.routing", "returnees.returnee.queued", "/returnees/routing"
            else:
                users = list(dict.fromkeys(holders.get(r.unit_path, ())))
                title = f"新的返乡人员：{mask_name(r.name)}，{r.port_of_entry}入琼"
                kind, event, link = "returnees.arrival", "returnees.returnee.dispatched", f"/returnees/{r.id}"
            if users:
                # inbox entries as zhengding.notify.service.inbox.notify_users(…, push=False) writes them
                notes += [
                    {
                        "id": new_id(),
                        "user_id": u,
                        "kind": kind,
                        "title": title,
                        "body": f"目的地：{item['destination_text']}",
                        "link": link,
                        "object_type": "returnee",
                        "object_id": r.id,
                        "sender_id": None,
                        "source": "returnees",
                        "read_at": None,
                        "created_at": r.received_at,
                    }
                    for u in users
                ]
                publish_event(session, event, item, users=users)
            if c.sub.request is not None:
                session.info["request"] = c.sub.request  # the audit row names the request that brought it
            audit.record(
                session,
                None,
                "returnees.registration.received",
                target_type="returnee",
                target_id=r.id,
                detail={
                    "source": c.sub.source.name,
                    "dispatch": c.values["result"]["dispatch"],
                    "unit_id": c.place.unit_id,
                },
            )
    finally:
        if info is not None:
            session.info["request"] = info
        else:
            session.info.pop("request", None)
    if notes:
        await conn.execute(insert(Notification), notes)


@functools.lru_cache(maxsize=256)
def _holders_sql(villages: int, queues: bool) -> TextClause:
    """Members of `villages` village subtrees (path ranges :p<i> ≤ path < :q<i>) and of the
    routing queues (:queues). Plain SQL text, cached per shape: a select() with up to 64 OR-ed
    ranges costs more to build and key for the statement cache than to run."""
    m, u = Membership.__tablename__, OrgUnit.__tablename__
    conds = [f"(u.path >= :p{i} AND u.path < :q{i})" for i in range(villages)]
    if queues:
        conds.append("m.unit_id IN :queues")
    stmt = text(
        f"SELECT m.user_id, m.unit_id, u.path FROM {m} m JOIN {u} u ON u.id = m.unit_id "
        f"WHERE {' OR '.join(conds) or '1 = 0'}"
    )
    return stmt.bindparams(bindparam("queues", expanding=True)) if queues else stmt


async def receive_registrations(
    session: AsyncSession, source: inbound.SourceRef, items: list[Any], *, nonce: str | None = None
) -> Submission:
    """One request's records in the session's transaction (the batch endpoint)."""
    sub = Submission(source, items, nonce=nonce, request=session.info.get("request"))
    await apply_submissions(session, [sub])
    return sub


# --- group commit for the single-record endpoint ---------------------------------------------

MAX_GROUP = 64
# Before a group closes, the loop runs this many times more, so that requests whose bytes are
# already read (parsed, verified, a step away from `submit`) join it: a few microseconds when
# idle; with 16 requests in flight, groups grew and the server's CPU per request fell ~20%.
JOIN_TURNS = 8


class GroupCommit:
    """Requests submitted while a transaction is running wait for the next one; each drain takes
    everything pending (up to MAX_GROUP), applies it in one transaction, commits, and only then
    answers. No timer: a lone request goes after JOIN_TURNS turns of the event loop; under load,
    groups form by themselves."""

    def __init__(self) -> None:
        self._pending: list[tuple[Submission, asyncio.Future[Submission]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, sub: Submission) -> Submission:
        future: asyncio.Future[Submission] = asyncio.get_running_loop().create_future()
        self._pending.append((sub, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="returnees-group-commit")
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            for _ in range(JOIN_TURNS):
                if len(self._pending) >= MAX_GROUP:
                    break
                await asyncio.sleep(0)
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            try:
                await run_group(get_db(), [s for s, _ in group])
            except BaseException as exc:  # the commit failed (or we were cancelled): nobody is acknowledged
                if not isinstance(exc, Exception):  # cancelled (shutdown): nobody waits forever
                    group, self._pending = group + self._pending, []
                for _, future in group:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for sub, future in group:
                if not future.done():
                    future.set_result(sub)


async def run_group(db: Database, subs: list[Submission]) -> None:
    """Apply and commit; raises when the commit fails. A failure while applying is retried with
    one SAVEPOINT per submission: the failing one gets `error`, the others go on."""
    session = db.new_session()
    try:
        try:
            await apply_submissions(session, subs)
        except Exception:
            log.exception("group of %d inbound requests failed: retrying one by one", len(subs))
            await _discard(session)
            await _apply_isolated(session, subs)
        await db.commit(session)
    except BaseException:
        await session.rollback()
        session.info.pop("events", None)
        raise
    finally:
        await session.close()


async def _discard(session: AsyncSession) -> None:
    await session.rollback()
    for key in ("audit", "events", "deferred"):
        session.info.pop(key, None)


async def _apply_isolated(session: AsyncSession, subs: list[Submission]) -> None:
    for sub in subs:
        marks = {key: len(session.info.get(key, [])) for key in ("audit", "events")}
        try:
            async with session.begin_nested():
                await apply_submissions(session, [sub])
        except Exception as exc:  # noqa: BLE001 - this request fails alone
            for key, n in marks.items():
                if key in session.info:
                    del session.info[key][n:]
            sub.reset()
            sub.error = exc


_committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = weakref.WeakKeyDictionary()


def group_commit() -> GroupCommit:
    loop = asyncio.get_running_loop()
    committer = _committers.get(loop)
    if committer is None:
        committer = _committers[loop] = GroupCommit()
    return committer
