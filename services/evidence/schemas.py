"""What crosses the evidence service's boundary."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from services.common.sniffing import ARCHIVE, EXECUTABLE, JPEG, OFFICE, PDF, PNG, UNKNOWN


class EvidenceMeta(BaseModel):
    """What the unit says about the document (số, ngày, trích yếu, phần chứng minh)."""

    doc_number: str = Field(min_length=1, max_length=100)
    doc_date: date | None = None
    title: str = Field(min_length=1, max_length=500)
    section: str | None = Field(default=None, max_length=2000)


class StoredUpload(BaseModel):
    """What the gateway saw while it streamed the file into the store."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    kind: str = Field(pattern=f"^({PDF}|{JPEG}|{PNG}|{OFFICE}|{ARCHIVE}|{EXECUTABLE}|{UNKNOWN})$")
    original_name: str | None = Field(default=None, max_length=255)


class Actor(BaseModel):
    username: str
    roles: list[str] = []
    unit_code: str | None = None
    department_code: str | None = None
