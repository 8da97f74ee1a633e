"""the lock at commit on PostgreSQL: a deferred constraint trigger on the written tables

Revision ID: submission_0005
Revises: submission_0004
Create Date: 2026-12-03 07:20:00

services/common/windows.py: a write arms its window's instant; the trigger refuses the
COMMIT (SQLSTATE CC423) once the database clock has reached it. SQLite keeps the last
clock read before COMMIT (one writer at a time), so nothing is installed there.
"""
from alembic import op

from services.common.windows import commit_lock_ddl, drop_commit_lock_ddl

revision = "submission_0005"
down_revision = "submission_0004"
branch_labels = None
depends_on = None

# Every window-bound write changes at least one row of these.
TABLES = ("entries", "assessments", "changes")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in commit_lock_ddl(TABLES):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in drop_commit_lock_ddl(TABLES):
        op.execute(statement)
