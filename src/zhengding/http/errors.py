"""Every error answers {"error": {"code", "message", "details"?}} with a Chinese message."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from zhengding.core.errors import AppError
from zhengding.http import refusals
from zhengding.http.responses import JSON

log = logging.getLogger("zhengding")

_PYDANTIC_REASONS = {
    "missing": "必填",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "string_type": "应为文本",
    "int_parsing": "应为整数",
    "int_parsing_size": "数值过大",
    "int_type": "应为整数",
    "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false",
    "json_invalid": "不是有效的 JSON",
    "extra_forbidden": "不允许的字段",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "string_pattern_mismatch": "格式不正确",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "timezone_aware": "时间须带时区，如 2026-01-25T14:30:00+08:00",
    "datetime_type": "时间格式应为 ISO 8601，如 2026-01-25T14:30:00+08:00",
    "datetime_parsing": "时间格式应为 ISO 8601，如 2026-01-25T14:30:00+08:00",
    "datetime_from_date_parsing": "时间格式应为 ISO 8601，如 2026-01-25T14:30:00+08:00",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "greater_than": "数值过小",
    "less_than": "数值过大",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "finite_number": "应为数字",
    "list_type": "应为列表",
    "set_type": "应为列表",
    "tuple_type": "应为列表",
    "too_short": "条目过少",
    "too_long": "条目过多",
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "string_unicode": "应为文本",
    "string_sub_type": "应为文本",
    "uuid_type": "格式不正确",
    "uuid_parsing": "格式不正确",
    "url_type": "网址格式不正确",
    "url_parsing": "网址格式不正确",
    "url_scheme": "网址格式不正确",
}
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _reason(error: dict) -> str:
    """The reason shown for one pydantic error: its Chinese reason, or a validator's own message
    (Chinese, raised by our schemas); pydantic's English messages are never shown."""
    kind = error.get("type", "")
    if kind in _PYDANTIC_REASONS:
        return _PYDANTIC_REASONS[kind]
    message = str(error.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message if _CJK.search(message) else "格式不正确"


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSON:
        await refusals.audit_refusal(request, exc)
        return JSON(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSON:
        details = [{"field": _field(tuple(e.get("loc", ()))), "reason": _reason(e)} for e in exc.errors()]
        summary = "；".join(f"{d['field']}：{d['reason']}" for d in details[:5])
        return JSON(
            {
                "error": {
                    "code": "validation_failed",
                    "message": f"提交的数据有误：{summary}",
                    "details": details,
                }
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSON:
        if exc.status_code == 400:
            # FastAPI's "There was an error parsing the body" (a body that is not UTF-8, a form
            # it cannot split): refused like any other unreadable body, 422 naming the body
            detail = {"field": "body", "reason": "无法解析请求体"}
            return JSON(
                {
                    "error": {
                        "code": "validation_failed",
                        "message": "提交的数据有误：body：无法解析请求体",
                        "details": [detail],
                    }
                },
                status_code=422,
            )
        messages = {404: ("not_found", "请求的地址不存在"), 405: ("method_not_allowed", "不支持该请求方法")}
        code, message = messages.get(exc.status_code, ("http_error", str(exc.detail)))
        return JSON({"error": {"code": code, "message": message}}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSON:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        rid = getattr(request.state, "request_id", "")
        return JSON(
            {"error": {"code": "internal_error", "message": f"服务器内部错误（请求编号 {rid}）"}},
            status_code=500,
        )
