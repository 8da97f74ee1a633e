"""entries.reopened is named returned, as the entry has always been published

Revision ID: submission_0007
Revises: submission_0006
Create Date: 2026-12-03 08:00:00

An entry the council returned for the supplement round (trả lại bổ sung): RPCs and
pages have called it ``returned`` since it was added. Both PostgreSQL and SQLite (3.25
and later) rename a column in place, keeping its data, indexes and triggers.
"""
from alembic import op

revision = "submission_0007"
down_revision = "submission_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE entries RENAME COLUMN reopened TO returned")


def downgrade() -> None:
    op.execute("ALTER TABLE entries RENAME COLUMN returned TO reopened")
