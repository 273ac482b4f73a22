"""The inbound API for the health-code system (signed requests, no user session): see
docs/inbound-api.md.

Single records go through the group commit (service/ingest.py): the requests in flight share one
transaction, and each is answered only after that commit. That route is a plain APIRoute: it
opens no session of its own (the group commit holds the transaction).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from zhengding.audit.service import RequestInfo
from zhengding.core import records
from zhengding.core.errors import AppError, Conflict, ValidationFailed
from zhengding.core.hygiene import strict_json
from zhengding.http.deps import get_session
from zhengding.http.routing import client_ip, make_router
from zhengding.returnees.schemas import MAX_BATCH
from zhengding.returnees.service import inbound, ingest

router = make_router("/api/inbound", tags=["返乡人员登记接口（健康码系统）"])
_BAD_JSON = object()


class IngestFailed(Exception):
    """This request's part of a shared transaction failed (answered 500; the others went on)."""


async def receive_one(request: Request) -> Any:
    body = await request.body()
    source, nonce = await inbound.verify_request(request.headers, "POST", request.url.path, body)
    refused: ValidationFailed | None = None
    try:
        data = strict_json(body)  # duplicate keys refused: the signed bytes have one reading only
    except ValidationFailed as exc:
        data, refused = _BAD_JSON, exc  # the nonce is still claimed, in the group commit
    info = RequestInfo(ip=client_ip(request), request_id=request.state.request_id)
    sub = ingest.Submission(source, [data], nonce=nonce, single=True, request=info)
    await ingest.group_commit().submit(sub)
    if sub.error is not None:
        if isinstance(sub.error, AppError):
            raise sub.error
        raise IngestFailed("inbound registration failed") from sub.error
    if sub.nonce_refused:
        raise inbound.nonce_refused()
    if refused is not None:
        raise refused
    (item,) = sub.results
    if item.status == "rejected":
        raise ValidationFailed("登记数据有误", item.errors)
    if item.status == "conflict":
        raise Conflict("该登记编号已提交过不同的内容", item.errors)
    if item.status == "replayed":
        return _json_response(item.result, 200, {"Idempotent-Replayed": "true"})
    return _json_response(item.result, 201)


def _json_response(content: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    # orjson straight to bytes: the generic path (jsonable_encoder, then json.dumps) costs more
    # than the rest of the answer on this hot endpoint
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


router.add_api_route(
    "/registrations",
    receive_one,
    methods=["POST"],
    status_code=201,
    route_class_override=APIRoute,
    responses={200: {"description": "重放：同一登记已受理过，原样回答（Idempotent-Replayed: true）"}},
)


@router.post("/registrations/batch")
async def receive_batch(request: Request, session: AsyncSession = Depends(get_session)) -> dict[str, Any]:
    body = await request.body()
    source, nonce = await inbound.verify_request(request.headers, "POST", request.url.path, body)
    if not (await inbound.claim_nonces(session, [(source.id, nonce)]))[0]:
        raise inbound.nonce_refused()
    items = records.batch_items(strict_json(body), MAX_BATCH)
    results = (await ingest.receive_registrations(session, source, items)).results
    counts = records.status_counts(results)
    return {**counts, "items": [r.to_dict() for r in results]}
