"""ASGI middleware: request id, client address, request body size limit."""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from zhengding.core.errors import PayloadTooLarge
from zhengding.core.ids import new_id

Scope = dict[str, Any]
access_log = logging.getLogger("zhengding.access")


class RequestContextMiddleware:
    def __init__(self, app: Any, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        state = scope.setdefault("state", {})
        state["request_id"] = headers.get(b"x-request-id", b"").decode()[:64] or new_id()
        client = scope.get("client")
        peer = client[0] if client else None
        real = headers.get(b"x-real-ip")
        state["client_ip"] = real.decode()[:64] if real and peer in ("127.0.0.1", "::1") else peer
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        is_upload = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.max_upload if is_upload else self.max_body
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _too_large(send, limit)

        received = 0
        exceeded = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge(limit)
            return message

        responded = False

        async def guarded_send(message: dict[str, Any]) -> None:
            # The framework turns an error raised while reading the body into its own 400; once the
            # limit was passed, the answer is ours: 413.
            nonlocal responded
            if exceeded:
                if not responded:
                    responded = True
                    await _too_large(send, limit)
                return
            await send(message)

        started = time.perf_counter()
        status = 0

        async def logged_send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await guarded_send(message)

        try:
            await self.app(scope, limited_receive, logged_send)
        except _BodyTooLarge:
            status = 413
            if not responded:
                await _too_large(send, limit)
        finally:
            # Never the query string: it may carry a WebSocket token or search terms.
            access_log.info("%s %s %s %d %.1fms %s", state["client_ip"], scope["method"], scope["path"], status,
                            (time.perf_counter() - started) * 1000, state["request_id"])


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


async def _too_large(send: Any, limit: int) -> None:
    error = PayloadTooLarge(f"提交的内容过大（上限 {limit // 1024} KB）")
    body = orjson.dumps(error.body())
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
