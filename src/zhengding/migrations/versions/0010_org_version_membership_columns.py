"""orgs: the org version is bumped only by changes to who is in which unit

A unit renamed or a position edited no longer bumps it: the member lists kept per org version
(orgs/service.py `subtree_members`) stay valid, and the next event to the province does not
read its 9,000 members again. Rows added or removed, a membership's user or unit, a unit's
path or parent (a move) still bump it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# the columns that decide `member_user_ids`: memberships (user_id, unit_id) joined to org_units by
# id, selected by path
MEMBERSHIP_COLUMNS = {"memberships": "user_id, unit_id", "org_units": "id, path, parent_id"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in MEMBERSHIP_COLUMNS.items():
            op.execute(f"DROP TRIGGER {table}_bump_org_version ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_bump_org_version AFTER INSERT OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION zd_org_version_bump()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_update_bump_org_version AFTER UPDATE OF {columns} "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION zd_org_version_bump()"
            )
    else:
        for table, columns in MEMBERSHIP_COLUMNS.items():
            op.execute(f"DROP TRIGGER {table}_update_bump_org_version")
            op.execute(
                f"CREATE TRIGGER {table}_update_bump_org_version AFTER UPDATE OF {columns} ON {table} "
                "BEGIN UPDATE org_versions SET version = version + 1 WHERE id = 1; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in MEMBERSHIP_COLUMNS:
            op.execute(f"DROP TRIGGER {table}_update_bump_org_version ON {table}")
            op.execute(f"DROP TRIGGER {table}_bump_org_version ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_bump_org_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION zd_org_version_bump()"
            )
    else:
        for table in MEMBERSHIP_COLUMNS:
            op.execute(f"DROP TRIGGER {table}_update_bump_org_version")
            op.execute(
                f"CREATE TRIGGER {table}_update_bump_org_version AFTER UPDATE ON {table} "
                "BEGIN UPDATE org_versions SET version = version + 1 WHERE id = 1; END"
            )
