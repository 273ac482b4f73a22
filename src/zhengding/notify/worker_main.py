"""Outbox worker processes, started by `zhengding worker` or `python -m zhengding.worker`
(both install the domain manifests first: the handlers and schedules the loop runs).

Runs the claim/process loop until SIGTERM/SIGINT (finishing the current row). With
ZD_REDIS_URL set, events raised by handlers reach WebSocket clients on every node.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from zhengding.config import get_settings
from zhengding.core import outbox
from zhengding.core.db import init_db


async def run(worker_id: str | None = None, concurrency: int = 1) -> None:
    settings = get_settings()
    db = init_db(settings.database_url)
    from zhengding.realtime.service import publisher_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with publisher_service(settings):
            base = outbox.WorkerConfig.from_settings(worker_id)
            configs = (
                [base]
                if concurrency <= 1
                else [
                    outbox.WorkerConfig(**{**base.__dict__, "worker_id": f"{base.worker_id}/{i}"})
                    for i in range(concurrency)
                ]
            )
            await asyncio.gather(*(outbox.run_worker(stop, db, c) for c in configs))
    finally:
        await db.dispose()


def main(worker_id: str | None = None, concurrency: int = 1) -> None:
    logging.basicConfig(
        level=get_settings().log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(run(worker_id, concurrency))
