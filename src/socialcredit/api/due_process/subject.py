"""The signed-in subject's own file and requests, as JSON under ``/v1/me``: read the file,
dispute a record or an entry, appeal a furnisher's answer, ask for a human review of a refusal
and apply for early removal of a listing. Every write needs the session's CSRF token
(``SubjectWriteDep``); the shapes are in :mod:`.models`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response

from socialcredit.api.deps import RegistryDep, RowId, refreshed
from socialcredit.api.due_process.models import (
    DisputeIn,
    DisputePublic,
    ReasonIn,
    RepairIn,
    RepairPublic,
    ReviewIn,
    ReviewPublic,
)
from socialcredit.api.due_process.session import SubjectDep, SubjectWriteDep, now, subject_api
from socialcredit.disclosure.disputes import appeal_dispute, open_dispute
from socialcredit.disclosure.repairs import apply_for_repair
from socialcredit.disclosure.reviews import request_review
from socialcredit.disclosure.subject_file import subject_file

__all__ = ["my_appeal", "my_dispute", "my_file", "my_repair", "my_review"]


@subject_api.get("/file")
def my_file(registry: RegistryDep, who: SubjectDep, response: Response) -> dict[str, Any]:
    """The signed-in subject's file (shape: :func:`socialcredit.disclosure.subject_file`)."""
    assert who.principal_id is not None
    response.headers["Cache-Control"] = "no-store"
    return subject_file(registry.store, registry.policy, who.principal_id)


@subject_api.post("/disputes", status_code=201, response_model=DisputePublic)
def my_dispute(body: DisputeIn, registry: RegistryDep, who: SubjectWriteDep) -> dict[str, Any]:
    """Dispute a record or an entry of your file; the answer carries its deadline."""
    assert who.principal_id is not None
    return refreshed(registry, open_dispute(
        registry.store, registry.policy, subject_id=who.principal_id, record_id=body.record_id,
        entry_id=body.entry_id, reason=body.reason, now=now()))


@subject_api.post("/disputes/{dispute_id}/appeal", response_model=DisputePublic)
def my_appeal(dispute_id: RowId, body: ReasonIn, registry: RegistryDep,
              who: SubjectWriteDep) -> dict[str, Any]:
    """Appeal a furnisher's answer to the registry operator."""
    assert who.principal_id is not None
    return appeal_dispute(registry.store, subject_id=who.principal_id, dispute_id=dispute_id,
                          reason=body.reason, now=now())


@subject_api.post("/reviews", status_code=201, response_model=ReviewPublic)
def my_review(body: ReviewIn, registry: RegistryDep, who: SubjectWriteDep) -> dict[str, Any]:
    """Ask for a human review of a refusal about you."""
    assert who.principal_id is not None
    return request_review(registry.store, subject_id=who.principal_id,
                          decision_id=body.decision_id, reason=body.reason, now=now())


@subject_api.post("/repairs", status_code=201, response_model=RepairPublic)
def my_repair(body: RepairIn, registry: RegistryDep, who: SubjectWriteDep) -> dict[str, Any]:
    """Apply for early removal of a listing (performance, settlement, creditor consent)."""
    assert who.principal_id is not None
    return apply_for_repair(registry.store, subject_id=who.principal_id,
                            entry_id=body.entry_id, condition=body.condition,
                            evidence=body.evidence, now=now(),
                            policy=registry.policy)
