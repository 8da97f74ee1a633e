"""Reading and locking the submission service's rows; the lock instant itself.

The lock (khóa sổ) lives in services/common/windows.py (its docstring says how a write
and the instant are ordered; appraisal uses the same). Here, which rows a write takes:

1. A write first takes its window's row ``FOR SHARE`` and checks the server clock
   (``windows.check_open``, which on PostgreSQL also arms the commit-time check): a
   write arriving after the instant fails at once.
2. It then makes its changes; its COMMIT is refused (423, everything rolled back) when
   it comes at or after the instant: on PostgreSQL by the deferred constraint trigger
   on entries, assessments and changes (migration 0005), inside the COMMIT itself; on
   SQLite (single writer) by a last clock read just before it.
3. The timer that announces the lock takes the same row ``FOR UPDATE``, which waits
   for every writer still holding its share lock. So ``window_locked`` is published
   only after every write accepted before the instant is committed and visible: a
   consumer that reads after the event sees the final state, and nothing accepted
   can appear later.

No grace period, and no browser clock anywhere.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    LABEL_STYLE_TABLENAME_PLUS_COL,
    bindparam,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from services.common import idempotency, windows
from services.common.errors import DomainError, not_found
from services.submission import domain
from services.submission.models import (
    Assessment,
    Campaign,
    Change,
    Entry,
    IdempotentResponse,
    Node,
    Window,
)

# A campaign's copy of the criteria tree never changes, so each process keeps it,
# per database (tests run several in one process).
_nodes_cache: dict[tuple[str, int], dict[str, Node]] = {}


is_postgres = windows.is_postgres
server_now = windows.server_now


def nodes(session: Session, campaign_id: int) -> dict[str, Node]:
    key = (str(session.get_bind().url), campaign_id)
    cached = _nodes_cache.get(key)
    if cached is None:
        rows = session.scalars(
            select(Node).where(Node.campaign_id == campaign_id).order_by(Node.position)
        ).all()
        for row in rows:
            session.expunge(row)
        cached = {row.code: row for row in rows}
        if cached:
            _nodes_cache[key] = cached
    return cached


# An assessment belongs to one campaign for ever: knowing it, a save can ask for its
# score before reading any row.
_campaign_of: dict[tuple[str, int], int] = {}


def known_campaign(session: Session, assessment_id: int) -> int | None:
    return _campaign_of.get((str(session.get_bind().url), assessment_id))


def remember_campaign(session: Session, assessment_id: int, campaign_id: int) -> None:
    _campaign_of[(str(session.get_bind().url), assessment_id)] = campaign_id


# Scores the criteria service gave, by set, criterion and inputs. A set a campaign
# uses can no longer change (criteria's use_catalog), so the same inputs always score
# the same: in the last hours thousands of units send the same few options. Only
# accepted scores are kept (a refusal is asked again); bounded, oldest use first out.
_scores: OrderedDict[tuple[str, int, str, str], Decimal] = OrderedDict()
SCORES_KEPT = 50_000


def _score_key(session: Session, catalog_id: int, code: str,
               inputs: dict[str, Any]) -> tuple[str, int, str, str]:
    return (str(session.get_bind().url), catalog_id, code, json.dumps(inputs, sort_keys=True))


def known_score(session: Session, catalog_id: int, code: str,
                inputs: dict[str, Any]) -> Decimal | None:
    key = _score_key(session, catalog_id, code, inputs)
    score = _scores.get(key)
    if score is not None:
        _scores.move_to_end(key)
    return score


def remember_score(session: Session, catalog_id: int, code: str, inputs: dict[str, Any],
                   score: Decimal) -> None:
    _scores[_score_key(session, catalog_id, code, inputs)] = score
    while len(_scores) > SCORES_KEPT:
        _scores.popitem(last=False)


def valid_id(value: Any) -> bool:
    """An id PostgreSQL's integer can hold; anything else is simply not found."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


_campaigns_cache: dict[tuple[str, int], Campaign] = {}


def campaign(session: Session, campaign_id: int) -> Campaign | None:
    """A campaign never changes once created (its windows are rows of their own)."""
    if not valid_id(campaign_id):
        return None
    key = (str(session.get_bind().url), campaign_id)
    cached = _campaigns_cache.get(key)
    if cached is None:
        cached = session.get(Campaign, campaign_id)
        if cached is None:
            return None
        session.expunge(cached)
        _campaigns_cache[key] = cached
    return cached


