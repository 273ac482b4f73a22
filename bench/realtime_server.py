"""The zhengding app for bench_realtime, plus two bench-only routes: one publishes an event
through the normal path (a unit of work, `publish_event` to org units, after-commit sink,
member resolution, broker, gateway); the other makes an org change (one membership's position
edited), after which the member lists kept per org version are read again.
Run by uvicorn: `realtime_server:create_app --factory`."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import func, select, update

from zhengding.app import create_app as zd_create_app
from zhengding.core.db import get_db
from zhengding.core.events import publish_event
from zhengding.orgs.models import Membership


def create_app():  # type: ignore[no-untyped-def]
    app = zd_create_app()

    @app.post("/bench/publish", include_in_schema=False)
    async def publish(request: Request) -> dict[str, bool]:
        body = await request.json()
        payload = {**body.get("payload", {}), "run": body["run"]}
        async with get_db().unit_of_work() as session:
            publish_event(session, body.get("type", "bench.broadcast"), payload, units=body.get("units", ()),
                          users=body.get("users", ()))
        return {"ok": True}

    @app.post("/bench/org-change", include_in_schema=False)
    async def org_change(request: Request) -> dict[str, bool]:
        body = await request.json()
        async with get_db().unit_of_work() as session:
            first = (await session.execute(select(func.min(Membership.id)))).scalar_one()
            await session.execute(update(Membership).where(Membership.id == first)
                                  .values(position=f"网格员{body['run']}"))
        return {"ok": True}

    return app
