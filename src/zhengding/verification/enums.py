from __future__ import annotations

from enum import StrEnum


class TaskStatus(StrEnum):
    PENDING = "pending"  # at the batch's root unit (the province's manual queue), not dispatched
    DISPATCHED = "dispatched"  # held by a unit below the root, no grid worker named yet
    IN_PROGRESS = "in_progress"  # assigned to a named grid worker
    REPLIED = "replied"  # replied 回单, climbing the chain for review
    CLOSED = "closed"


OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.DISPATCHED, TaskStatus.IN_PROGRESS, TaskStatus.REPLIED)


class EventKind(StrEnum):
    CREATED = "created"
    ROUTED = "routed"  # automatic dispatch by clue at import
    DISPATCHED = "dispatched"
    ASSIGNED = "assigned"  # to a named grid worker
    TRANSFER_REQUESTED = "transfer_requested"
    TRANSFER_ACCEPTED = "transfer_accepted"
    TRANSFER_REJECTED = "transfer_rejected"
    REPLIED = "replied"
    REPLY_ACCEPTED = "reply_accepted"
    REPLY_RETURNED = "reply_returned"
    CLOSED = "closed"
    NAT_RESULT = "nat_result"
    OVERDUE = "overdue"


class TransferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class NatResult(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"


NAT_LABELS = {
    "阴性": NatResult.NEGATIVE,
    "阳性": NatResult.POSITIVE,
    "negative": NatResult.NEGATIVE,
    "positive": NatResult.POSITIVE,
    "-": NatResult.NEGATIVE,
    "+": NatResult.POSITIVE,
    "neg": NatResult.NEGATIVE,
    "pos": NatResult.POSITIVE,
}
STATUS_LABELS = {
    "pending": "待派发",
    "dispatched": "已派发",
    "in_progress": "核查中",
    "replied": "已回单",
    "closed": "已办结",
}
