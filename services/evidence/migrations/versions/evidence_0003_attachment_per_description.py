"""every attachment keeps its own description: unique by attachment_key, not by content

Revision ID: evidence_0003
Revises: evidence_0002
Create Date: 2026-12-03 07:10:00

The same bytes uploaded again under another document number used to answer with the
first record and drop the new number, title, date and section. The content is still
stored once (documents); an attachment is now (assessment, criterion, content and
description).
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "evidence_0003"
down_revision = "evidence_0002"
branch_labels = None
depends_on = None

# SQLite's constraint from 0002 has no name: batch mode reflects it under this one.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}


def _key(row: sa.Row) -> str:
    # The same as services.evidence.domain.attachment_key, frozen here as of this revision.
    described = json.dumps([row.sha256, row.doc_number,
                            row.doc_date.isoformat() if row.doc_date else None,
                            row.title, row.section], ensure_ascii=False)
    return hashlib.sha256(described.encode()).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("attachment_key", sa.String(64), nullable=True))
    evidence = sa.table("evidence", sa.column("id"), sa.column("sha256"),
                        sa.column("doc_number"), sa.column("doc_date", sa.Date()),
                        sa.column("title"), sa.column("section"),
                        sa.column("attachment_key"))
    for row in bind.execute(sa.select(evidence)).all():
        bind.execute(evidence.update().where(evidence.c.id == row.id)
                     .values(attachment_key=_key(row)))
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("evidence", naming_convention=NAMING) as batch:
            batch.drop_constraint("uq_evidence_assessment_id_code_sha256", type_="unique")
            batch.alter_column("attachment_key", existing_type=sa.String(64), nullable=False)
            batch.create_unique_constraint("uq_evidence_attachment",
                                           ["assessment_id", "code", "attachment_key"])
        return
    op.drop_constraint("evidence_assessment_id_code_sha256_key", "evidence", type_="unique")
    op.alter_column("evidence", "attachment_key", existing_type=sa.String(64), nullable=False)
    op.create_unique_constraint("uq_evidence_attachment", "evidence",
                                ["assessment_id", "code", "attachment_key"])


def downgrade() -> None:
    with op.batch_alter_table("evidence") as batch:
        batch.drop_constraint("uq_evidence_attachment", type_="unique")
        batch.drop_column("attachment_key")
        batch.create_unique_constraint("evidence_assessment_id_code_sha256_key",
                                       ["assessment_id", "code", "sha256"])
