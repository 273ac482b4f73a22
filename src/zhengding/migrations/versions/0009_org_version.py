"""orgs: a version bumped by the database on every change to org_units or memberships

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("org_units", "memberships")


def upgrade() -> None:
    op.create_table(
        "org_versions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_versions")),
    )
    op.execute("INSERT INTO org_versions (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        # once per statement: a bulk import of 10,000 memberships bumps it once
        op.execute("""
            CREATE FUNCTION zd_org_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE org_versions SET version = version + 1 WHERE id = 1;
                RETURN NULL;
            END $$;
        """)
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_bump_org_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION zd_org_version_bump()"
            )
    else:  # SQLite has row triggers only
        for table in TABLES:
            for op_name in ("insert", "update", "delete"):
                op.execute(
                    f"CREATE TRIGGER {table}_{op_name}_bump_org_version AFTER {op_name.upper()} ON {table} "
                    "BEGIN UPDATE org_versions SET version = version + 1 WHERE id = 1; END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_bump_org_version ON {table}")
        op.execute("DROP FUNCTION zd_org_version_bump()")
    else:
        for table in TABLES:
            for op_name in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_{op_name}_bump_org_version")
    op.drop_table("org_versions")
