"""sign-in sessions and one-use refresh tokens

Revision ID: identity_0003
Revises: identity_0002
"""
import sqlalchemy as sa
from alembic import op

from services.common.types import UtcDateTime

revision = "identity_0003"
down_revision = "identity_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_sessions",
        sa.Column("sid", sa.String(length=64), primary_key=True),
        sa.Column("username", sa.String(length=100), nullable=False, index=True),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=30), nullable=True),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("jti", sa.String(length=64), primary_key=True),
        sa.Column("sid", sa.String(length=64), nullable=False, index=True),
        sa.Column("issued_at", UtcDateTime(), nullable=False, index=True),
        sa.Column("used_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("refresh_tokens")
    op.drop_table("sign_in_sessions")
