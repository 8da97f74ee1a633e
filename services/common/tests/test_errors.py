"""A DomainError keeps its code, status and typed extras across nameko's RPC hops."""

import json

from nameko.exceptions import deserialize, serialize

import services.common.base  # noqa: F401  (registers DomainError with nameko)
from services.common.errors import DomainError


def over_the_bus(exc: Exception) -> Exception:
    # What nameko sends in a reply is JSON: go through it as the broker would.
    return deserialize(json.loads(json.dumps(serialize(exc))))


def test_domain_error_survives_two_hops_with_its_types() -> None:
    original = DomainError("stale_version", "Đã có người lưu trước / stale", 409,
                           {"current_version": 2, "codes": ["1.1"], "at": None})
    again = over_the_bus(over_the_bus(original))
    assert isinstance(again, DomainError)
    assert (again.code, again.detail, again.status) == ("stale_version", original.detail, 409)
    assert again.extra == {"current_version": 2, "codes": ["1.1"], "at": None}


def test_any_other_exception_stays_remote() -> None:
    assert not isinstance(over_the_bus(KeyError("x")), DomainError)
