"""Path parameters, bounded in one place for every route.

Ids are PostgreSQL ``integer``s: a number beyond them (``/evidence/99999999999999999999``)
is a 422 here, with the reason, instead of an overflow deep in a service (a 500).
Every route takes its ids and criterion codes from here; a test walks the routes and
refuses an unbounded integer path parameter.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import Path

ID_MAX: Final = 2_147_483_647

Id = Annotated[int, Path(ge=1, le=ID_MAX, description="an id: 1 … 2147483647")]
Code = Annotated[str, Path(min_length=1, max_length=30, description="a criterion code, e.g. 2.3")]
