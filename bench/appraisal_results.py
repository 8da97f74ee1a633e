"""Final results and publication of a whole campaign: 10,000 units × 100 criteria.

The appraisal service's own data path, in its own process model (eventlet, psycopg2
made green), against PostgreSQL: ``results.finalize`` (per unit the applicable
criteria's final scores summed by the database in one grouped query, the one scoring
function per unit, one UPDATE for all units, the history rows and one
``assessment_finalized`` event per unit batched into the outbox) then
``results.publish`` (ranks within each unit type, one UPDATE, ``results_published``).
The load (1,000,000 entries through COPY) is not timed. Goal: under 5 s.

    .venv/bin/python bench/appraisal_results.py [--units 10000] [--criteria 100]

Prints the seconds of each step, the peak Python memory of the timed part
(tracemalloc) and the process's peak resident set. The database is
``cchc_bench_appraisal`` on ``CCHC_BENCH_PG`` (else ``CCHC_TEST_PG``, else the local
test server), dropped at the end.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.appraisal import results  # noqa: E402
from services.appraisal.models import Assessment, Campaign  # noqa: E402
from services.common import scoring  # noqa: E402
from services.common.db import make_engine  # noqa: E402
from services.common.migrate import upgrade  # noqa: E402

PG = os.environ.get(
    "CCHC_BENCH_PG",
    os.environ.get("CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432"),
)
DB = f"cchc_bench_appraisal_{os.environ.get('CCHC_TEST_SLOT', '0')}"
BANDS = [{"min": 90, "label": "Xuất sắc"}, {"min": 80, "label": "Tốt"},
         {"min": 65, "label": "Khá"}, {"min": 50, "label": "Trung bình"},
         {"min": 0, "label": "Yếu"}]


def load(url: str, units: int, criteria: int) -> list[str]:
    """One campaign, its criteria (10 fields, the last criterion a survey), every unit
    sent and appraised; about 5 % of criteria returned and scored again, 3 % not
    applicable. Made by the server itself (generate_series), so loading is quick."""
    engine = create_engine(url)
    per_field = criteria // 10
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO campaigns (id, name, year, catalog_id, unit_type, bands, bonus_max, "
            "penalty_max, unranked_unit_codes) VALUES (1, 'Đánh giá CCHC', 2025, 1, "
            "'commune', CAST(:bands AS json), 2, 1, CAST('[\"U00007\"]' AS json))"),
            {"bands": json.dumps(BANDS, ensure_ascii=False)})
        nodes, position = [], 0
        for field in range(1, 11):
            nodes.append({"code": str(field), "title": f"Lĩnh vực {field}", "max": per_field,
                          "depth": 0, "position": position, "field": str(field),
                          "leaf": False, "rule": None, "by": None})
            position += 1
            for i in range(1, per_field + 1):
                survey = field == 10 and i == per_field
                nodes.append({"code": f"{field}.{i}", "title": f"Tiêu chí {field}.{i}",
                              "max": 1, "depth": 1, "position": position, "field": str(field),
                              "leaf": True, "by": None if survey else "SNV",
                              "rule": json.dumps({"kind": "survey"} if survey else
                                                 {"kind": "range", "step": "0.25"})})
                position += 1
        conn.execute(text(
            "INSERT INTO nodes (campaign_id, code, title, max, depth, position, field_code, "
            "is_leaf, rule, appraised_by) VALUES (1, :code, :title, :max, :depth, :position, "
            ":field, :leaf, CAST(:rule AS json), :by)"), nodes)
        conn.execute(text(
            "INSERT INTO assessments (id, campaign_id, unit_code, unit_name, unit_type, status, "
            "round, bonus, penalty) SELECT n, 1, 'U' || lpad((n - 1)::text, 5, '0'), "
            "'UBND xã ' || n, 'commune', 'sent', 1, 0, 0 FROM generate_series(1, :units) n"),
            {"units": units})
        conn.execute(text("SELECT setseed(0.7)"))
        conn.execute(text(
            "INSERT INTO entries (assessment_id, code, max, self_score, not_applicable, "
            "explanation, evidence, problems, r1_score, r1_reason, needs_supplement, returned, "
            "r2_explanation, r2_evidence, r2_score, r2_reason, survey_score, version) "
            "SELECT a, n.code, 1, 1, NOT s AND r.na < 0.03, '', '[]', '[]', "
            "CASE WHEN s THEN NULL ELSE floor(r.r1 * 5) * 0.25 END, '', false, "
            "NOT s AND r.back < 0.05, '', '[]', "
            "CASE WHEN NOT s AND r.back < 0.05 THEN floor(r.r2 * 5) * 0.25 END, '', "
            "CASE WHEN s THEN floor(r.r2 * 5) * 0.25 END, 1 "
            "FROM generate_series(1, :units) a "
            "CROSS JOIN (SELECT code, rule::jsonb ->> 'kind' = 'survey' AS s FROM nodes "
            "WHERE is_leaf) n "
            "CROSS JOIN LATERAL (SELECT random() AS na, random() AS r1, random() AS back, "
            "random() AS r2, a AS tie) r"), {"units": units})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()
    return [f"U{n:05d}" for n in range(units)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--criteria", type=int, default=100)
    args = parser.parse_args()
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB}"'))
    url = f"{PG}/{DB}"
    try:
        upgrade("appraisal", url)
        began = time.perf_counter()
        unit_codes = load(url, args.units, args.criteria)
        print(f"loaded {args.units} units × {args.criteria} criteria "
              f"({args.units * args.criteria:,} entries) in "
              f"{time.perf_counter() - began:.1f} s (not timed)")
        engine = make_engine(url)
        session = sessionmaker(engine, expire_on_commit=False)()
        campaign = session.get(Campaign, 1)
        session.commit()
        tracemalloc.start()
        t0 = time.perf_counter()
        rows = results.finalize(session, campaign, None, "bench")
        session.commit()
        t1 = time.perf_counter()
        campaign = session.get(Campaign, 1)
        results.publish(session, campaign, unit_codes, "bench")
        session.commit()
        t2 = time.perf_counter()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        check(session, rows)
        print(f"finalize {len(rows):,} units: {t1 - t0:.2f} s")
        print(f"publish (rank, announce): {t2 - t1:.2f} s")
        print(f"total: {t2 - t0:.2f} s (goal < 5 s)")
        print(f"peak Python memory of the timed part (tracemalloc): {peak / 2**20:.1f} MiB")
        print(f"peak resident set of the process: "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
        session.close()
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        admin.dispose()


def check(session, rows) -> None:
    """One unit's published figures again, added up in Python from its rows."""
    from services.appraisal.models import Entry

    unit = session.get(Assessment, 1)
    entries = session.query(Entry).filter(Entry.assessment_id == 1).all()
    lines = []
    for e in entries:
        final = e.r2_score if e.returned and e.r2_score is not None else (
            e.r1_score if e.r1_score is not None else e.survey_score)
        lines.append(scoring.Line(final, e.max, not e.not_applicable))
    expected = scoring.result(lines, BANDS)
    assert (unit.total, unit.max, unit.index) == (expected.total, expected.max, expected.index)
    assert session.get(Assessment, 8).rank is None  # U00007 is not ranked
    ranked = session.query(Assessment).filter(Assessment.rank == 1).count()
    assert ranked >= 1 and len(rows) == session.query(Assessment).count()


if __name__ == "__main__":
    main()
