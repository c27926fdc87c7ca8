"""The other side of due process: the furnisher answers the disputes about its records
(``/v1/furnisher/disputes``), and the operator decides appeals, review requests and repair
applications (``/v1/operator/appeals``, ``/reviews``, ``/repairs``). A decision that changes
what the gate sees is followed by a refresh of the gate's view (``api.deps.refreshed``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from socialcredit.api.deps import FurnisherDep, OperatorDep, RegistryDep, RowId, refreshed
from socialcredit.api.due_process.models import (
    AnswerIn,
    DisputePublic,
    DisputesPublic,
    OutcomeIn,
    RepairOutcomeIn,
    RepairPublic,
    RepairsPublic,
    ReviewPublic,
    ReviewsPublic,
)
from socialcredit.api.due_process.session import now
from socialcredit.api.schemas import error_responses
from socialcredit.disclosure.disputes import answer_dispute, decide_appeal, disputes_of_furnisher
from socialcredit.disclosure.repairs import decide_repair, open_repairs
from socialcredit.disclosure.reviews import decide_review, open_reviews

__all__ = ["furnisher_disputes", "operator_queue"]

furnisher_disputes = APIRouter(prefix="/v1/furnisher", tags=["furnisher"],
                               responses=error_responses(400, 401, 403, 404, 409, 422, 503))
operator_queue = APIRouter(prefix="/v1/operator", tags=["operator"],
                           responses=error_responses(400, 401, 403, 404, 409, 422, 503))


# ----------------------------------------------------------------------------- furnishers
@furnisher_disputes.get("/disputes", response_model=DisputesPublic)
def furnisher_open_disputes(registry: RegistryDep, who: FurnisherDep) -> dict[str, Any]:
    """Your open disputes, nearest deadline first."""
    data = disputes_of_furnisher(registry.store, who.principal_id)
    return {"data": data, "count": len(data)}


@furnisher_disputes.post("/disputes/{dispute_id}", response_model=DisputePublic)
def furnisher_answer(dispute_id: RowId, body: AnswerIn, registry: RegistryDep,
                     who: FurnisherDep) -> dict[str, Any]:
    """Answer ``verify``, ``correct`` (after sending the corrected record) or ``delete``."""
    assert who.principal_id is not None
    return refreshed(registry, answer_dispute(
        registry.store, registry.policy, furnisher_id=who.principal_id, dispute_id=dispute_id,
        answer=body.answer, note=body.note, now=now()))


# ----------------------------------------------------------------------------- operators
@operator_queue.get("/appeals", response_model=DisputesPublic)
def appeals(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Disputes appealed to the operator."""
    data = disputes_of_furnisher(registry.store, None, status="appealed")
    return {"data": data, "count": len(data)}


@operator_queue.post("/appeals/{dispute_id}", response_model=DisputePublic)
def decide_an_appeal(dispute_id: RowId, body: OutcomeIn, registry: RegistryDep,
                     who: OperatorDep) -> dict[str, Any]:
    """``upheld`` (the record stands) or ``overturned`` (it is suppressed)."""
    return refreshed(registry, decide_appeal(registry.store, registry.policy, operator=who.name,
                         dispute_id=dispute_id, outcome=body.outcome, note=body.note,
                         now=now()))


@operator_queue.get("/reviews", response_model=ReviewsPublic)
def reviews_queue(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Open requests for human review of a refusal, oldest first."""
    data = open_reviews(registry.store)
    return {"data": data, "count": len(data)}


@operator_queue.post("/reviews/{review_id}", response_model=ReviewPublic)
def decide_a_review(review_id: RowId, body: OutcomeIn, registry: RegistryDep,
                    who: OperatorDep) -> dict[str, Any]:
    """``upheld`` or ``overturned`` (the records behind the refusal are suppressed)."""
    return refreshed(registry, decide_review(registry.store, registry.policy, operator=who.name,
                         review_id=review_id, outcome=body.outcome, note=body.note,
                         now=now()))


@operator_queue.get("/repairs", response_model=RepairsPublic)
def repairs_queue(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Open applications for early removal, oldest first."""
    data = open_repairs(registry.store)
    return {"data": data, "count": len(data)}


@operator_queue.post("/repairs/{repair_id}", response_model=RepairPublic)
def decide_a_repair(repair_id: RowId, body: RepairOutcomeIn, registry: RegistryDep,
                    who: OperatorDep) -> dict[str, Any]:
    """``granted`` (the entry ends today) or ``refused``."""
    return refreshed(registry, decide_repair(
        registry.store, registry.policy, operator=who.name, repair_id=repair_id,
        outcome=body.outcome, note=body.note, now=now()))
