"""`/ws`: the WebSocket endpoint (a plain ASGI app, so fan-out writes skip per-frame framework work).

Protocol:
- connect to `/ws?token=<session token>[&since=<last seq>]`; a refused or expired token gets
  close code 4401 right after the handshake (browsers cannot read HTTP refusals);
- the server sends `{"type":"realtime.hello","data":{"user_id","seq","node"}}`, then, if
  `since` was given, the missed events in order or `{"type":"realtime.reload"}` when they are
  no longer kept (the client reloads from REST);
- every event is `{"seq","type","at","data"}`, seq per user, increasing;
- heartbeat: the client sends `{"type":"ping"}` (or "ping") and gets `{"type":"pong"}`; the
  server also pings at the protocol level (uvicorn `--ws-ping-interval`) and drops dead peers.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from zhengding.core.db import get_db
from zhengding.core.errors import AppError
from zhengding.realtime import gateway as gateway_mod
from zhengding.realtime.gateway import CLOSE_SESSION_ENDED, Connection
from zhengding.realtime.wsprotocol import SEND_NOW

log = logging.getLogger("zhengding.realtime")

CLOSE_UNAVAILABLE = 1013
_PONG = b'{"type":"pong"}'


async def _authenticate(token: str, scope: dict[str, Any]) -> tuple[str, str | None]:
    from zhengding.accounts.service import sessions as session_service

    state = scope.get("state") or {}
    async with get_db().unit_of_work() as session:
        actor = await session_service.authenticate(
            session,
            token,
            ip=state.get("client_ip"),
            request_id=state.get("request_id"),
            allow_mfa_pending=False,
        )
    return actor.user_id, actor.session_id


class WebSocketEndpoint:
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        query = parse_qs(scope.get("query_string", b"").decode())
        token = (query.get("token") or [""])[0]
        since_raw = (query.get("since") or [""])[0]
        since = int(since_raw) if since_raw.isdigit() else None
        gateway = gateway_mod.current()
        if gateway is None:
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_UNAVAILABLE})
            return
        try:
            if not token:
                raise AppError()
            user_id, session_id = await _authenticate(token, scope)
        except AppError:
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_SESSION_ENDED, "reason": "unauthenticated"})
            return
        await send({"type": "websocket.accept"})
        conn = Connection(user_id, session_id, send, (scope.get("extensions") or {}).get(SEND_NOW))
        try:
            await gateway.attach(conn, since)
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    break
                if kind != "websocket.receive" or conn.closed:
                    continue
                text = message.get("text")
                if text is not None and ("ping" in text[:20]):
                    conn.push(0, _PONG)
        finally:
            await gateway.detach(conn)


endpoint = WebSocketEndpoint()
