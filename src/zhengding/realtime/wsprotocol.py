"""uvicorn's WebSocket protocol plus a synchronous send for the gateway's fan-out.

`zhengding serve` runs uvicorn with this protocol (`--ws zhengding.realtime.wsprotocol:WebSocketProtocol`).
It adds one ASGI scope extension, `SEND_NOW`: a plain function that writes a text frame (given
as UTF-8 bytes) to the socket at once and returns True, or returns False when it cannot (the
socket pushes back, the connection is closing, an extension such as permessage-deflate was
negotiated); the gateway then falls back to the ASGI `send`, which waits for the socket as usual.

Why: an event to all 9,000 connected users is 9,000 frames written by one process. Through
ASGI each frame costs two coroutines (the framework's send wrapper and the server's send), an
Event wait and the sans-I/O protocol's frame objects before the write; a server-to-client text
frame is a 2–10 byte header and the UTF-8 payload, so this writes that directly. Whether it may
is kept in one flag, recomputed wherever the connection's state can change (data received, an
ASGI send, flow control, loss), so a frame costs one flag test and the transport's own check.
Under any other ASGI server the extension is absent and the gateway uses `send` alone.
"""

from __future__ import annotations

import random

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

SEND_NOW = "zhengding.websocket.send_text_now"
IMPORT_PATH = "zhengding.realtime.wsprotocol:WebSocketProtocol"

_OPEN = State.OPEN


_SHORT_HEADERS = [bytes((0x81, n)) for n in range(126)]


def text_frame(data: bytes) -> bytes:
    """An unmasked, final text frame (RFC 6455 §5.2) carrying `data`."""
    n = len(data)
    if n < 126:
        return _SHORT_HEADERS[n] + data
    if n < 65536:
        return b"\x81\x7e" + n.to_bytes(2, "big") + data
    return b"\x81\x7f" + n.to_bytes(8, "big") + data


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._direct = False  # whether send_text_now may write: see _refresh_direct

    def start_keepalive(self) -> None:
        """The first keepalive ping after 0.5–1.5 × the interval, not exactly one interval: phones
        reconnect in crowds (a server restart, a cell tower coming back), and uvicorn would then
        ping all of them within the same second of every interval, a CPU burst that delays
        whatever is being pushed at that moment. Later pings follow each pong by the interval, so
        the spread lasts; a dead peer is still dropped within 1.5 × interval + the timeout."""
        if self.ping_interval is not None and self.ping_interval > 0:
            self.ping_timer = self.loop.call_later(
                self.ping_interval * random.uniform(0.5, 1.5), self.send_keepalive_ping
            )

    def _refresh_direct(self) -> None:
        self._direct = (
            self.writable.is_set()
            and not self.close_sent
            and not self.disconnected
            and self.handshake_complete
            and self.initial_response is None
            and self.conn.state is _OPEN
            and not self.conn.extensions
        )

    def handle_connect(self, event):  # type: ignore[no-untyped-def]
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # absent when the handshake was refused
            scope["extensions"][SEND_NOW] = self.send_text_now

    # Every path that changes what _refresh_direct reads. A close started by a timer (close
    # timeout, keepalive timeout) also closes the transport, which send_text_now checks itself.

    def data_received(self, data: bytes) -> None:  # close frames, protocol errors
        try:
            super().data_received(data)
        finally:
            self._refresh_direct()

    async def send(self, message):  # type: ignore[no-untyped-def]  # accept, close, rejection
        try:
            await super().send(message)
        finally:
            self._refresh_direct()

    def pause_writing(self) -> None:
        self._direct = False
        super().pause_writing()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._refresh_direct()

    def connection_lost(self, exc: Exception | None) -> None:
        self._direct = False
        super().connection_lost(exc)

    def shutdown(self) -> None:
        self._direct = False
        super().shutdown()

    def keepalive_timeout(self) -> None:
        self._direct = False
        super().keepalive_timeout()

    def send_text_now(self, data: bytes) -> bool:
        """Write one text frame now; False (nothing written) when the ASGI send must be used."""
        transport = self.transport
        if not self._direct or transport.is_closing():
            return False
        n = len(data)
        transport.write((_SHORT_HEADERS[n] + data) if n < 126 else text_frame(data))
        return True
