"""What crosses the submission service's boundary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

WindowKind = Literal["self_assessment", "appraisal", "supplement", "final_appraisal"]


class Actor(BaseModel):
    """Who is calling, as the gateway verified it (Principal.as_actor())."""

    username: str = Field(min_length=1)
    roles: list[str] = Field(default_factory=list)
    unit_code: str | None = None
    department_code: str | None = None


class WindowIn(BaseModel):
    """Times with their offset, as Vietnam shows them (+07:00); stored in UTC."""

    opens_at: AwareDatetime
    locks_at: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> WindowIn:
        if self.locks_at <= self.opens_at:
            raise ValueError("locks_at must come after opens_at")
        return self


class NewWindow(WindowIn):
    kind: WindowKind


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    year: int = Field(ge=2000, le=2100)
    catalog_id: int
    unit_codes: list[str] = Field(min_length=1)
    windows: dict[WindowKind, WindowIn]

    @field_validator("unit_codes")
    @classmethod
    def _unique(cls, codes: list[str]) -> list[str]:
        if len(set(codes)) != len(codes):
            raise ValueError("unit_codes has duplicates")
        return codes

    @field_validator("windows")
    @classmethod
    def _self_assessment(cls, windows: dict[str, WindowIn]) -> dict[str, WindowIn]:
        if "self_assessment" not in windows:
            raise ValueError("a self_assessment window is required")
        return windows


class EntryIn(BaseModel):
    """A save: the score inputs the criterion's rule takes, and the text fields.

    Fields left out keep their stored value, so an explanation can be saved alone.
    """

    model_config = {"extra": "forbid"}

    option: str | int | None = None
    done: Decimal | None = None
    planned: Decimal | None = None
    count: Decimal | None = None
    self_score: Decimal | None = None
    not_applicable: bool | None = None
    explanation: str | None = Field(default=None, max_length=20000)


class EvidenceRef(BaseModel):
    """A document of the evidence service, as the entry shows it."""

    id: str | int
    name: str = Field(min_length=1, max_length=500)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # The evidence service's file type, signature and document-number checks, shown as-is.
    checks: dict[str, Any] | None = None


class SignedSummary(BaseModel):
    """The signed summary as the gateway stored it; its bytes never cross the bus."""

    ref: str = Field(min_length=1, max_length=500)
    filename: str = Field(min_length=1, max_length=300)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)


class SubmitIn(BaseModel):
    signed_summary: SignedSummary
    proposed_classification: str = Field(min_length=1, max_length=100)

