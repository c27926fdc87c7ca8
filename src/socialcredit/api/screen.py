"""Screening routes: ``POST /v1/screen`` (one person or organisation) and
``POST /v1/screen:batch`` (up to :data:`~socialcredit.screening.service.MAX_BATCH`, keyed like
yente's ``{"queries": {"q1": …}}`` → ``{"responses": {"q1": …}}``), and
``POST /v1/operator/screen/clearances`` (an operator marks a pair as not a match).

Callers: gates and operators. A screen is a read of external lists only: it writes nothing and
never refuses a sale by itself (the gate's decisions do, with a document hit).

Errors: 400 ``invalid_input`` (unknown kind, an empty name, one over 500 characters or of only
legal-form words, a birth date not ``YYYY-MM-DD``/``YYYY`` or in the future), 413
``payload_too_large`` (a batch over its limit), 422 for a malformed body. In a batch a bad
query gets ``{"status": 400, "error": …}`` in its place and the others are answered.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from socialcredit.api.deps import GateOrOperatorDep, OperatorDep, RegistryDep
from socialcredit.api.schemas import error_responses
from socialcredit.errors import PayloadTooLarge, SocialCreditError
from socialcredit.screening.cleared import clear_pair
from socialcredit.screening.service import MAX_BATCH, parse_query

__all__ = ["ClearanceIn", "ScreenBatchIn", "ScreenIn", "screen_router"]

#: Names in one batch, all queries together: a 500-character name costs up to ~10 ms of CPU
#: to screen, so a batch stays within ~20 s of one core (a newcomer's 1,000 queries of 20 long
#: names each would have taken ~200 s).
MAX_BATCH_NAMES = 2000

screen_router = APIRouter(prefix="/v1", tags=["screening"],
                          responses=error_responses(400, 401, 403, 404, 413, 422, 503))


class ScreenIn(BaseModel):
    """A person or an organisation to screen. ``kind`` (or yente's ``schema``): person,
    organisation, vessel, aircraft. Names in any script; ``birth_date`` ``YYYY-MM-DD`` or
    ``YYYY``; ``nationality`` a country name or ISO code; ``documents`` passport or ID
    numbers; ``national_id`` is compared like a document; ``phone`` is accepted, and matches
    nothing (no list carries phones)."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(None, max_length=40)
    schema_: str | None = Field(None, alias="schema", max_length=40)
    name: str | None = None
    names: list[str] = Field(default_factory=list, max_length=20)
    birth_date: str | None = Field(None, max_length=10)
    nationality: str | None = Field(None, max_length=80)
    documents: list[str] = Field(default_factory=list, max_length=20)
    national_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    limit: int = Field(10, ge=1, le=100)

    def query(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude={"limit"})


class ScreenBatchIn(BaseModel):
    """Queries by the caller's own keys (``{"q1": {…}, "q2": {…}}``)."""

    model_config = ConfigDict(extra="forbid")

    queries: dict[str, ScreenIn] = Field(min_length=1)


@screen_router.post("/screen")
def screen(body: ScreenIn, registry: RegistryDep, who: GateOrOperatorDep) -> dict[str, Any]:
    """Ranked candidates of one person or organisation, each with a score from 0 to 1,
    ``match`` (score at or above its list's review threshold) and a per-feature
    explanation."""
    query = parse_query(body.query())
    return registry.screening.screen(query, limit=body.limit)


class ClearanceIn(BaseModel):
    """An operator's ruling: the screened details ``query`` are not the listed entry ``id``
    (``list:key``, as in a screen's result), for ``reason``."""

    model_config = ConfigDict(extra="forbid")

    query: ScreenIn
    id: str = Field(min_length=3, max_length=140)
    reason: str = Field(min_length=1, max_length=2000)


@screen_router.post("/operator/screen/clearances")
def clear(body: ClearanceIn, registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Mark a (screened details, listed entry) pair as not a match: the next screens of the
    same details return the entry with ``cleared`` (who, when, why) and ``match: false``
    while it reads as it did when cleared (else ``earlier_clearance``). 404 when the entry is
    not listed."""
    result = clear_pair(registry.store, query=parse_query(body.query.query()), entry_id=body.id,
                        reason=body.reason, by=f"operator:{who.name}")
    registry.screening.invalidate()
    return result


@screen_router.post("/screen:batch")
def screen_batch(body: ScreenBatchIn, registry: RegistryDep,
                 who: GateOrOperatorDep) -> dict[str, Any]:
    """Screen up to 1,000 queries holding at most 2,000 names in all; each answered under its
    own key."""
    if len(body.queries) > MAX_BATCH:
        raise PayloadTooLarge(f"{len(body.queries)} queries in one batch; at most {MAX_BATCH}",
                              details={"limit": MAX_BATCH, "count": len(body.queries)})
    names = sum(len(q.names) + (q.name is not None) for q in body.queries.values())
    if names > MAX_BATCH_NAMES:  # each name is scored against its candidates: the CPU bound
        raise PayloadTooLarge(f"{names:,} names in one batch; at most {MAX_BATCH_NAMES:,}",
                              details={"limit": MAX_BATCH_NAMES, "count": names})
    responses: dict[str, Any] = {}
    for key, item in body.queries.items():
        try:
            query = parse_query(item.query())
        except SocialCreditError as e:
            responses[key] = {"status": e.status_code} | e.to_dict()
            continue
        responses[key] = registry.screening.screen(query, limit=item.limit)
    return {"responses": responses}
