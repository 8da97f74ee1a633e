"""Each person's notices (thông báo) and the channels they want them on.

Everyone signed in reads only their own: the username comes from the verified token,
never from the request, so there is nobody else's inbox to ask for.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from gateway.deps import rpc
from gateway.policy import Principal, authenticated
from gateway.rpc import RpcClient
from services.common.contracts import NOTIFY

router = APIRouter(prefix="/api/v1", tags=["notifications"])

Rpc = Annotated[RpcClient, Depends(rpc)]
SignedIn = Annotated[Principal, Depends(authenticated)]


class Delivery(BaseModel):
    channel: str = Field(examples=["email"])
    to: str
    status: str = Field(description="queued | sent | delivered | failed")
    attempts: int
    last_error: str | None
    sent_at: str | None


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(examples=["reminder"])
    title: str
    body: str
    created_at: str
    created_at_display: str = Field(description="dd/MM/yyyy HH:mm, Vietnam time")
    read_at: str | None
    deliveries: list[Delivery]


class PreferencesBody(BaseModel):
    """Switch a channel off (false) or on; reminders and returned criteria still come."""

    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = None
    zalo: StrictBool | None = None


class PreferencesOut(BaseModel):
    email: bool
    zalo: bool
    always_sent: list[str]


@router.get("/notifications", response_model=list[NotificationOut])
async def my_notifications(
    principal: SignedIn, client: Rpc,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> list[dict[str, Any]]:
    """Mine, newest first, each with the state of its email and Zalo deliveries."""
    return await client.call(NOTIFY, "inbox", principal.username, limit, before_id)


@router.post("/notifications/{notification_id}/read")
async def mark_read(
    notification_id: Annotated[int, Path(ge=1, le=2_147_483_647)],
    principal: SignedIn, client: Rpc,
) -> dict[str, Any]:
    """Marks one of mine read; someone else's is 404, as if it did not exist."""
    return await client.call(NOTIFY, "mark_read", principal.username, notification_id)


@router.get("/me/preferences", response_model=PreferencesOut)
async def my_preferences(principal: SignedIn, client: Rpc) -> dict[str, Any]:
    return await client.call(NOTIFY, "get_preferences", principal.username)


@router.put("/me/preferences", response_model=PreferencesOut)
async def set_my_preferences(body: PreferencesBody, principal: SignedIn,
                             client: Rpc) -> dict[str, Any]:
    """``{email, zalo}``: opt out of a channel; lock reminders and returns still come."""
    return await client.call(NOTIFY, "set_preferences", principal.username,
                             body.model_dump(exclude_none=True))
