"""returnees: nucleic-acid results linked to returnees

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "returnee_nat_results",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("returnee_id", sa.String(length=26), nullable=False),
        sa.Column("nat_result_id", sa.String(length=26), nullable=False),
        sa.Column("sampled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("lab", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["nat_result_id"],
            ["nat_results.id"],
            name=op.f("fk_returnee_nat_results_nat_result_id_nat_results"),
        ),
        sa.ForeignKeyConstraint(
            ["returnee_id"], ["returnees.id"], name=op.f("fk_returnee_nat_results_returnee_id_returnees")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_returnee_nat_results")),
        sa.UniqueConstraint(
            "returnee_id", "nat_result_id", name=op.f("uq_returnee_nat_results_returnee_id_nat_result_id")
        ),
    )
    with op.batch_alter_table("returnee_nat_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_returnee_nat_results_nat_result_id"), ["nat_result_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_returnee_nat_results_returnee_id"), ["returnee_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("returnee_nat_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_returnee_nat_results_returnee_id"))
        batch_op.drop_index(batch_op.f("ix_returnee_nat_results_nat_result_id"))

    op.drop_table("returnee_nat_results")
