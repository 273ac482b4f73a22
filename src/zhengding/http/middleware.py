"""ASGI middleware: request id, client address, request body size limit."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from zhengding.config import Network
from zhengding.core.errors import PayloadTooLarge
from zhengding.core.ids import new_id

Scope = dict[str, Any]
access_log = logging.getLogger("zhengding.access")
_MAX_HOPS = 16


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, headers: Mapping[bytes, bytes], trusted: tuple[Network, ...]
) -> str | None:
    """The client's address as audited. X-Forwarded-For / X-Real-IP are believed only when the
    peer is a trusted proxy (ZD_TRUSTED_PROXIES); from X-Forwarded-For the right-most address
    that is not itself a trusted proxy (the left part is whatever the client sent)."""
    if not trusted or peer is None:
        return peer
    hop = _address(peer)
    if hop is None or not any(hop in network for network in trusted):
        return peer
    forwarded = headers.get(b"x-forwarded-for")
    if forwarded:
        chosen = str(hop)
        for text in reversed(forwarded.decode("latin-1").split(",")[-_MAX_HOPS:]):
            address = _address(text)
            if address is None:
                break  # not written by a proxy of ours: stop at the last address one vouched for
            chosen = str(address)
            if not any(address in network for network in trusted):
                break
        return chosen
    real = headers.get(b"x-real-ip")
    address = _address(real.decode("latin-1")) if real else None
    return str(address) if address is not None else str(hop)


class RequestContextMiddleware:
    def __init__(
        self, app: Any, *, max_body: int, max_upload: int, trusted_proxies: tuple[Network, ...] = ()
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        state = scope.setdefault("state", {})
        state["request_id"] = headers.get(b"x-request-id", b"").decode()[:64] or new_id()
        client = scope.get("client")
        state["client_ip"] = client_address(client[0] if client else None, headers, self.trusted_proxies)
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
            access_log.info(
                "%s %s %s %d %.1fms %s",
                state["client_ip"],
                scope["method"],
                scope["path"],
                status,
                (time.perf_counter() - started) * 1000,
                state["request_id"],
            )


class _BodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit


async def _too_large(send: Any, limit: int) -> None:
    error = PayloadTooLarge(f"提交的内容过大（上限 {limit // 1024} KB）")
    body = orjson.dumps(error.body())
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