def assessment_and_entry(
    session: Session, assessment_id: int, code: str
) -> tuple[Assessment, Entry]:
    """Both in one round trip, without locks: the cheap checks before any scoring call."""
    if not valid_id(assessment_id):
        raise not_found("bản đánh giá / assessment", str(assessment_id))
    row = session.execute(
        select(Assessment, Entry).outerjoin(
            Entry, (Entry.assessment_id == Assessment.id) & (Entry.code == code))
        .where(Assessment.id == assessment_id)
    ).one_or_none()
    if row is None:
        raise not_found("bản đánh giá / assessment", str(assessment_id))
    if row[1] is None:
        raise not_found("tiêu chí / criterion", code)
    return row[0], row[1]


def assessment(session: Session, assessment_id: int, lock: str | None = None) -> Assessment:
    if not valid_id(assessment_id):
        raise not_found("bản đánh giá / assessment", str(assessment_id))
    query = select(Assessment).where(Assessment.id == assessment_id)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock == "update":
        query = query.with_for_update()
    found = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise not_found("bản đánh giá / assessment", str(assessment_id))
    return found


def entry(session: Session, assessment_id: int, code: str, lock: bool = False) -> Entry:
    query = select(Entry).where(Entry.assessment_id == assessment_id, Entry.code == code)
    if lock:
        query = query.with_for_update()
    found = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if found is None:
        raise not_found("tiêu chí / criterion", code)
    return found


def locked_for_write(
    session: Session, assessment_id: int, code: str
) -> tuple[Assessment, Entry, Window, datetime] | None:
    """The assessment and its window FOR SHARE, the entry FOR UPDATE, and the server
    clock read once they are held: one round trip.

    The same rows and locks as ``assessment(lock="share")``, ``open_window`` and
    ``entry(lock=True)`` one after the other, and on PostgreSQL the clock read that
    arms the commit-time check (``windows.arming_columns``); the caller refuses with
    ``windows.refuse_unless_open``. None when any row is missing (or the assessment
    changed round while this waited for a lock): the caller then takes the step-by-step
    path, which says which one.
    """
    params = {"assessment_id": assessment_id, "code": code}
    if not is_postgres(session):
        row = session.execute(_LOCKED_ROWS, params).one_or_none()
        if row is None:
            return None
        return row[0], row[1], row[2], windows.server_now(session)
    row = session.execute(_LOCKED_ROWS_AND_CLOCK, params).one_or_none()
    return None if row is None else (row[0], row[1], row[2], row[3])


def _locked_rows_statements() -> tuple[Any, Any]:
    """``locked_for_write``'s statements, built once: building the subquery's columns
    cost more CPU than the round trip it saves."""
    rows = (
        select(Assessment, Entry, Window)
        .join(Entry, (Entry.assessment_id == Assessment.id)
              & (Entry.code == bindparam("code")))
        .join(Window, (Window.campaign_id == Assessment.campaign_id) & (Window.kind == case(
            (Assessment.status == "returned", domain.SUPPLEMENT),
            else_=domain.SELF_ASSESSMENT)))
        .where(Assessment.id == bindparam("assessment_id"))
        .execution_options(populate_existing=True)
    )
    # SQLAlchemy writes one locking clause; PostgreSQL takes one per table.
    held = (rows.set_label_style(LABEL_STYLE_TABLENAME_PLUS_COL)
            .suffix_with("FOR SHARE OF assessments, windows FOR UPDATE OF entries")
            .subquery("held"))
    with_clock = (
        select(aliased(Assessment, held), aliased(Entry, held), aliased(Window, held),
               *windows.arming_columns(held.c.windows_locks_at))
        .execution_options(populate_existing=True)
    )
    return rows, with_clock


_LOCKED_ROWS, _LOCKED_ROWS_AND_CLOCK = _locked_rows_statements()


# What a write to an entry sets; the rest of the row (its place, its maximum, whether
# the council returned it, its assignee) only other writes change.
_WRITTEN = ("inputs", "score", "not_applicable", "explanation", "evidence", "status",
            "version", "updated_at", "updated_by")


