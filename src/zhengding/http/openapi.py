"""The error answers in the OpenAPI document, declared once for every operation.

The routes declare only their success answer; what the shared mechanism answers on failure is
added here, from the facts that decide it, so the document lists what the app really answers
(and the web's generated types know the error body):

    401, 403  the route needs a signed-in user (authz/routes.toml: not "public"), or it is a
              write (a login or an activation that fails answers 401)
    404       the operation names something: a path or query parameter, or a body
    409, 413, 429
              every write (POST, PUT, PATCH, DELETE): a state conflict, the body limit of the
              middleware, the per-user rate limits
    422       the operation has parameters or a body, or is a write (services refuse data)
    423       the routes that check a password or a code (the lockout of accounts/service)

Every one of them has the body of http/errors.py, `ErrorBody`, instead of FastAPI's default
`HTTPValidationError`, which this app never sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from zhengding.authz.matrix import PUBLIC, matrix

_READS = {"get", "head", "options"}
_CREDENTIAL_CHECKS = {
    ("post", "/api/auth/login"),
    ("post", "/api/accounts/activate"),
    ("post", "/api/auth/password"),
    ("post", "/api/auth/totp/verify"),
    ("post", "/api/auth/totp/confirm"),
}
DESCRIPTIONS = {
    401: "未登录、登录已过期或未完成动态口令验证",
    403: "没有权限执行此操作",
    404: "对象不存在或无权查看",
    409: "与已有数据或当前状态冲突",
    413: "提交的内容过大",
    422: "参数或提交的数据有误（details 逐项列出字段与原因）",
    423: "账号已被临时锁定",
    429: "操作过于频繁",
}


class ErrorDetail(BaseModel):
    field: str
    reason: str
    row: int | None = None


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    error: ErrorInfo


def error_statuses(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    write = method not in _READS
    has_input = bool(operation.get("parameters") or operation.get("requestBody"))
    statuses: set[int] = set()
    if write or matrix().get(f"{method.upper()} {path}") != PUBLIC:
        statuses |= {401, 403}
    if has_input:
        statuses |= {404, 422}
    if write:
        statuses |= {409, 413, 422, 429}
    if (method, path) in _CREDENTIAL_CHECKS:
        statuses.add(423)
    return statuses


def declare_errors(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(body.pop("$defs", {}))
    schemas["ErrorBody"] = body
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status in sorted(error_statuses(method, path, operation)):
                # a route's own description stays; FastAPI's 422 (HTTPValidationError) does not
                if str(status) not in responses or status == 422:
                    responses[str(status)] = {"description": DESCRIPTIONS[status], "content": content}
    if "HTTPValidationError" not in str(document.get("paths")):
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
    return document


def install(app: FastAPI) -> None:
    """`app.openapi()` answers the document with the error responses (built once, cached)."""
    build = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(build())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
