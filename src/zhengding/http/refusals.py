"""Refused and out-of-scope attempts leave an audit row (#13 point 11).

- 403 (Forbidden: the route matrix in deps.current_actor, or a service's own rule)
  → "security.access.refused"
- 404 raised by a loader for an object that exists outside the actor's scope (NotFound with
  `exists`; the answer is still the one for an absent object, #13 point 9)
  → "security.scope.refused", target = that object
- 429 (RateLimited) → "security.rate.limited"

A 404 for an id that does not exist writes no row: the row would claim an object that is not
there, and anyone could fill the table by asking for random ids.

By the time the error is answered, UnitOfWorkRoute has rolled back the request's transaction
(and closed its session: on SQLite the single writer connection is free again), so the row is
written in a short transaction of its own, which commits whatever happens to the request's.
Writing it never changes the answer: a failure is logged.

Flooding is bounded per process: at most `ZD_AUDIT_REFUSALS_PER_MINUTE` (default 30) rows per
minute for one actor (or address) and action; the refusals beyond are counted and the next row
written carries that count as `suppressed`. Per process, so N nodes write up to N times that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from zhengding.audit import service as audit
from zhengding.authz.actor import Actor
from zhengding.config import get_settings
from zhengding.core.clock import now
from zhengding.core.db import get_db
from zhengding.core.errors import AppError, Forbidden, NotFound, RateLimited

log = logging.getLogger("zhengding")

ACCESS_REFUSED = "security.access.refused"
SCOPE_REFUSED = "security.scope.refused"
RATE_LIMITED = "security.rate.limited"
_MAX_KEYS = 10_000
# A path parameter names the target as the domains' own audit rows do (target_type), so that
# one object's rows are found together (ix_audit_log_target).
_TARGET_TYPES = {
    "unit_id": "org_unit",
    "user_id": "user",
    "returnee_id": "returnee",
    "anomaly_id": "returnee_anomaly",
    "task_id": "verification_task",
    "photo_id": "verification_photo",
    "transfer_id": "verification_transfer",
    "batch_id": "verification_batch",
    "item_id": "supervision_item",
    "ding_id": "ding",
    "notification_id": "notification",
    "file_id": "file",
    "row_id": "outbox",
    "assignment_id": "role_assignment",
}


def _per_minute() -> int:
    return get_settings().audit_refusals_per_minute


@dataclass
class _Window:
    minute: int
    written: int = 0
    suppressed: int = 0


_windows: dict[tuple[str, str], _Window] = {}


def reset_limits() -> None:
    _windows.clear()


def _admit(who: str, action: str) -> int | None:
    """None when this refusal is over the bound (counted); else how many were left out before it."""
    minute = int(now().timestamp() // 60)
    key = (who, action)
    window = _windows.get(key)
    if window is None or window.minute != minute:
        if len(_windows) >= _MAX_KEYS:
            _windows.clear()  # a crude bound on memory: at worst a few more rows are written
        carried = window.suppressed if window else 0
        window = _windows[key] = _Window(minute, suppressed=carried)
    if window.written >= _per_minute():
        window.suppressed += 1
        return None
    window.written += 1
    left_out, window.suppressed = window.suppressed, 0
    return left_out


def classify(exc: AppError) -> str | None:
    if isinstance(exc, Forbidden):
        return ACCESS_REFUSED
    if isinstance(exc, NotFound):
        return SCOPE_REFUSED if exc.exists else None
    if isinstance(exc, RateLimited):
        return RATE_LIMITED
    return None


def _target(request: Request, exc: AppError) -> tuple[str | None, str | None]:
    if isinstance(exc, NotFound) and exc.target_id:
        return exc.kind, exc.target_id
    params = request.path_params
    if params:
        name, value = next(iter(params.items()))
        return _TARGET_TYPES.get(name, name.removesuffix("_id")), str(value)[:64]
    return None, None


async def audit_refusal(request: Request, exc: AppError) -> None:
    action = classify(exc)
    if action is None:
        return
    actor: Actor | None = getattr(request.state, "actor", None)
    ip: str | None = getattr(request.state, "client_ip", None)
    left_out = _admit(actor.user_id if actor else f"ip:{ip}", action)
    if left_out is None:
        return
    route = request.scope.get("route")
    detail: dict[str, Any] = {
        "route": f"{request.method} {getattr(route, 'path', request.url.path)}",
        "status": exc.status,
        "message": exc.message,
    }
    permission = getattr(request.state, "required_permission", None)
    if permission:
        detail["permission"] = permission
    if request.path_params:
        detail["path_params"] = {k: str(v)[:64] for k, v in request.path_params.items()}
    if left_out:
        detail["suppressed"] = left_out
    target_type, target_id = _target(request, exc)
    try:
        async with get_db().unit_of_work() as session:
            audit.set_request_info(
                session, audit.RequestInfo(ip=ip, request_id=getattr(request.state, "request_id", None))
            )
            audit.record(
                session,
                actor,
                action,
                target_type=target_type,
                target_id=target_id,
                result="denied",
                detail=detail,
            )
    except Exception:  # the refusal is answered whatever happens to its audit row
        log.exception("could not audit %s of %s %s", action, request.method, request.url.path)
