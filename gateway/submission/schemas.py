"""Request bodies of the campaign and assessment routes, for the OpenAPI document.

The submission service validates them again at its boundary; these give clients
the shapes and reject malformed JSON before it crosses the bus.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

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


class EntryBody(BaseModel):
    """One of the score inputs the criterion's rule takes, the flag and the explanation."""

    model_config = {"extra": "forbid"}

    option: str | int | None = Field(default=None, description="options rule: label or index")
    done: Decimal | None = Field(default=None, description="ratio rule")
    planned: Decimal | None = Field(default=None, description="ratio rule")
    count: Decimal | None = Field(default=None, description="deduction rule")
    self_score: Decimal | None = Field(default=None, description="range rule")
    not_applicable: bool | None = None
    explanation: str | None = None
