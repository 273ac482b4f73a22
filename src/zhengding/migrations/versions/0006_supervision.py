"""supervision: items, owners, copies, history, leaders, statistics; stored files (generic)

Revision ID: 0006
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_files",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("uploader_id", sa.String(length=26), nullable=False),
        sa.Column("owner_type", sa.String(length=40), nullable=True),
        sa.Column("owner_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_files")),
    )
    with op.batch_alter_table("stored_files", schema=None) as batch_op:
        batch_op.create_index("ix_stored_files_owner", ["owner_type", "owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stored_files_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_stored_files_uploader_id"), ["uploader_id"], unique=False)

    op.create_table(
        "supervision_unit_days",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("unit_path", sa.String(length=600), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_unit_days")),
        sa.UniqueConstraint("unit_id", "day", name=op.f("uq_supervision_unit_days_unit_id_day")),
    )
    with op.batch_alter_table("supervision_unit_days", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_unit_days_day"), ["day"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_unit_days_unit_path"), ["unit_path"], unique=False)

    op.create_table(
        "supervision_items",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("parent_id", sa.String(length=26), nullable=True),
        sa.Column("parent_owner_id", sa.String(length=26), nullable=True),
        sa.Column("root_id", sa.String(length=26), nullable=False),
        sa.Column("template_id", sa.String(length=26), nullable=True),
        sa.Column("period_key", sa.String(length=10), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source_kind", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recurrence", sa.String(length=10), nullable=True),
        sa.Column("due_time", sa.String(length=5), nullable=True),
        sa.Column("weekday", sa.Integer(), nullable=True),
        sa.Column("recur_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("requires_review", sa.Boolean(), nullable=False),
        sa.Column("remind_before_minutes", sa.JSON(), nullable=False),
        sa.Column("sms_after_minutes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("unit_path", sa.String(length=600), nullable=False),
        sa.Column("unit_name", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("creator_name", sa.String(length=50), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_supervision_items_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["supervision_items.id"],
            name=op.f("fk_supervision_items_parent_id_supervision_items"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_supervision_items_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_items")),
        sa.UniqueConstraint(
            "template_id", "period_key", name=op.f("uq_supervision_items_template_id_period_key")
        ),
    )
    with op.batch_alter_table("supervision_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_items_created_by"), ["created_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_items_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_supervision_items_parent_owner_id"), ["parent_owner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_supervision_items_root_id"), ["root_id"], unique=False)
        batch_op.create_index("ix_supervision_items_status_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_items_template_id"), ["template_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_items_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_items_unit_path"), ["unit_path"], unique=False)

    op.create_table(
        "supervision_leaders",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_supervision_leaders_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_supervision_leaders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_leaders")),
        sa.UniqueConstraint("unit_id", "user_id", name=op.f("uq_supervision_leaders_unit_id_user_id")),
    )
    with op.batch_alter_table("supervision_leaders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_leaders_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "supervision_copies",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supervision_items.id"],
            name=op.f("fk_supervision_copies_item_id_supervision_items"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_supervision_copies_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_copies")),
        sa.UniqueConstraint("item_id", "user_id", name=op.f("uq_supervision_copies_item_id_user_id")),
    )
    with op.batch_alter_table("supervision_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_copies_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_copies_user_id"), ["user_id"], unique=False)

    op.create_table(
        "supervision_owners",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("user_id", sa.String(length=26), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("stat_unit_id", sa.String(length=26), nullable=False),
        sa.Column("stat_unit_path", sa.String(length=600), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=50), nullable=False),
        sa.Column("sub_percent", sa.Integer(), nullable=True),
        sa.Column("last_report_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=True),
        sa.Column("reminders_sent", sa.JSON(), nullable=False),
        sa.Column("next_remind_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("urge_count", sa.Integer(), nullable=False),
        sa.Column("last_urged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supervision_items.id"],
            name=op.f("fk_supervision_owners_item_id_supervision_items"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_supervision_owners_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_supervision_owners_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_owners")),
        sa.UniqueConstraint("item_id", "unit_id", name=op.f("uq_supervision_owners_item_id_unit_id")),
        sa.UniqueConstraint("item_id", "user_id", name=op.f("uq_supervision_owners_item_id_user_id")),
    )
    with op.batch_alter_table("supervision_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_owners_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_supervision_owners_next_remind_at"), ["next_remind_at"], unique=False
        )
        batch_op.create_index("ix_supervision_owners_status_deadline", ["status", "deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_owners_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_owners_user_id"), ["user_id"], unique=False)

    op.create_table(
        "supervision_updates",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("item_id", sa.String(length=26), nullable=False),
        sa.Column("owner_id", sa.String(length=26), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=26), nullable=True),
        sa.Column("actor_name", sa.String(length=50), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=50), nullable=True),
        sa.Column("file_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["supervision_items.id"],
            name=op.f("fk_supervision_updates_item_id_supervision_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_updates")),
    )
    with op.batch_alter_table("supervision_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_updates_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_supervision_updates_owner_id"), ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("supervision_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_updates_owner_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_updates_item_id"))

    op.drop_table("supervision_updates")
    with op.batch_alter_table("supervision_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_owners_user_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_owners_unit_id"))
        batch_op.drop_index("ix_supervision_owners_status_deadline")
        batch_op.drop_index(batch_op.f("ix_supervision_owners_next_remind_at"))
        batch_op.drop_index(batch_op.f("ix_supervision_owners_item_id"))

    op.drop_table("supervision_owners")
    with op.batch_alter_table("supervision_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_copies_user_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_copies_item_id"))

    op.drop_table("supervision_copies")
    with op.batch_alter_table("supervision_leaders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_leaders_unit_id"))

    op.drop_table("supervision_leaders")
    with op.batch_alter_table("supervision_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_items_unit_path"))
        batch_op.drop_index(batch_op.f("ix_supervision_items_unit_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_items_template_id"))
        batch_op.drop_index("ix_supervision_items_status_deadline")
        batch_op.drop_index(batch_op.f("ix_supervision_items_root_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_items_parent_owner_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_items_parent_id"))
        batch_op.drop_index(batch_op.f("ix_supervision_items_created_by"))

    op.drop_table("supervision_items")
    with op.batch_alter_table("supervision_unit_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_unit_days_unit_path"))
        batch_op.drop_index(batch_op.f("ix_supervision_unit_days_day"))

    op.drop_table("supervision_unit_days")
    with op.batch_alter_table("stored_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stored_files_uploader_id"))
        batch_op.drop_index(batch_op.f("ix_stored_files_sha256"))
        batch_op.drop_index("ix_stored_files_owner")

    op.drop_table("stored_files")
