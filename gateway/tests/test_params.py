"""Every integer path parameter of every route is bounded (gateway/params.py)."""

from __future__ import annotations

from gateway.app import app
from gateway.params import ID_MAX


def test_every_integer_path_parameter_is_an_id_with_bounds() -> None:
    paths = app.openapi()["paths"]
    unbounded = []
    seen = 0
    for path, operations in paths.items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") != "path" or schema.get("type") != "integer":
                    continue
                seen += 1
                if (schema.get("minimum"), schema.get("maximum")) != (1, ID_MAX):
                    unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert seen >= 10
    assert unbounded == []

