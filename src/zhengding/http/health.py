from __future__ import annotations

from sqlalchemy import text

from zhengding.core.db import get_db
from zhengding.http.routing import make_router

router = make_router("/api", tags=["系统"])


@router.get("/health")
async def health() -> dict[str, bool]:
    async with get_db().read_engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return {"ok": True}
