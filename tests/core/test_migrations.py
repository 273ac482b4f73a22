"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from zhengding.models import metadata


def _diff(connection):  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return compare_metadata(context, metadata)


async def test_migrated_schema_matches_models(db):
    async with db.write_engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == [], "models changed without a migration: " + repr(differences)[:2000]


async def test_audit_triggers_installed(db):
    from sqlalchemy import text

    async with db.write_engine.connect() as conn:
        if db.sqlite:
            names = (
                (await conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'")))
                .scalars()
                .all()
            )
            assert {"audit_log_no_update", "audit_log_no_delete"} <= set(names)
        else:
            names = (
                (
                    await conn.execute(
                        text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass")
                    )
                )
                .scalars()
                .all()
            )
            assert {"audit_log_no_change", "audit_log_no_truncate"} <= set(names)
