"""Routes that change where a subject's codes and notices go (the trusted contact channel).

* ``POST /v1/me/channel`` (signed-in subject, CSRF): send a code to a new phone;
* ``POST /v1/me/channel/confirm`` (signed-in subject, CSRF): type it back — the channel moves;
* ``GET /v1/operator/channels/flagged`` (operator): channels furnisher data put in doubt;
* ``POST /v1/operator/subjects/{subject_id}/channel`` (operator): set or confirm a subject's
  channel after an identity check (``evidence`` says which).

No furnisher route changes a channel (see :mod:`socialcredit.identity.channel`).
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from socialcredit.api.deps import OperatorDep, RegistryDep, RowId
from socialcredit.api.due_process.session import SubjectWriteDep, now
from socialcredit.api.due_process.signin import serve_one
from socialcredit.api.schemas import error_responses
from socialcredit.disclosure.contact import (
    confirm_channel_code,
    flagged,
    operator_set_channel,
    request_channel_code,
)

__all__ = ["contact_routers"]

me_channel = APIRouter(prefix="/v1/me", tags=["subject"],
                       responses=error_responses(400, 401, 403, 422, 429, 503))
operator_channel = APIRouter(prefix="/v1/operator", tags=["operator"],
                             responses=error_responses(400, 401, 403, 404, 422, 503))


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=1, max_length=40)


class ChannelCodeIn(ChannelIn):
    code: str = Field(min_length=1, max_length=12)


class OperatorChannelIn(ChannelIn):
    evidence: str = Field(min_length=3, max_length=500,
                          description="The identity check made, e.g. 'ID card seen at the "
                                      "Xuhui office, ticket 2026-118'.")


@me_channel.post("/channel", status_code=202)
def ask_channel_code(body: ChannelIn, registry: RegistryDep,
                     who: SubjectWriteDep) -> dict[str, str]:
    """Send a code to the phone you want your codes and notices to go to."""
    assert who.principal_id is not None
    notice = request_channel_code(registry.store, registry.policy, subject_id=who.principal_id,
                                  phone=body.phone, now=now())
    if notice is not None:
        threading.Thread(target=serve_one, args=(registry, notice), daemon=True).start()
    return {"message": "a code was sent to that phone; type it back to confirm"}


@me_channel.post("/channel/confirm")
def confirm_channel(body: ChannelCodeIn, registry: RegistryDep,
                    who: SubjectWriteDep) -> dict[str, str]:
    """Confirm the new phone with its code; your old phone is told of the change."""
    assert who.principal_id is not None
    phone = confirm_channel_code(registry.store, registry.policy,
                                 subject_id=who.principal_id, phone=body.phone,
                                 code=body.code, now=now())
    return {"phone": phone}


@operator_channel.get("/channels/flagged")
def flagged_channels(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Channels furnisher data put in doubt (``subject_id, phone, reason, flagged_at``)."""
    data = flagged(registry.store)
    return {"data": data, "count": len(data)}


@operator_channel.post("/subjects/{subject_id}/channel")
def set_channel(subject_id: RowId, body: OperatorChannelIn, registry: RegistryDep,
                who: OperatorDep) -> dict[str, Any]:
    """Set or confirm a subject's channel after an identity check."""
    return operator_set_channel(registry.store, registry.policy, subject_id=subject_id,
                                phone=body.phone, operator=who.name, evidence=body.evidence)


def contact_routers() -> list[APIRouter]:
    return [me_channel, operator_channel]
