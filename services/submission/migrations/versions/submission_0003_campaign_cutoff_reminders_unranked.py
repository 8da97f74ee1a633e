"""campaign cut-off date, reminders before each lock, unranked units

Revision ID: submission_0003
Revises: submission_0002
Create Date: 2026-12-03 06:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = "submission_0003"
down_revision = "submission_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("data_cutoff_date", sa.Date(), nullable=True))
        # Campaigns made before keep the default reminders (3 days, 1 day, 2 hours).
        batch.add_column(sa.Column("reminders_minutes_before_lock", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[4320, 1440, 120]'")))
        batch.add_column(sa.Column("unranked_unit_codes", sa.JSON(), nullable=False,
                                   server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("unranked_unit_codes")
        batch.drop_column("reminders_minutes_before_lock")
        batch.drop_column("data_cutoff_date")
