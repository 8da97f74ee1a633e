"""Request bodies of the campaign and assessment routes, for the OpenAPI document.

The submission service validates them again at its boundary; these give clients
the shapes and reject malformed JSON before it crosses the bus.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field


class WindowBody(BaseModel):
    opens_at: AwareDatetime = Field(examples=["2025-09-14T08:00:00+07:00"])
    locks_at: AwareDatetime = Field(examples=["2025-10-05T17:00:00+07:00"])


class NewWindowBody(WindowBody):
    kind: Literal["supplement", "appraisal", "final_appraisal"]


class CampaignBody(BaseModel):
    name: str = Field(examples=["Đánh giá Chỉ số CCHC cấp xã năm 2025"])
    year: int = Field(ge=2000, le=2100)
    catalog_id: int = Field(ge=1, le=2_147_483_647)
    unit_codes: list[str] = Field(min_length=1)
    windows: dict[Literal["self_assessment", "appraisal", "supplement", "final_appraisal"],
                  WindowBody]
    data_cutoff_date: date | None = Field(
        default=None, examples=["2025-11-20"],
        description="ngày chốt số liệu: documents dated after it do not count")
    reminders_minutes_before_lock: list[int] = Field(
        default=[4320, 1440, 120], max_length=10,
        description="minutes before each lock when units that have not sent are reminded")
    unranked_unit_codes: list[str] = Field(
        default_factory=list, description="assessed and published, but not ranked")


# Up to 15 digits before the point and 8 after: "1e9999999" is a 422 with its reason.
Number = Annotated[Decimal, Field(max_digits=23, decimal_places=8, allow_inf_nan=False)]


class EntryBody(BaseModel):
    """One of the score inputs the criterion's rule takes, the flag and the explanation."""

    model_config = {"extra": "forbid"}

    option: str | int | None = Field(default=None, description="options rule: label or index")
    done: Number | None = Field(default=None, description="ratio rule: done ≤ planned")
    planned: Number | None = Field(default=None, description="ratio rule: planned > 0")
    count: Number | None = Field(default=None, description="deduction rule")
    self_score: Number | None = Field(
        default=None, description="range rule; options rule when exactly one option gives it")
    not_applicable: bool | None = None
    explanation: str | None = None
