"""What crosses the submission service's boundary."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

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


# Three days, one day and two hours before each lock, as API.md says.
DEFAULT_REMINDERS = [4320, 1440, 120]


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    year: int = Field(ge=2000, le=2100)
    catalog_id: int = Field(ge=1, le=2_147_483_647)
    unit_codes: list[str] = Field(min_length=1)
    windows: dict[WindowKind, WindowIn]
    # Ngày chốt số liệu: a document dated after it does not count (seed 003).
    data_cutoff_date: date | None = None
    # Minutes before each lock at which those who have not sent are reminded (notify).
    reminders_minutes_before_lock: list[int] = Field(
        default_factory=lambda: list(DEFAULT_REMINDERS), max_length=10)
    # Assessed and published, but given no rank (đơn vị không xếp hạng).
    unranked_unit_codes: list[str] = Field(default_factory=list)

    @field_validator("reminders_minutes_before_lock")
    @classmethod
    def _reminders(cls, minutes: list[int]) -> list[int]:
        # At most a year ahead; each reminder once, the earliest first.
        if any(m < 1 or m > 525_600 for m in minutes):
            raise ValueError("each reminder is between 1 and 525600 minutes before the lock")
        if len(set(minutes)) != len(minutes):
            raise ValueError("reminders_minutes_before_lock has duplicates")
        return sorted(minutes, reverse=True)

    @model_validator(mode="after")
    def _unranked_in_campaign(self) -> CampaignIn:
        strangers = sorted(set(self.unranked_unit_codes) - set(self.unit_codes))
        if strangers:
            raise ValueError(f"unranked_unit_codes not in unit_codes: {', '.join(strangers)}")
        if len(set(self.unranked_unit_codes)) != len(self.unranked_unit_codes):
            raise ValueError("unranked_unit_codes has duplicates")
        return self

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


# A score input as a person types it: up to 15 digits before the point and 8 after;
# "1e9999999" is refused here with its reason, never handed to arithmetic.
Number = Annotated[Decimal, Field(max_digits=23, decimal_places=8, allow_inf_nan=False)]
OptionLabel = Annotated[str, Field(max_length=300)]
OptionIndex = Annotated[int, Field(ge=0, le=1000)]


class EntryIn(BaseModel):
    """A save: the score inputs the criterion's rule takes, and the text fields.

    Fields left out keep their stored value, so an explanation can be saved alone.
    """

    model_config = {"extra": "forbid"}

    option: OptionLabel | OptionIndex | None = None
    done: Number | None = None
    planned: Number | None = None
    count: Number | None = None
    self_score: Number | None = None
    not_applicable: bool | None = None
    explanation: str | None = Field(default=None, max_length=20000)


class EvidenceRef(BaseModel):
    """A document of the evidence service, as the entry shows it."""

    id: str | int
    name: str = Field(min_length=1, max_length=500)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    # The evidence service's file type, signature and document-number checks, shown as-is.
    checks: dict[str, Any] | None = None
    # The document as the unit described it: precheck reads the number, date and section.
    doc_number: str | None = Field(default=None, max_length=100)
    doc_date: date | None = None
    title: str | None = Field(default=None, max_length=500)
    section: str | None = Field(default=None, max_length=2000)


class SignedSummary(BaseModel):
    """The signed summary as the gateway stored it; its bytes never cross the bus."""

    ref: str = Field(min_length=1, max_length=500)
    filename: str = Field(min_length=1, max_length=300)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=1)


class SubmitIn(BaseModel):
    signed_summary: SignedSummary
    proposed_classification: str = Field(min_length=1, max_length=100)

