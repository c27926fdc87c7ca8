"""The subject's further information on an open dispute: ``POST
/v1/me/disputes/{dispute_id}/information`` (FCRA §611(a)(1)(B), 15 U.S.C. 1681i(a)(1)(B): the
deadline moves once by the policy's ``due_process.dispute_extension_days``; rules in
:mod:`socialcredit.disclosure.dispute_info`). Its own module so that the due-process routers
stay as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from socialcredit.api.deps import RegistryDep, RowId
from socialcredit.api.due_process.session import SubjectWriteDep
from socialcredit.api.schemas import error_responses
from socialcredit.disclosure.dispute_info import MAX_TEXT, add_information

__all__ = ["InformationIn", "InformationPublic", "dispute_info_router"]

dispute_info_router = APIRouter(
    prefix="/v1/me", tags=["subject"],
    responses=error_responses(400, 401, 403, 404, 409, 422, 429, 503))


class InformationIn(BaseModel):
    """What the subject adds: ``text``, 1 to 2,000 characters."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class InformationPublic(BaseModel):
    """The dispute's deadline after the information (ISO local dates), and whether it moved."""

    dispute_id: int
    due_on: str
    previous_due_on: str
    extended: bool


@dispute_info_router.post("/disputes/{dispute_id}/information",
                          response_model=InformationPublic)
def my_information(dispute_id: RowId, body: InformationIn, registry: RegistryDep,
                   who: SubjectWriteDep) -> dict[str, Any]:
    """Send further information on your open dispute, within its deadline. Where the policy
    allows (US: 15 days, FCRA 611(a)(1)(B)), the first such information extends the deadline
    once. 409 when the dispute is closed or past its deadline."""
    assert who.principal_id is not None
    return add_information(registry.store, registry.policy, subject_id=who.principal_id,
                           dispute_id=dispute_id, text=body.text, now=dt.datetime.now(dt.UTC))
