"""The owner's state machine (pure, no I/O).

    assigned ──progress──▶ in_progress ──completion──▶ submitted ──accept──▶ accepted
        │                      ▲                          │
        └──────completion──────┼──────────────────────────┤
                               └──────── returned ◀──return┘   (returned ──progress/completion──▶ …)

An item closes when every owner is accepted. Without review (recurring reports), a completion
report is accepted at once.
"""

from __future__ import annotations

from zhengding.core.errors import Conflict
from zhengding.supervision.enums import UNFINISHED, OwnerStatus


def after_report(status: str, *, final: bool, requires_review: bool) -> OwnerStatus:
    if status not in UNFINISHED:
        if status == OwnerStatus.SUBMITTED:
            raise Conflict("已提交办结报告，等待审核")
        raise Conflict("该事项已办结")
    if not final:
        return OwnerStatus.IN_PROGRESS
    return OwnerStatus.SUBMITTED if requires_review else OwnerStatus.ACCEPTED


def after_review(status: str, decision: str) -> OwnerStatus:
    if status != OwnerStatus.SUBMITTED:
        raise Conflict("没有待审核的办结报告")
    return OwnerStatus.ACCEPTED if decision == "accept" else OwnerStatus.RETURNED


def is_unfinished(status: str) -> bool:
    return status in UNFINISHED
