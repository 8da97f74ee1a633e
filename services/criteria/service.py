"""Criteria service: criteria sets and the scoring rules (bộ tiêu chí)."""

from services.common.base import ServiceBase
from services.common.contracts import CRITERIA


class Service(ServiceBase):
    name = CRITERIA
