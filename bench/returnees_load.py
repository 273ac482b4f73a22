"""Load process for bench_returnees: bench/realtime_load.py's minimal WebSocket clients, recording
for each returnee the arrival times (wall clock) of its "returnees.returnee.dispatched" frames.

Commands on stdin (one JSON per line): connect (as realtime_load), {"cmd":"collect","wait":s}
→ {"arrivals": {returnee_id: [t, …]}}, close.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

import realtime_load as rl

_arrivals: dict[str, list[float]] = {}
_MARK = b'"type":"returnees.returnee.dispatched"'


def _record(payload: bytes) -> None:
    if _MARK not in payload:
        return
    t = time.time()
    i = payload.find(b'"data":{"id":"')
    if i < 0:
        return
    i += 14
    _arrivals.setdefault(payload[i : payload.find(b'"', i)].decode(), []).append(t)


rl._record = _record


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
            out = {"connected": await rl.connect(cmd["urls"], cmd["groups"], False)}
        elif cmd["cmd"] == "collect":
            await asyncio.sleep(cmd.get("wait", 1.0))
            out = {"arrivals": dict(_arrivals)}
            _arrivals.clear()
        elif cmd["cmd"] == "close":
            n = len(rl.clients)
            for c in rl.clients:
                if c.transport:
                    c.transport.close()
            rl.clients.clear()
            await asyncio.sleep(1)
            out = {"closed": n}
        else:
            out = {"error": "unknown"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
