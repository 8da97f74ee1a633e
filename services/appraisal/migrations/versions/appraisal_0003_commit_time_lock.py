"""the council's writes commit only before their window's instant (PostgreSQL trigger)

Revision ID: appraisal_0003
Revises: appraisal_0002
Create Date: 2026-12-03 07:40:00
"""
from alembic import op

from services.common.windows import commit_lock_ddl, drop_commit_lock_ddl

revision = "appraisal_0003"
down_revision = "appraisal_0002"
branch_labels = None
depends_on = None

# A council score changes its entry's row: the check runs at COMMIT for each.
TABLES = ("entries",)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in commit_lock_ddl(TABLES):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in drop_commit_lock_ddl(TABLES):
            op.execute(statement)
