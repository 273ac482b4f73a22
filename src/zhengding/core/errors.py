"""Application errors: each carries an HTTP status, a stable code and a Chinese message."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 400
    code = "bad_request"
    default_message = "请求有误"

    def __init__(self, message: str | None = None, details: list[dict[str, Any]] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class Unauthenticated(AppError):
    status, code, default_message = 401, "unauthenticated", "请先登录"


class SessionExpired(AppError):
    status, code, default_message = 401, "session_expired", "登录已过期，请重新登录"


class MfaRequired(AppError):
    status, code, default_message = 401, "mfa_required", "请先完成动态口令验证"


class Forbidden(AppError):
    status, code, default_message = 403, "forbidden", "没有权限执行此操作"


# One message per kind of object, the same whether the object is absent or outside the actor's
# scope (#13 point 9): the answer must not tell the two apart.
NOT_FOUND_MESSAGES: dict[str, str] = {
    "returnee": "返乡人员不存在或无权查看",
    "returnee_anomaly": "异常记录不存在或无权查看",
    "org_unit": "组织机构不存在或无权查看",
    "person": "人员不存在或无权查看",
    "user": "账号不存在或无权查看",
    "role_assignment": "角色分配不存在或无权查看",
    "verification_task": "核查任务不存在或无权查看",
    "verification_photo": "照片不存在或无权查看",
    "verification_transfer": "转办记录不存在或无权查看",
    "verification_batch": "批次不存在或无权查看",
    "nat_import": "导入记录不存在或无权查看",
    "roster_import": "导入记录不存在或无权查看",
    "supervision_item": "督办事项不存在或无权查看",
    "ding": "DING 消息不存在或无权查看",
    "notification": "通知不存在或无权查看",
    "file": "附件不存在或无权查看",
}


class NotFound(AppError):
    """404. With `kind` the message is that kind's one message. `exists` (never answered) says
    the loader found the object outside the actor's scope: the refusal is audited as such."""

    status, code, default_message = 404, "not_found", "对象不存在或无权查看"

    def __init__(
        self,
        message: str | None = None,
        details: list[dict[str, Any]] | None = None,
        *,
        kind: str | None = None,
        target_id: str | None = None,
        exists: bool = False,
    ) -> None:
        super().__init__(message or (NOT_FOUND_MESSAGES[kind] if kind else None), details)
        self.kind, self.target_id, self.exists = kind, target_id, exists


class Conflict(AppError):
    status, code, default_message = 409, "conflict", "与已有数据冲突"


class ValidationFailed(AppError):
    status, code, default_message = 422, "validation_failed", "提交的数据有误"


class Locked(AppError):
    status, code, default_message = 423, "locked", "账号已被临时锁定，请稍后再试"


class RateLimited(AppError):
    status, code, default_message = 429, "rate_limited", "操作过于频繁，请稍后再试"


class PayloadTooLarge(AppError):
    status, code, default_message = 413, "payload_too_large", "提交的内容过大"


def field_error(field: str, reason: str, row: int | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"field": field, "reason": reason}
    if row is not None:
        detail["row"] = row
    return detail
