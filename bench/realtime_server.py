"""The zhengding app for bench_realtime, plus two bench-only routes: one publishes an event
through the normal path (a unit of work, `publish_event` to org units, after-commit sink,
member resolution, broker, gateway); the other makes an org change (a person moves to another
unit of the province), after which the member lists kept per org version are read again.
Run by uvicorn: `realtime_server:create_app --factory`."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select, update

from zhengding.app import create_app as zd_create_app
from zhengding.core.db import get_db
from zhengding.core.events import publish_event
from zhengding.orgs.models import Membership, OrgUnit


def create_app():  # type: ignore[no-untyped-def]
    app = zd_create_app()

    @app.post("/bench/publish", include_in_schema=False)
    async def publish(request: Request) -> dict[str, bool]:
        body = await request.json()
        payload = {**body.get("payload", {}), "run": body["run"]}
        async with get_db().unit_of_work() as session:
            publish_event(
                session,
                body.get("type", "bench.broadcast"),
                payload,
                units=body.get("units", ()),
                users=body.get("users", ()),
            )
        return {"ok": True}

    moved: dict[str, str] = {}  # membership id -> the unit it came from

    @app.post("/bench/org-change", include_in_schema=False)
    async def org_change(request: Request) -> dict[str, bool]:
        """One person moves: to the province's office, and back on the next call."""
        await request.body()
        async with get_db().unit_of_work() as session:
            if moved:
                ((membership_id, unit_id),) = moved.items()
                moved.clear()
            else:
                unit_id = (
                    await session.execute(
                        select(OrgUnit.id).where(OrgUnit.parent_id.is_(None)).order_by(OrgUnit.id).limit(1)
                    )
                ).scalar_one()
                at_province = select(Membership.user_id).where(Membership.unit_id == unit_id)
                membership_id, home = (
                    await session.execute(
                        select(Membership.id, Membership.unit_id)
                        .where(Membership.user_id.not_in(at_province))
                        .order_by(Membership.id)
                        .limit(1)
                    )
                ).one()
                moved[membership_id] = home
            await session.execute(
                update(Membership).where(Membership.id == membership_id).values(unit_id=unit_id)
            )
        return {"ok": True}

    return app
