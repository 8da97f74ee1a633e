"""Appraisal service: council rounds, results, bands, ranking (thẩm định)."""

from services.common.base import ServiceBase
from services.common.contracts import APPRAISAL


class Service(ServiceBase):
    name = APPRAISAL
