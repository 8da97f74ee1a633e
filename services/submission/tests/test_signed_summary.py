"""The signed summary's rules: which checker answers are accepted, and why others are not."""

import pytest

from services.common.errors import DomainError
from services.submission.signed_summary import accept, digest, marker

TABLE = digest({"rows": [{"code": "1.1", "score": "1"}], "total": "1"})


def _check(state: str, *markers: str, overall: str | None = None) -> dict:
    return {"state": overall or state,
            "signatures": [{"state": state, "signer": "UBND", "signed_markers": list(markers)}]}


def _code(check: dict) -> str:
    with pytest.raises(DomainError) as err:
        accept(check, 7, TABLE)
    assert err.value.status == 422 and " / " in err.value.detail
    return err.value.code


def test_an_intact_signature_over_this_tables_marker_is_accepted() -> None:
    assert accept(_check("valid", marker(7, TABLE)), 7, TABLE)["state"] == "valid"
    assert accept(_check("untrusted", marker(7, TABLE)), 7, TABLE)["state"] == "untrusted"


def test_everything_else_is_refused_with_its_reason() -> None:
    assert _code({"state": "absent", "signatures": []}) == "signed_summary_unsigned"
    assert _code(_check("broken", marker(7, TABLE))) == "signed_summary_signature_broken"
    assert _code(_check("valid", marker(7, TABLE), overall="modified")) == \
        "signed_summary_signature_broken"
    assert _code(_check("valid", marker(7, "0" * 64))) == "signed_summary_outdated"
    assert _code(_check("valid", marker(8, TABLE))) == "signed_summary_other_assessment"
    assert _code(_check("valid")) == "signed_summary_not_generated"
    # The digest follows what the table shows.
    assert digest({"total": "1"}) != digest({"total": "1.25"})
