"""scores exact on every backend: NUMERIC(18, 4) on PostgreSQL, scaled integers on SQLite

Revision ID: submission_0004
Revises: submission_0003
Create Date: 2026-12-03 07:00:00

SQLite stored NUMERIC through float; ExactDecimal keeps ``score × 10⁴`` as an integer
there, so SQL sums stay exact. Existing values are converted in place (they had at
most four places, so rounding the float back to the nearest scaled integer is exact).
Instants need no change: UtcDateTime stores the same UTC text as before, and now
converts every aware time to UTC first.
"""
import sqlalchemy as sa
from alembic import op

revision = "submission_0004"
down_revision = "submission_0003"
branch_labels = None
depends_on = None

COLUMNS = (("nodes", "max", False), ("entries", "score", True), ("entries", "max", False))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table, column, nullable in COLUMNS:
            op.execute(f"UPDATE {table} SET {column} = CAST(ROUND({column} * 10000) AS INTEGER)"
                       f" WHERE {column} IS NOT NULL")
        for table in ("nodes", "entries"):
            with op.batch_alter_table(table) as batch:
                for name, column, nullable in COLUMNS:
                    if name == table:
                        batch.alter_column(column, type_=sa.BigInteger(),
                                           existing_nullable=nullable)
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(18, 4), existing_nullable=nullable)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in ("nodes", "entries"):
            with op.batch_alter_table(table) as batch:
                for name, column, nullable in COLUMNS:
                    if name == table:
                        batch.alter_column(column, type_=sa.Numeric(10, 4),
                                           existing_nullable=nullable)
        for table, column, _ in COLUMNS:
            op.execute(f"UPDATE {table} SET {column} = {column} / 10000.0"
                       f" WHERE {column} IS NOT NULL")
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, type_=sa.Numeric(10, 4), existing_nullable=nullable)
