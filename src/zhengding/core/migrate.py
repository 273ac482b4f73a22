"""Run Alembic migrations programmatically (CLI, tests, `make run`)."""

from __future__ import annotations

import asyncio
import os
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

UPGRADE_FIRST = "请先运行 zhengding db upgrade"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("zhengding") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(url), revision)


async def upgrade_engine(engine: AsyncEngine, revision: str = "heads") -> None:
    """Upgrade through an existing async engine (inside a running event loop)."""
    config = alembic_config(str(engine.url.render_as_string(hide_password=False)))

    def run(connection) -> None:  # type: ignore[no-untyped-def]
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def schema_problem(engine: AsyncEngine) -> str | None:
    """None when the database is at the code's migration heads, else one line saying what to do.

    A SQLite file that does not exist yet is reported without being created."""
    url = engine.url
    if (
        url.get_backend_name() == "sqlite"
        and url.database not in (None, "", ":memory:")
        and not await asyncio.to_thread(os.path.exists, url.database)
    ):
        return f"数据库尚未初始化：{UPGRADE_FIRST}"
    script = ScriptDirectory.from_config(alembic_config(url.render_as_string(hide_password=False)))
    wanted = set(script.get_heads())
    try:
        async with engine.connect() as conn:
            current = set(
                await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
            )
    except (OSError, SQLAlchemyError) as exc:
        return f"无法连接数据库（ZD_DATABASE_URL）：{str(exc).splitlines()[0][:200]}"
    if current == wanted:
        return None
    if not current:
        return f"数据库尚未初始化：{UPGRADE_FIRST}"
    if current - {rev.revision for rev in script.walk_revisions()}:
        return f"数据库版本（{'、'.join(sorted(current))}）比本程序新：请使用与数据库匹配的程序版本"
    return f"数据库版本过旧（当前 {'、'.join(sorted(current))}，应为 {'、'.join(sorted(wanted))}）：{UPGRADE_FIRST}"