def write_entry(session: Session, entry: Entry, change: dict[str, Any]) -> tuple[Any, Any]:
    """Stores ``entry``'s written fields and the history row ``change``; answers the
    sums of the applicable scores and maxima of the whole assessment, ``entry`` as it
    now is included.

    The entry must be held FOR UPDATE. It leaves the session (the ORM would write it a
    second time at commit): the row is written here by plain statements, on PostgreSQL
    in one round trip with the history row and the sums. The ORM's flush of these two
    rows and the separate sums query were a third of a save's CPU in the rush.
    """
    session.expunge(entry)
    params: dict[str, Any] = {f"e_{name}": getattr(entry, name) for name in _WRITTEN}
    params.update({f"c_{name}": value for name, value in change.items()})
    params["e_id"], params["aid"] = entry.id, entry.assessment_id
    if is_postgres(session):
        row = session.execute(_WRITE_AND_SUM, params).one()
    else:
        session.execute(_WRITE, params)
        session.execute(_RECORD, params)
        row = session.execute(_OTHERS_SUMS, params).one()
    total, maximum = row[0], row[1]
    if not entry.not_applicable:
        maximum = (maximum or 0) + entry.max
        if entry.score is not None:
            total = (total or 0) + entry.score
    return total, maximum


def _write_statements() -> tuple[Any, Any, Any, Any]:
    """``write_entry``'s statements, built once (building them cost more than running)."""
    entries, changes = Entry.__table__, Change.__table__
    write = (update(entries).where(entries.c.id == bindparam("e_id"))
             .values({name: bindparam(f"e_{name}", type_=entries.c[name].type)
                      for name in _WRITTEN}))
    record = insert(changes).values({
        name: bindparam(f"c_{name}", type_=changes.c[name].type)
        for name in ("assessment_id", "code", "action", "actor", "at", "before", "after")})
    # The other entries only: a statement's snapshot does not see its own CTE's update,
    # so the written entry is added by the caller from what it wrote.
    others = (select(func.sum(entries.c.score), func.sum(entries.c.max))
              .where(entries.c.assessment_id == bindparam("aid"),
                     entries.c.not_applicable.is_(False), entries.c.id != bindparam("e_id")))
    together = others.add_cte(write.returning(entries.c.id).cte("written"),
                              record.returning(changes.c.id).cte("recorded"))
    return write, record, others, together


_WRITE, _RECORD, _OTHERS_SUMS, _WRITE_AND_SUM = _write_statements()

# Prepared once per connection on PostgreSQL (services/common/db.prepare): planning
# them anew was most of their server CPU.
PREPARED = {"cchc_save_locked_rows": _LOCKED_ROWS_AND_CLOCK,
            "cchc_save_write": _WRITE_AND_SUM}


def window_for(status: str) -> str:
    """Which window a unit's write falls in: round 1, or the supplement round."""
    return domain.SUPPLEMENT if status == "returned" else domain.SELF_ASSESSMENT


def open_window(session: Session, campaign_id: int, kind: str) -> Window:
    """Takes the window's row FOR SHARE and refuses the write unless it is open now."""
    return windows.open_window(session, Window, campaign_id, kind,
                               "Chưa có thời hạn cập nhật cho vòng này")


def unit_may_write(found: Assessment) -> None:
    if found.status == "submitted":
        raise DomainError(
            "assessment_submitted",
            "Đơn vị đã gửi báo cáo; không thể thay đổi cho đến khi được trả lại / "
            "the assessment was sent; nothing can change until it is returned",
            423,
        )


def record_change(
    session: Session, assessment_id: int, code: str | None, action: str, actor: str,
    at: datetime, before: dict[str, Any] | None, after: dict[str, Any] | None,
) -> None:
    session.add(Change(assessment_id=assessment_id, code=code, action=action, actor=actor,
                       at=at, before=before, after=after))


def idempotent(
    session: Session, actor: str, key: str | None, fingerprint: str,
    work: Callable[[], tuple[dict[str, Any], Window | None]],
) -> dict[str, Any]:
    """``work`` in one transaction committed before its window's lock, or the answer
    the key already got (services/common/idempotency.py)."""
    return idempotency.run(session, IdempotentResponse, actor, key, fingerprint, work)
