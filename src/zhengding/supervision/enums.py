from __future__ import annotations

from enum import StrEnum


class ItemStatus(StrEnum):
    OPEN = "open"  # 办理中
    CLOSED = "closed"  # 已办结 (every owner accepted)
    RECURRING = "recurring"  # a recurring request: creates an instance per period
    STOPPED = "stopped"  # a recurring request that no longer creates instances
    CANCELLED = "cancelled"  # 已撤销 by the assigner: closed, excluded from statistics


class OwnerStatus(StrEnum):
    ASSIGNED = "assigned"  # 待办理
    IN_PROGRESS = "in_progress"  # 办理中
    SUBMITTED = "submitted"  # 待审核 (completion report posted)
    RETURNED = "returned"  # 已退回
    ACCEPTED = "accepted"  # 已办结
    CANCELLED = "cancelled"  # 已撤销 (the item was cancelled before this owner finished)


UNFINISHED = (OwnerStatus.ASSIGNED, OwnerStatus.IN_PROGRESS, OwnerStatus.RETURNED)


class OwnerKind(StrEnum):
    UNIT = "unit"
    USER = "user"


class OwnerRole(StrEnum):
    LEAD = "lead"  # 牵头
    CO = "co"  # 协办


class SourceKind(StrEnum):
    INSTRUCTION = "instruction"  # 领导批示
    MEETING = "meeting"  # 会议部署
    DOCUMENT = "document"  # 文件
    OTHER = "other"


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"
    CRITICAL = "critical"


class Recurrence(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class UpdateKind(StrEnum):
    ASSIGNED = "assigned"
    PROGRESS = "progress"
    COMPLETION = "completion"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    URGED = "urged"
    REMINDED = "reminded"
    OVERDUE = "overdue"
    SPLIT = "split"
    DEADLINE = "deadline"  # 时限调整
    CANCELLED = "cancelled"  # 撤销


LABELS = {
    OwnerStatus.ASSIGNED: "待办理",
    OwnerStatus.IN_PROGRESS: "办理中",
    OwnerStatus.SUBMITTED: "待审核",
    OwnerStatus.RETURNED: "已退回",
    OwnerStatus.ACCEPTED: "已办结",
    OwnerStatus.CANCELLED: "已撤销",
}
