"""Dispatch use-cases: `resolve_destination`, `route_returnee` (manual routing from a queue),
`reassign_returnee` (moved house). Arrivals from the inbound API: service/ingest.py.

Who is notified:
- an arrival resolved to a village → every member of the village's subtree (its staff and grid
  workers): inbox entry + "returnees.returnee.dispatched", live;
- an arrival that cannot be placed in a village → the members of the deepest resolved unit
  (its manual-routing queue): inbox entry + "returnees.returnee.queued";
- routed / reassigned → the new village's members as for an arrival; the old village's members
  get "returnees.returnee.withdrawn" {id, unit_id (the new one), from_unit_id} so that their
  lists drop it; a returnee leaving a queue is announced to the queue's staff by `oversight`
  ("returnees.returnee.dequeued").
Commands above the holding unit hear of the changed counters ("returnees.stats.changed", see
`oversight`) and see the returnee itself through their subtree scope.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.authz.scope import ensure_in_scope
from zhengding.core.clock import now
from zhengding.core.errors import Conflict, NotFound, ValidationFailed, field_error
from zhengding.core.events import publish_event
from zhengding.core.ids import new_id
from zhengding.divisions.resolver import default_resolver
from zhengding.notify.service import inbox
from zhengding.orgs import service as org_service
from zhengding.orgs.enums import UnitKind
from zhengding.orgs.models import OrgUnit
from zhengding.privacy.masking import mask_name
from zhengding.returnees import repository as repo
from zhengding.returnees import stats_table
from zhengding.returnees.enums import ReturneeStatus
from zhengding.returnees.models import Anomaly, Returnee, ReturneeHistory
from zhengding.returnees.permissions import ROUTE
from zhengding.returnees.views import list_item

PROVINCE_CODE = "460000000000"
_RETURNEE_INSERT: dict[str, Any] = {}


# --- destination → org unit ------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    unit_id: str
    unit_path: str
    unit_name: str
    is_village: bool
    code: str | None
    level: int | None
    path_names: str


_unit_cache: dict[str, tuple[float, tuple[str, str, str, bool] | None]] = {}
_UNIT_TTL = 300.0
# Every unit with a division code, loaded in one query and reloaded after _UNIT_TTL; a code not
# in it is looked up alone (a unit created since), as before.
_units_by_code: dict[str, tuple[str, str, str, bool]] = {}
_units_until = 0.0
# Destination text → placement: travellers' texts repeat (the same building, the same village).
_placements: dict[str, tuple[float, Placement]] = {}
_PLACEMENTS_MAX = 20_000


def _parent_codes(code: str) -> list[str]:
    """The code itself, then its ancestors by the 2-2-2-3-3 structure of division codes."""
    out = [code]
    for keep in (9, 6, 4, 2):
        parent = code[:keep].ljust(12, "0")
        if parent != out[-1]:
            out.append(parent)
    return out


async def _unit_for_code(session: AsyncSession, code: str) -> tuple[str, str, str, bool] | None:
    # Division units neither move nor disappear: a short cache saves a query per arrival.
    global _units_until
    if _units_until <= time.monotonic():
        rows = (
            await session.execute(
                select(OrgUnit.division_code, OrgUnit.id, OrgUnit.path, OrgUnit.name, OrgUnit.kind).where(
                    OrgUnit.division_code.is_not(None)
                )
            )
        ).all()
        _units_by_code.clear()
        _units_by_code.update({c: (i, p, n, k == UnitKind.COMMITTEE) for c, i, p, n, k in rows if c})
        _units_until = time.monotonic() + _UNIT_TTL
    known = _units_by_code.get(code)
    if known is not None:
        return known
    hit = _unit_cache.get(code)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    unit = await org_service.unit_for_division(session, code)
    value = (unit.id, unit.path, unit.name, unit.kind == UnitKind.COMMITTEE) if unit else None
    _unit_cache[code] = (time.monotonic() + _UNIT_TTL, value)
    return value


async def resolve_destination(session: AsyncSession, text: str) -> Placement:
    """The village the text names with certainty, else the deepest unit it names (its queue),
    else the province (destination outside the province or unreadable)."""
    hit = _placements.get(text)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    place = await _resolve_destination(session, text)
    if len(_placements) >= _PLACEMENTS_MAX:
        _placements.clear()
    _placements[text] = (time.monotonic() + _UNIT_TTL, place)
    return place


async def _resolve_destination(session: AsyncSession, text: str) -> Placement:
    r = default_resolver().resolve(text)
    codes = _parent_codes(r.code) if r.code else []
    for code in [*codes, PROVINCE_CODE]:
        unit = await _unit_for_code(session, code)
        if unit is not None:
            unit_id, path, name, village = unit
            return Placement(unit_id, path, name, village, r.code, r.level, "/".join(r.path))
    raise RuntimeError("the province's org tree is not loaded")


async def _announce(session: AsyncSession, r: Returnee, unit_name: str, *, arrival: bool) -> None:
    """Push the returnee to the holding unit's people (village subtree, or the queue unit's members)."""
    item = list_item(r, unit_name)
    if r.status == ReturneeStatus.ROUTING:
        users = await repo.members_of(session, [r.unit_id])
        title = f"待分派返乡人员：{mask_name(r.name)}（目的地无法确定到村）"
        kind, event = "returnees.routing", "returnees.returnee.queued"
        link = "/returnees/routing"
    else:
        users = await repo.members_under(session, r.unit_path)
        title = f"新的返乡人员：{mask_name(r.name)}，{r.port_of_entry}{'入琼' if arrival else ''}"
        kind, event = "returnees.arrival", "returnees.returnee.dispatched"
        link = f"/returnees/{r.id}"
    if not users:
        return
    await inbox.notify_users(
        session,
        users,
        kind=kind,
        title=title,
        body=f"目的地：{item['destination_text']}",
        link=link,
        object_type="returnee",
        object_id=r.id,
        source="returnees",
        push=False,
    )
    publish_event(session, event, item, users=users)


# --- manual routing and reassignment -----------------------------------------------------------


async def _target_village(session: AsyncSession, actor: Actor, village_id: str) -> OrgUnit:
    unit = await org_service.access_unit(session, actor, village_id, ROUTE)
    if unit.kind != UnitKind.COMMITTEE:
        raise ValidationFailed("只能分派到村（社区）", [field_error("village_id", "请选择村（社区）")])
    return unit


async def _load_for_route(session: AsyncSession, actor: Actor, returnee_id: str) -> Returnee:
    r = await repo.get(session, returnee_id, for_update=True)
    if r is None:
        raise NotFound(kind="returnee", target_id=returnee_id)
    ensure_in_scope(actor, ROUTE, kind="returnee", target_id=r.id, path=r.unit_path)
    return r


async def route_returnee(
    session: AsyncSession, actor: Actor, returnee_id: str, village_id: str, note: str = ""
) -> Returnee:
    """Staff of a routing queue pick the village."""
    r = await _load_for_route(session, actor, returnee_id)
    if r.status != ReturneeStatus.ROUTING:
        raise Conflict("该人员已分派到村")
    village = await _target_village(session, actor, village_id)
    if not village.path.startswith(r.unit_path):
        raise ValidationFailed(
            "只能分派到本级管辖的村（社区）", [field_error("village_id", "不在本级管辖范围")]
        )
    await _move(session, actor, r, village, kind="routed", note=note)
    return r


async def reassign_returnee(
    session: AsyncSession, actor: Actor, returnee_id: str, village_id: str, note: str = ""
) -> Returnee:
    """Moved house: hand the returnee to another village, keeping the course so far."""
    r = await _load_for_route(session, actor, returnee_id)
    if r.status in (ReturneeStatus.ROUTING, ReturneeStatus.RELEASED):
        raise Conflict("待分派或已解除的人员不能转移")
    village = await _target_village(session, actor, village_id)
    if village.id == r.unit_id:
        raise ValidationFailed("已在该村（社区）", [field_error("village_id", "与当前所属相同")])
    await _move(session, actor, r, village, kind="reassigned", note=note)
    return r


async def _move(
    session: AsyncSession, actor: Actor, r: Returnee, village: OrgUnit, *, kind: str, note: str
) -> None:
    old_unit, old_path, old_status = r.unit_id, r.unit_path, r.status
    at = now()
    if old_status == ReturneeStatus.ROUTING:
        contrib = stats_table.contributions(r)
        await stats_table.bump(session, r, {k: -v for k, v in contrib.items()})
        r.status = str(ReturneeStatus.DISPATCHED)
        r.dispatched_at = at
        r.unit_id, r.unit_path = village.id, village.path
        await stats_table.bump(session, r, stats_table.contributions(r))
    else:
        await stats_table.move(session, r, village.id, village.path)
        if r.status == ReturneeStatus.DISPATCHED:
            r.dispatched_at = at  # the new village's acknowledgement deadline starts now
    # Open and past anomalies follow the returnee (the new village and its commands track them).
    await session.execute(update(Anomaly).where(Anomaly.returnee_id == r.id).values(unit_path=village.path))
    session.add(
        ReturneeHistory(
            id=new_id(),
            returnee_id=r.id,
            kind=kind,
            actor_id=actor.user_id,
            actor_name=actor.name,
            from_unit_id=old_unit,
            to_unit_id=village.id,
            note=note.strip(),
            at=at,
        )
    )
    await _announce(session, r, village.name, arrival=False)
    if old_status != ReturneeStatus.ROUTING:
        gone = await repo.members_under(session, old_path)
        if gone:
            publish_event(
                session,
                "returnees.returnee.withdrawn",
                {"id": r.id, "unit_id": village.id, "from_unit_id": old_unit},
                users=gone,
            )
    audit.record(
        session,
        actor,
        f"returnees.returnee.{kind}",
        target_type="returnee",
        target_id=r.id,
        detail={"from_unit_id": old_unit, "to_unit_id": village.id},
    )
