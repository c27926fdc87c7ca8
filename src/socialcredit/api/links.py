"""Operator routes for identity (issue #3): the link review queue, unlinking, merge and split.

``GET /v1/operator/links`` lists the pairs (record, candidate subject) that probabilistic
linkage could not decide; ``POST …/links/{candidate_id}/accept`` and ``/reject`` decide one;
``POST /v1/operator/records/{record_id}/unlink`` detaches a wrongly linked record;
``POST /v1/operator/merges`` merges two subjects and ``POST …/merges/{merge_id}/split`` undoes
a merge. Each decision is a ledger event made by ``operator:<key name>``
(:mod:`socialcredit.identity.review`); this process's gate index is refreshed at once, other
gates follow within their follower period.

Errors: 404 ``not_found`` (no such candidate, record, subject or merge), 409 ``conflict``
(already decided, merged or split; a record linked by its own national ID), 400
``invalid_input`` (an empty reason, a subject merged into itself), 422 for a malformed body.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from socialcredit.api.deps import OperatorDep, RegistryDep, RowId, refreshed
from socialcredit.api.keys import Principal
from socialcredit.api.registry import Registry
from socialcredit.api.schemas import error_responses
from socialcredit.identity.review import (
    accept_candidate,
    merge_subjects,
    reject_candidate,
    review_queue,
    split_merge,
    unlink_record,
)
from socialcredit.policy.jurisdiction import local_today

__all__ = [
    "CandidatePublic",
    "CandidatesPublic",
    "LinkDecisionPublic",
    "MergeIn",
    "MergePublic",
    "NoteIn",
    "ReasonIn",
    "UnlinkPublic",
    "links_router",
]

links_router = APIRouter(prefix="/v1/operator", tags=["operator"],
                         responses=error_responses(400, 401, 403, 404, 409, 422, 503))

BodyId = Annotated[int, Field(ge=1, le=2**62)]


# ----------------------------------------------------------------------------- requests
class NoteIn(BaseModel):
    """An optional note kept with the decision (the body itself may be left out)."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)


class ReasonIn(BaseModel):
    """Why (kept in the ledger). An empty or blank reason is refused with 400."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=2000)


class MergeIn(ReasonIn):
    """Merge ``absorbed_id`` into ``survivor_id`` (subject ids)."""

    survivor_id: BodyId
    absorbed_id: BodyId


# ----------------------------------------------------------------------------- responses
class ComparisonPublic(BaseModel):
    """One comparison's agreement level and weight (log2 Bayes factor; None: not compared)."""

    level: str
    weight: float | None


class CandidateRecordPublic(BaseModel):
    """The record as the furnisher sent it; ``tentative``: it rests on this subject now,
    pending review."""

    id: int
    furnisher: str
    kind: str
    occurred_at: str
    name: str | None
    birth_date: str | None
    claimed_id: str | None
    phone: str | None
    tentative: bool


class CandidateSubjectPublic(BaseModel):
    id: int
    national_id: str | None
    name: str | None
    birth_date: str | None


class CandidatePublic(BaseModel):
    """A pair of the review queue: ``match_weight`` (log2 Bayes factor), its probability and
    each comparison's contribution."""

    id: int
    match_weight: float
    match_probability: float
    explanation: dict[str, ComparisonPublic]
    status: str
    record: CandidateRecordPublic
    subject: CandidateSubjectPublic


class CandidatesPublic(BaseModel):
    data: list[CandidatePublic]
    count: int


class LinkDecisionPublic(BaseModel):
    """The record's subject after the decision (None: unlinked); ``moved_from``: the subject
    it rested on before an accept moved it."""

    record_id: int
    subject_id: int | None
    moved_from: int | None = None


class UnlinkPublic(BaseModel):
    record_id: int
    subject_id: None
    was: int


class MergePublic(BaseModel):
    """How many records, identifiers and list entries the merge (or split) moved."""

    merge_id: int
    records: int
    identifiers: int
    entries: int


# ----------------------------------------------------------------------------- routes
def _by(who: Principal) -> str:
    return f"operator:{who.name}"


def _note(body: NoteIn | None) -> str | None:
    return None if body is None else body.note


def _as_of(registry: Registry) -> dt.date:
    return registry.today or local_today(registry.policy.jurisdiction)


@links_router.get("/links", response_model=CandidatesPublic)
def links_queue(registry: RegistryDep, who: OperatorDep,
                limit: int = Query(50, ge=1, le=1000),
                offset: int = Query(0, ge=0, le=10**9)) -> dict[str, Any]:
    """Open pairs of the review queue, highest match weight first."""
    return review_queue(registry.store, limit=limit, offset=offset)


@links_router.post("/links/{candidate_id}/accept", response_model=LinkDecisionPublic)
def accept_link(candidate_id: RowId, registry: RegistryDep, who: OperatorDep,
                body: NoteIn | None = None) -> dict[str, Any]:
    """Confirm a pair: the record rests on that subject; its entries pending review take
    effect."""
    return refreshed(registry, accept_candidate(
        registry.store, registry.policy, candidate_id, by=_by(who), note=_note(body),
        as_of=_as_of(registry)))


@links_router.post("/links/{candidate_id}/reject", response_model=LinkDecisionPublic)
def reject_link(candidate_id: RowId, registry: RegistryDep, who: OperatorDep,
                body: NoteIn | None = None) -> dict[str, Any]:
    """Refuse a pair: the record goes to its next candidate (still pending review) or is left
    unlinked."""
    return refreshed(registry, reject_candidate(
        registry.store, registry.policy, candidate_id, by=_by(who), note=_note(body),
        as_of=_as_of(registry)))


@links_router.post("/records/{record_id}/unlink", response_model=UnlinkPublic)
def unlink(record_id: RowId, body: ReasonIn, registry: RegistryDep,
           who: OperatorDep) -> dict[str, Any]:
    """Detach a wrongly linked record from its subject (it is left unlinked)."""
    return refreshed(registry, unlink_record(
        registry.store, registry.policy, record_id, by=_by(who), reason=body.reason,
        as_of=_as_of(registry)))


@links_router.post("/merges", status_code=201, response_model=MergePublic)
def merge(body: MergeIn, registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Merge two subjects found to be one person: records, identifiers, names and list
    entries of ``absorbed_id`` move to ``survivor_id``."""
    return refreshed(registry, merge_subjects(
        registry.store, registry.policy, survivor=body.survivor_id,
        absorbed=body.absorbed_id, by=_by(who), reason=body.reason, as_of=_as_of(registry)))


@links_router.post("/merges/{merge_id}/split", response_model=MergePublic)
def split(merge_id: RowId, body: ReasonIn, registry: RegistryDep,
          who: OperatorDep) -> dict[str, Any]:
    """Undo a merge: what it moved (and is still on the survivor) goes back."""
    return refreshed(registry, split_merge(
        registry.store, registry.policy, merge_id, by=_by(who), reason=body.reason,
        as_of=_as_of(registry)))
