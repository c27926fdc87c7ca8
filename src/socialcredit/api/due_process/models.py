"""Request and answer shapes of disputes, reviews and repairs (``XIn`` for requests, ``XPublic``
and ``XsPublic{data, count}`` for answers), shared by the subject's routes and the furnisher's
and operator's queues. Ids are positive and below 2**62; free text is at most 2000 characters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnswerIn", "DisputeIn", "DisputePublic", "DisputesPublic", "FurnisherDisputePublic",
    "OutcomeIn", "QueuedReviewPublic", "ReasonIn", "RepairIn", "RepairOutcomeIn", "RepairPublic",
    "RepairsPublic", "ReviewIn", "ReviewPublic", "ReviewsPublic",
]


class DisputeIn(BaseModel):
    """Exactly one of ``record_id`` or ``entry_id``, and what is wrong."""

    model_config = ConfigDict(extra="forbid")
    record_id: int | None = Field(None, ge=1, le=2**62)
    entry_id: int | None = Field(None, ge=1, le=2**62)
    reason: str = Field(min_length=1, max_length=2000)


class ReasonIn(BaseModel):
    # api/links.py has a ReasonIn too, so OpenAPI names this one by its module: kept as it was
    # before this package was split, so that the published schema does not change
    __module__ = "socialcredit.api.due_process"
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class ReviewIn(ReasonIn):
    decision_id: str = Field(min_length=1, max_length=40)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: Literal["verify", "correct", "delete"]
    note: str = Field("", max_length=2000)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["upheld", "overturned"]
    note: str = Field("", max_length=2000)


class DisputePublic(BaseModel):
    id: int
    record_id: int | None
    entry_id: int | None
    status: str
    reason: str
    opened_at: str
    due_on: str
    answered_at: str | None
    answer_note: str | None
    appeal_reason: str | None
    decided_by: str | None


class FurnisherDisputePublic(DisputePublic):
    furnisher_record_id: str | None
    kind: str | None


class DisputesPublic(BaseModel):
    data: list[FurnisherDisputePublic]
    count: int


class ReviewPublic(BaseModel):
    id: int
    decision_id: str
    reason: str
    opened_at: str
    status: str
    decided_at: str | None
    decided_by: str | None
    note: str | None


class QueuedReviewPublic(ReviewPublic):
    service: str
    gate: str
    decided_on: str
    reasons: list[dict[str, Any]]


class ReviewsPublic(BaseModel):
    data: list[QueuedReviewPublic]
    count: int


class RepairIn(BaseModel):
    """Apply to end ``entry_id`` early: ``condition`` met, and the evidence."""

    model_config = ConfigDict(extra="forbid")
    entry_id: int = Field(ge=1, le=2**62)
    condition: Literal["performance", "settlement", "consent"]
    evidence: str = Field(min_length=1, max_length=2000)


class RepairPublic(BaseModel):
    id: int
    entry_id: int
    condition: str
    evidence: str
    opened_at: str
    status: str
    decided_at: str | None
    decided_by: str | None
    note: str | None
    #: The day a decision is owed (the policy's ``repair.decision_days``), where it sets one.
    decide_by: str | None = None


class RepairsPublic(BaseModel):
    data: list[RepairPublic]
    count: int


class RepairOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["granted", "refused"]
    note: str = Field("", max_length=2000)
