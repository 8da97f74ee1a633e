"""Migration 0003 keeps existing evidence and lets the same bytes be attached twice."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from services.common.db import make_engine
from services.common.migrate import alembic_config, upgrade
from services.evidence import domain

SHA = "ab" * 32


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_existing_rows_get_their_key_and_new_descriptions_fit(
    backend: str, request: pytest.FixtureRequest, sqlite_url: str
) -> None:
    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    command.upgrade(alembic_config("evidence", url), "evidence_0002")
    engine = make_engine(url)
    row = {"sha": SHA, "a": 1, "c": "1.1", "n": "25/KH-UBND", "d": date(2025, 3, 5),
           "t": "Kế hoạch", "s": "Mục II", "at": datetime.now(UTC)}
    insert = text(
        "INSERT INTO evidence (sha256, assessment_id, code, doc_number, doc_date, title,"
        " section, canonical_name, checks, uploaded_by, created_at{key}) VALUES (:sha, :a,"
        " :c, :n, :d, :t, :s, 'x', '{{}}', 'u', :at{value})")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO documents (sha256, size, kind, media_type, signature,"
                          " created_at) VALUES (:sha, 1, 'pdf', 'application/pdf', '{}', :at)"),
                     row)
        conn.execute(text(insert.text.format(key="", value="")), row)
    engine.dispose()
    upgrade("evidence", url)
    engine = make_engine(url)
    with engine.begin() as conn:
        key = conn.execute(text("SELECT attachment_key FROM evidence")).scalar_one()
        assert key == domain.attachment_key(SHA, row["n"], row["d"], row["t"], row["s"])
        other = {**row, "n": "30a/KH-UBND",
                 "k": domain.attachment_key(SHA, "30a/KH-UBND", row["d"], row["t"], row["s"])}
        conn.execute(text(insert.text.format(key=", attachment_key", value=", :k")), other)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(insert.text.format(key=", attachment_key", value=", :k")), other)
    engine.dispose()
