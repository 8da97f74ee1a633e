"""Submission service: campaigns, windows and their locks, assessments, entries."""

from services.common.base import ServiceBase
from services.common.contracts import SUBMISSION


class Service(ServiceBase):
    name = SUBMISSION
