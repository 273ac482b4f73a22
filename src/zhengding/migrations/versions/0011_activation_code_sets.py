"""accounts: the latest issued set of activation codes per unit, sealed

Issuing codes becomes a POST; the issued set is kept (sealed with SM4-GCM, one row per unit,
replaced by the next issue) so that a GET downloads it again without issuing anything.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activation_code_sets",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=False),
        sa.Column("issued_by", sa.String(length=26), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_activation_code_sets_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_code_sets")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_activation_code_sets_unit_id")),
    )


def downgrade() -> None:
    op.drop_table("activation_code_sets")
