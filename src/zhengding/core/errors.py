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


class NotFound(AppError):
    status, code, default_message = 404, "not_found", "对象不存在或无权查看"


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
