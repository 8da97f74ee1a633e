"""What the entrypoint metrics call an error."""

from services.common.errors import DomainError
from services.common.metrics import outcome


def test_a_refusal_is_not_an_error() -> None:
    assert outcome(None) == "ok"
    locked = DomainError("window_locked", "Đã khóa / locked", 423)
    assert outcome((DomainError, locked, None)) == "rejected"
    unavailable = DomainError("upstream_unavailable", "Lỗi / failed", 503)
    assert outcome((DomainError, unavailable, None)) == "error"
    assert outcome((RuntimeError, RuntimeError("boom"), None)) == "error"

