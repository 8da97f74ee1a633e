"""Trao đổi giữa Hội đồng và đơn vị: a thread per criterion.

Who may read and write: the unit's own people, the appraisers of the criterion's
department, and the admin.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.appraisal.lock import server_now
from services.appraisal.models import Comment, Node
from services.common.errors import DomainError, invalid
from services.common.times import vn_iso

MAX_TEXT = 5000


def side(who: dict[str, Any], unit_code: str, node: Node) -> str:
    """council, unit or admin; 403 for anyone else."""
    roles = set(who.get("roles") or [])
    if "admin" in roles:
        return "admin"
    if "appraiser" in roles and node.appraised_by and \
            node.appraised_by == who.get("department_code"):
        return "council"
    if roles & {"unit_leader", "unit_staff"} and who.get("unit_code") == unit_code:
        return "unit"
    raise DomainError("forbidden_comment",
                      "Chỉ đơn vị, thành viên Hội đồng phụ trách tiêu chí và quản trị được "
                      "trao đổi / only the unit, the criterion's appraisers and the admin",
                      403)


def add(session: Session, assessment_id: int, node: Node, who: dict[str, Any],
        unit_code: str, body: Any) -> dict[str, Any]:
    speaker = side(who, unit_code, node)
    words = str((body or {}).get("text") or "").strip() if isinstance(body, dict) else ""
    if not words:
        raise invalid("Nội dung trao đổi trống / the comment is empty")
    if len(words) > MAX_TEXT:
        raise invalid(f"Nội dung dài quá {MAX_TEXT} ký tự / longer than {MAX_TEXT} characters")
    comment = Comment(assessment_id=assessment_id, code=node.code, author=who["username"],
                      side=speaker, text=words, created_at=server_now(session))
    session.add(comment)
    session.flush()
    return out(comment)


def thread(session: Session, assessment_id: int, node: Node, who: dict[str, Any],
           unit_code: str) -> list[dict[str, Any]]:
    side(who, unit_code, node)
    return [out(c) for c in session.scalars(select(Comment).where(
        Comment.assessment_id == assessment_id, Comment.code == node.code)
        .order_by(Comment.id))]


def out(c: Comment) -> dict[str, Any]:
    return {"id": c.id, "code": c.code, "author": c.author, "side": c.side, "text": c.text,
            "created_at": vn_iso(c.created_at)}
