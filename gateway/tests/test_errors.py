from gateway.errors import from_remote
from gateway.rpc import RemoteError


def test_domain_error_keeps_code_status_and_extras() -> None:
    problem = from_remote(
        RemoteError("DomainError", "x", ["window_locked", "Đã khoá / locked", "423", {"at": "t"}])
    )
    assert (problem.status, problem.code, problem.extra) == (423, "window_locked", {"at": "t"})


def test_any_other_remote_error_is_ours_and_hides_its_text() -> None:
    problem = from_remote(RemoteError("KeyError", "'secret internals'", ["secret internals"]))
    assert problem.status == 500
    assert "secret" not in problem.detail
