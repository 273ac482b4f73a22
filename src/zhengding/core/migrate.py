"""Run Alembic migrations programmatically (CLI, tests, `make run`)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine


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
