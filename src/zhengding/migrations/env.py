"""Alembic environment: async engine, batch mode on SQLite (named constraints come from the
metadata naming convention)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from zhengding.models import metadata

config = context.config


def _render_item(type_: str, obj, autogen_context):  # type: ignore[no-untyped-def]
    """Migrations use plain database types: Encrypted is TEXT, UTCDateTime is timestamptz."""
    from zhengding.core.models import UTCDateTime
    from zhengding.privacy.types import Encrypted

    if type_ == "type" and isinstance(obj, Encrypted):
        return "sa.Text()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        render_item=_render_item,
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic config has no sqlalchemy.url")
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


_connection = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
elif _connection is not None:
    _run(_connection)  # a sync connection handed over by core.migrate.upgrade_engine
else:
    asyncio.run(_online())
