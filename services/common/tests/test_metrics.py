"""What the entrypoint metrics call an error, and the deliveries counted from the start."""

from prometheus_client import REGISTRY

from services.common.errors import DomainError
from services.common.metrics import outcome, record_delivery


def test_a_refusal_is_not_an_error() -> None:
    assert outcome(None) == "ok"
    locked = DomainError("window_locked", "Đã khóa / locked", 423)
    assert outcome((DomainError, locked, None)) == "rejected"
    unavailable = DomainError("upstream_unavailable", "Lỗi / failed", 503)
    assert outcome((DomainError, unavailable, None)) == "error"
    assert outcome((RuntimeError, RuntimeError("boom"), None)) == "error"


def test_deliveries_exist_at_zero_and_count_failures() -> None:
    def failed() -> float | None:
        return REGISTRY.get_sample_value("cchc_notification_deliveries_total",
                                         {"channel": "zalo", "outcome": "failed"})

    before = failed()
    assert before is not None
    record_delivery("zalo", ok=False)
    assert failed() == before + 1
