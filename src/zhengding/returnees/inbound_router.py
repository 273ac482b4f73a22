"""The inbound API for the health-code system (signed requests, no user session): see
docs/inbound-api.md."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core.errors import Conflict, ValidationFailed
from zhengding.http.deps import get_session
from zhengding.http.routing import make_router
from zhengding.returnees.schemas import MAX_BATCH
from zhengding.returnees.service import dispatch, inbound

router = make_router("/api/inbound", tags=["返乡人员登记接口（健康码系统）"])


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValidationFailed("请求体不是合法的 JSON") from None


@router.post("/registrations", status_code=201)
async def receive_one(request: Request, session: AsyncSession = Depends(get_session)) -> Any:
    body = await request.body()
    source = await inbound.authenticate_request(session, request.headers, "POST", request.url.path, body)
    (item,) = await dispatch.receive_registrations(session, source, [_json(body)])
    if item.status == "rejected":
        raise ValidationFailed("登记数据有误", item.errors)
    if item.status == "conflict":
        raise Conflict("该登记编号已提交过不同的内容", item.errors)
    if item.status == "replayed":
        return JSONResponse(item.result, status_code=200, headers={"Idempotent-Replayed": "true"})
    return item.result


@router.post("/registrations/batch")
async def receive_batch(request: Request, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
    body = await request.body()
    source = await inbound.authenticate_request(session, request.headers, "POST", request.url.path, body)
    data = _json(body)
    if not isinstance(data, dict) or set(data) != {"items"} or not isinstance(data["items"], list):
        raise ValidationFailed("批量请求体应为 {\"items\": [...]}，不允许其他字段")
    if not 1 <= len(data["items"]) <= MAX_BATCH:
        raise ValidationFailed(f"每批 1 至 {MAX_BATCH} 条")
    results = await dispatch.receive_registrations(session, source, data["items"])
    counts = {k: sum(1 for r in results if r.status == k) for k in ("accepted", "replayed", "rejected", "conflict")}
    return {**counts, "items": [r.to_dict() for r in results]}
