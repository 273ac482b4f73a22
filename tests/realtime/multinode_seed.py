"""Schema + Hainan tree + personas for the multi-node test database (run with the servers' env)."""

from __future__ import annotations

import asyncio

from zhengding.config import get_settings


async def main() -> None:
    import zhengding.models  # noqa: F401
    from zhengding import demo
    from zhengding.core.db import init_db
    from zhengding.core.models import Base

    db = init_db(get_settings().database_url)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.unit_of_work() as session:
        await demo.seed_org_tree(session)
    async with db.unit_of_work() as session:
        await demo.seed_personas(session)
    await db.dispose()


asyncio.run(main())
