"""round 2: the unit's supplement (explanation, proposed score) per returned criterion

Revision ID: submission_0006
Revises: submission_0005
Create Date: 2026-12-03 07:40:00
"""
import sqlalchemy as sa
from alembic import op

from services.common.types import ExactDecimal, UtcDateTime

revision = "submission_0006"
down_revision = "submission_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supplements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("proposed_score", ExactDecimal(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("assessment_id", "code"),
    )
    op.create_index("ix_supplements_assessment_id", "supplements", ["assessment_id"])


def downgrade() -> None:
    op.drop_index("ix_supplements_assessment_id", table_name="supplements")
    op.drop_table("supplements")
