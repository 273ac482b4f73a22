"""The signed inbound API for nucleic-acid results (no user session): see
docs/inbound-nat-results.md. Authentication is the returnees inbound API's, reused as is."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.core import records
from zhengding.core.errors import Conflict, ValidationFailed
from zhengding.core.hygiene import strict_json
from zhengding.http.deps import get_session
from zhengding.http.routing import make_router
from zhengding.returnees.service.inbound import authenticate_request
from zhengding.verification.service.inbound import MAX_BATCH, receive_results

router = make_router("/api/inbound", tags=["核酸检测结果接口（检测机构/健康码系统）"])


@router.post(
    "/nat-results",
    status_code=201,
    responses={200: {"description": "批量的逐条结果，或单条的重放（Idempotent-Replayed: true）"}},
)
async def receive_nat_results(request: Request, session: AsyncSession = Depends(get_session)) -> Any:
    """One result (an object, `201`) or a batch (`{"items": [...]}`, 1–500, `200` per item)."""
    body = await request.body()
    source = await authenticate_request(session, request.headers, "POST", request.url.path, body)
    data = strict_json(body)  # duplicate keys refused: the signed bytes have one reading only
    if isinstance(data, dict) and "items" in data:
        answers = await receive_results(session, source, records.batch_items(data, MAX_BATCH))
        counts = records.status_counts(answers)
        return JSONResponse({**counts, "items": [a.to_dict() for a in answers]}, status_code=200)
    (answer,) = await receive_results(session, source, [data])
    if answer.status == "rejected":
        raise ValidationFailed("检测结果数据有误", answer.errors)
    if answer.status == "conflict":
        raise Conflict("该检测结果已提交过不同的内容", answer.errors)
    if answer.status == "replayed":
        return JSONResponse(answer.to_dict(), status_code=200, headers={"Idempotent-Replayed": "true"})
    return answer.to_dict()
