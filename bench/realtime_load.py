"""Load generator for bench_realtime: N minimal WebSocket clients in one process.

A small asyncio Protocol (no library) so that the load process spends little CPU per frame:
handshake, unmasked server frames, pong to pings. Reads commands on stdin, answers on stdout
(one JSON object per line):
  {"cmd":"connect","urls":[...],"groups":[...],"raw":bool}  -> {"connected": n}
  {"cmd":"expect","run":k,"count":n,"timeout":s}             -> {"run":k,"got":n,"lat":[...ms]}
  {"cmd":"close"}                                            -> {"closed": n}
Frames carry the run number and the publish time, as envelopes (zhengding and the raw baseline
alike): {"seq","type","at","data":{"run"}} ("at" = event time, ISO 8601); an older raw frame
{"run","t"} (t = epoch seconds) is read too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import sys
import time
from datetime import datetime
from urllib.parse import urlparse

_arrivals: dict[int, list[float]] = {}
_waiters: dict[int, asyncio.Future] = {}
_expected: dict[int, int] = {}


def _record(payload: bytes) -> None:
    i = payload.find(b'"run":')
    j = i + 6
    if i < 0:
        i = payload.find(b"run=")  # a DING's content carries "run=<k>"
        if i < 0:
            return
        j = i + 4
    k = j
    while k < len(payload) and payload[k : k + 1].isdigit():
        k += 1
    run = int(payload[j:k])
    now = time.time()
    t_i = payload.find(b'"t":')
    if t_i >= 0:
        end = payload.find(b"}", t_i)
        sent = float(payload[t_i + 4 : end])
    else:
        a = payload.find(b'"at":"') + 6
        sent = datetime.fromisoformat(payload[a : payload.find(b'"', a)].decode()).timestamp()
    arr = _arrivals.setdefault(run, [])
    arr.append((now - sent) * 1000)
    fut = _waiters.get(run)
    if fut is not None and len(arr) >= _expected.get(run, 1 << 30) and not fut.done():
        fut.set_result(None)


class Client(asyncio.Protocol):
    def __init__(self, host: str, path: str, first: str | None, ready: asyncio.Future) -> None:
        self.host, self.path, self.first, self.ready = host, path, first, ready
        self.buf = bytearray()
        self.handshaken = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def send_text(self, text: str, opcode: int = 1) -> None:
        data = text.encode() if isinstance(text, str) else text
        mask = os.urandom(4)
        header = bytes([0x80 | opcode])
        n = len(data)
        header += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.transport.write(header + mask + masked)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.handshaken:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[:12])
            del self.buf[: end + 4]
            if b"101" not in status:
                if not self.ready.done():
                    self.ready.set_exception(RuntimeError(status.decode(errors="replace")))
                return
            self.handshaken = True
            if self.first:
                self.send_text(self.first)
            if not self.ready.done():
                self.ready.set_result(self)
        buf = self.buf
        while len(buf) >= 2:
            opcode = buf[0] & 0x0F
            n = buf[1] & 0x7F
            pos = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = int.from_bytes(buf[2:10], "big")
                pos = 10
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            if opcode == 1:
                _record(payload)
            elif opcode == 9:
                self.send_text(payload, opcode=10)  # type: ignore[arg-type]


clients: list[Client] = []


async def connect(urls: list[str], groups: list[str], raw: bool) -> int:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(100)

    async def one(url: str, group: str) -> None:
        u = urlparse(url)
        async with sem:
            for attempt in range(5):
                ready = loop.create_future()
                try:
                    await loop.create_connection(
                        lambda ready=ready: Client(
                            f"{u.hostname}:{u.port}",
                            u.path + ("?" + u.query if u.query else ""),
                            f"join {group}" if raw else None,
                            ready,
                        ),
                        u.hostname,
                        u.port,
                    )
                    clients.append(await asyncio.wait_for(ready, 30))
                    return
                except (OSError, TimeoutError, RuntimeError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError(f"could not connect {url}")

    await asyncio.gather(*(one(url, g) for url, g in zip(urls, groups, strict=True)))
    return len(clients)


async def expect(run: int, count: int, timeout: float) -> dict:  # noqa: ASYNC109
    fut = asyncio.get_running_loop().create_future()
    _waiters[run] = fut
    _expected[run] = count
    if len(_arrivals.get(run, ())) >= count:
        fut.set_result(None)
    try:
        await asyncio.wait_for(fut, timeout)
    except TimeoutError:
        pass
    return {"run": run, "got": len(_arrivals.get(run, ())), "lat": _arrivals.pop(run, [])}


async def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd["cmd"] == "connect":
            out = {"connected": await connect(cmd["urls"], cmd["groups"], cmd.get("raw", False))}
        elif cmd["cmd"] == "expect":
            out = await expect(cmd["run"], cmd["count"], cmd.get("timeout", 30))
        elif cmd["cmd"] == "close":
            n = len(clients)
            for c in clients:
                if c.transport:
                    c.transport.close()
            clients.clear()
            await asyncio.sleep(1)
            out = {"closed": n}
        else:
            out = {"error": "unknown"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
