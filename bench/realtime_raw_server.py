"""Baseline for bench_realtime: a raw `websockets` server that broadcasts one frame to a group.

Clients first send "join <group>"; a control client sends "go <group> <run>" and the server
calls `websockets.broadcast` on that group's connections with an envelope of the same shape and
size as zhengding's ({"seq","type","at","data":{"run"}}, "at" = publish time), so that the load
process does the same work per frame on both sides.
No compression and pings every 20 s, like the zhengding server (`zhengding serve`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime

import websockets
from websockets.asyncio.server import broadcast, serve

groups: dict[str, set] = {"all": set()}
SEQ = int(time.time()) * 1000 + 1  # as many digits as a zhengding seq


async def handler(ws) -> None:  # type: ignore[no-untyped-def]
    joined: list[str] = []
    try:
        async for message in ws:
            parts = str(message).split()
            if parts[0] == "join":
                for g in ("all", parts[1]):
                    groups.setdefault(g, set()).add(ws)
                    joined.append(g)
            elif parts[0] == "go":
                group, run = parts[1], int(parts[2])
                at = datetime.now(UTC).isoformat()
                broadcast(
                    groups.get(group, ()),
                    f'{{"seq":{SEQ},"type":"bench.broadcast","at":"{at}","data":{{"run":{run}}}}}',
                )
                await ws.send("sent")
    except websockets.ConnectionClosed:
        pass
    finally:
        for g in joined:
            groups[g].discard(ws)


async def main(port: int) -> None:
    # Keepalive pings every 20 s, as the server under test (uvicorn's default): with 9,000 clients
    # that is ~450 pings a second on both sides of the comparison.
    async with serve(
        handler, "127.0.0.1", port, ping_interval=20, compression=None, max_queue=None, backlog=4096
    ):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(int(sys.argv[1])))
