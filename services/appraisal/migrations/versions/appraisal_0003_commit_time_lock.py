"""the lock at commit on PostgreSQL, as submission's (submission_0005)

Revision ID: appraisal_0003
Revises: appraisal_0002
Create Date: 2026-12-03 07:40:00

services/common/windows.py: a council score arms its window's instant; the trigger
refuses the COMMIT (SQLSTATE CC423) once the database clock has reached it. SQLite
keeps the last clock read before COMMIT, so nothing is installed there.
"""
from alembic import op

from services.common.windows import commit_lock_ddl, drop_commit_lock_ddl

revision = "appraisal_0003"
down_revision = "appraisal_0002"
branch_labels = None
depends_on = None

# Every council score changes an entry and records a change.
TABLES = ("entries", "changes")


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
