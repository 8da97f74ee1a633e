"""Evidence service: files in object storage and their signature checks (tài liệu kiểm chứng)."""

from services.common.base import ServiceBase
from services.common.contracts import EVIDENCE


class Service(ServiceBase):
    name = EVIDENCE
