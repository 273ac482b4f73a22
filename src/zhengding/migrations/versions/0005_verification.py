"""verification: batches, tasks, history, replies, photos, transfers, statistics cells, nucleic-acid results
(and the receipts of the signed inbound API for them)

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nat_inbound_receipts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("source_id", sa.String(length=26), nullable=False),
        sa.Column("item_key", sa.String(length=120), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("result_id", sa.String(length=26), nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nat_inbound_receipts")),
        sa.UniqueConstraint("source_id", "item_key", name=op.f("uq_nat_inbound_receipts_source_id_item_key")),
    )
    op.create_table(
        "nat_results",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("lab", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("import_id", sa.String(length=26), nullable=True),
        sa.Column("linked_tasks", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nat_results")),
        sa.UniqueConstraint(
            "id_number_bidx", "sampled_at", "lab", name=op.f("uq_nat_results_id_number_bidx_sampled_at_lab")
        ),
    )
    op.create_index(op.f("ix_nat_results_id_number_bidx"), "nat_results", ["id_number_bidx"], unique=False)
    op.create_table(
        "verification_stat_cells",
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("batch_id", sa.String(length=26), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("dispatched", sa.BigInteger(), nullable=False),
        sa.Column("in_progress", sa.BigInteger(), nullable=False),
        sa.Column("replied", sa.BigInteger(), nullable=False),
        sa.Column("closed", sa.BigInteger(), nullable=False),
        sa.Column("overdue", sa.BigInteger(), nullable=False),
        sa.Column("transferring", sa.BigInteger(), nullable=False),
        sa.Column("transfer_in", sa.BigInteger(), nullable=False),
        sa.Column("transfer_out", sa.BigInteger(), nullable=False),
        sa.Column("transfer_rejected", sa.BigInteger(), nullable=False),
        sa.Column("transfer_refused", sa.BigInteger(), nullable=False),
        sa.Column("reply_count", sa.BigInteger(), nullable=False),
        sa.Column("reply_seconds", sa.BigInteger(), nullable=False),
        sa.Column("r0", sa.BigInteger(), nullable=False),
        sa.Column("r1", sa.BigInteger(), nullable=False),
        sa.Column("r2", sa.BigInteger(), nullable=False),
        sa.Column("r3", sa.BigInteger(), nullable=False),
        sa.Column("r4", sa.BigInteger(), nullable=False),
        sa.Column("r5", sa.BigInteger(), nullable=False),
        sa.Column("r6", sa.BigInteger(), nullable=False),
        sa.Column("r7", sa.BigInteger(), nullable=False),
        sa.Column("r8", sa.BigInteger(), nullable=False),
        sa.Column("r9", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "batch_id", "day", name=op.f("pk_verification_stat_cells")),
    )
    op.create_table(
        "nat_imports",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_nat_imports_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nat_imports")),
    )
    op.create_table(
        "verification_batches",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("unit_path", sa.String(length=600), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("routed", sa.Integer(), nullable=False),
        sa.Column("unknown_columns", sa.JSON(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_verification_batches_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_verification_batches_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_batches")),
    )
    op.create_index(
        op.f("ix_verification_batches_created_by"), "verification_batches", ["created_by"], unique=False
    )
    op.create_index(
        op.f("ix_verification_batches_unit_path"), "verification_batches", ["unit_path"], unique=False
    )
    op.create_table(
        "verification_tasks",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("batch_id", sa.String(length=26), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("id_number", sa.Text(), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("phone_bidx", sa.String(length=64), nullable=True),
        sa.Column("clue", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("resolved_code", sa.String(length=12), nullable=True),
        sa.Column("clue_unit_id", sa.String(length=26), nullable=True),
        sa.Column("clue_unit_path", sa.String(length=600), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_unit_id", sa.String(length=26), nullable=False),
        sa.Column("owner_path", sa.String(length=600), nullable=False),
        sa.Column("assignee_id", sa.String(length=26), nullable=True),
        sa.Column("chain", sa.JSON(), nullable=False),
        sa.Column("review_unit_id", sa.String(length=26), nullable=True),
        sa.Column("transfer_id", sa.String(length=26), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("nat_result", sa.String(length=20), nullable=True),
        sa.Column("nat_sampled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stat_day", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_verification_tasks_assignee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["verification_batches.id"],
            name=op.f("fk_verification_tasks_batch_id_verification_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_units.id"], name=op.f("fk_verification_tasks_owner_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_tasks")),
    )
    op.create_index(
        op.f("ix_verification_tasks_assignee_id"), "verification_tasks", ["assignee_id"], unique=False
    )
    op.create_index(
        "ix_verification_tasks_batch_id_status", "verification_tasks", ["batch_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_verification_tasks_id_number_bidx"), "verification_tasks", ["id_number_bidx"], unique=False
    )
    op.create_index(
        op.f("ix_verification_tasks_owner_path"), "verification_tasks", ["owner_path"], unique=False
    )
    op.create_index(
        op.f("ix_verification_tasks_review_unit_id"), "verification_tasks", ["review_unit_id"], unique=False
    )
    op.create_table(
        "verification_photos",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("task_id", sa.String(length=26), nullable=False),
        sa.Column("uploaded_by", sa.String(length=26), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["verification_tasks.id"],
            name=op.f("fk_verification_photos_task_id_verification_tasks"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["users.id"], name=op.f("fk_verification_photos_uploaded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_photos")),
    )
    op.create_index(op.f("ix_verification_photos_task_id"), "verification_photos", ["task_id"], unique=False)
    op.create_table(
        "verification_replies",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("task_id", sa.String(length=26), nullable=False),
        sa.Column("replier_id", sa.String(length=26), nullable=False),
        sa.Column("replier_name", sa.String(length=50), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("health_status", sa.String(length=50), nullable=False),
        sa.Column("measure", sa.String(length=50), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("photo_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["replier_id"], ["users.id"], name=op.f("fk_verification_replies_replier_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["verification_tasks.id"],
            name=op.f("fk_verification_replies_task_id_verification_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_replies")),
    )
    op.create_index(
        op.f("ix_verification_replies_task_id"), "verification_replies", ["task_id"], unique=False
    )
    op.create_table(
        "verification_task_events",
        sa.Column("task_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.String(length=26), nullable=True),
        sa.Column("actor_name", sa.String(length=50), nullable=False),
        sa.Column("from_unit_id", sa.String(length=26), nullable=True),
        sa.Column("to_unit_id", sa.String(length=26), nullable=True),
        sa.Column("to_user_id", sa.String(length=26), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["verification_tasks.id"],
            name=op.f("fk_verification_task_events_task_id_verification_tasks"),
        ),
        sa.PrimaryKeyConstraint("task_id", "seq", name=op.f("pk_verification_task_events")),
    )
    op.create_table(
        "verification_transfers",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("task_id", sa.String(length=26), nullable=False),
        sa.Column("from_unit_id", sa.String(length=26), nullable=False),
        sa.Column("from_path", sa.String(length=600), nullable=False),
        sa.Column("to_unit_id", sa.String(length=26), nullable=False),
        sa.Column("to_path", sa.String(length=600), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=26), nullable=False),
        sa.Column("decided_by", sa.String(length=26), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_verification_transfers_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["from_unit_id"], ["org_units.id"], name=op.f("fk_verification_transfers_from_unit_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_verification_transfers_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["verification_tasks.id"],
            name=op.f("fk_verification_transfers_task_id_verification_tasks"),
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"], ["org_units.id"], name=op.f("fk_verification_transfers_to_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_transfers")),
    )
    op.create_index(
        op.f("ix_verification_transfers_from_path"), "verification_transfers", ["from_path"], unique=False
    )
    op.create_index(
        op.f("ix_verification_transfers_status"), "verification_transfers", ["status"], unique=False
    )
    op.create_index(
        op.f("ix_verification_transfers_task_id"), "verification_transfers", ["task_id"], unique=False
    )
    op.create_index(
        op.f("ix_verification_transfers_to_path"), "verification_transfers", ["to_path"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_verification_transfers_to_path"), table_name="verification_transfers")
    op.drop_index(op.f("ix_verification_transfers_task_id"), table_name="verification_transfers")
    op.drop_index(op.f("ix_verification_transfers_status"), table_name="verification_transfers")
    op.drop_index(op.f("ix_verification_transfers_from_path"), table_name="verification_transfers")
    op.drop_table("verification_transfers")
    op.drop_table("verification_task_events")
    op.drop_index(op.f("ix_verification_replies_task_id"), table_name="verification_replies")
    op.drop_table("verification_replies")
    op.drop_index(op.f("ix_verification_photos_task_id"), table_name="verification_photos")
    op.drop_table("verification_photos")
    op.drop_index(op.f("ix_verification_tasks_review_unit_id"), table_name="verification_tasks")
    op.drop_index(op.f("ix_verification_tasks_owner_path"), table_name="verification_tasks")
    op.drop_index(op.f("ix_verification_tasks_id_number_bidx"), table_name="verification_tasks")
    op.drop_index("ix_verification_tasks_batch_id_status", table_name="verification_tasks")
    op.drop_index(op.f("ix_verification_tasks_assignee_id"), table_name="verification_tasks")
    op.drop_table("verification_tasks")
    op.drop_index(op.f("ix_verification_batches_unit_path"), table_name="verification_batches")
    op.drop_index(op.f("ix_verification_batches_created_by"), table_name="verification_batches")
    op.drop_table("verification_batches")
    op.drop_table("nat_imports")
    op.drop_table("verification_stat_cells")
    op.drop_index(op.f("ix_nat_results_id_number_bidx"), table_name="nat_results")
    op.drop_table("nat_results")
    op.drop_table("nat_inbound_receipts")
