"""Routers, one per audience: furnishers, gates, the public, operators."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from socialcredit.api.clients import in_operator_network
from socialcredit.api.deps import (
    FurnisherDep,
    FurnisherOrOperatorDep,
    GateOrOperatorDep,
    OperatorDep,
    RegistryDep,
    principal_of,
    refreshed,
    require_role,
)
from socialcredit.api.keys import Principal
from socialcredit.api.metrics import GateMetrics
from socialcredit.api.ratelimit import limit_client
from socialcredit.api.registry import Registry
from socialcredit.api.schemas import (
    AuditPublic,
    BatchIn,
    BatchPublic,
    DecisionIn,
    DecisionPublic,
    EntriesPublic,
    IngestPublic,
    RecordsIn,
    RejectsPublic,
    ReportPublic,
    error_responses,
)
from socialcredit.api.validation import validation_response
from socialcredit.disclosure import search_public
from socialcredit.errors import (
    InputError,
    PermissionDenied,
    RateLimited,
    SocialCreditError,
    StoreUnavailable,
)
from socialcredit.ingest.pipeline import ingest_rows
from socialcredit.ingest.readers import row_of
from socialcredit.policy.obligations import UNMATCHED_EVENT, kept_dates
from socialcredit.reports import summarise
from socialcredit.store.ledger import canonical_json
from socialcredit.store.tables import quarantine

__all__ = ["furnisher_router", "gate_router", "operator_router", "public_router"]

furnisher_router = APIRouter(prefix="/v1", tags=["furnisher"],
                             responses=error_responses(401, 403, 422, 503))
gate_router = APIRouter(prefix="/v1", tags=["gate"],
                        responses=error_responses(400, 401, 403, 413, 422, 503))
public_router = APIRouter(tags=["public"], responses=error_responses(400, 422, 429, 503))
operator_router = APIRouter(prefix="/v1", tags=["operator"],
                            responses=error_responses(401, 403, 503))


@furnisher_router.post("/records", response_model=IngestPublic,
                       responses=error_responses(400, 409, 413))
def submit_records(body: RecordsIn, registry: RegistryDep, who: FurnisherDep) -> dict[str, Any]:
    """Submit records; bad ones are quarantined with their index (``line``) and reason."""
    assert who.principal_id is not None
    rows = [row_of(i, rec) for i, rec in enumerate(body.records, start=1)]
    # the same request sent again quarantines its bad rows once, like a re-sent file
    digest = hashlib.sha256(canonical_json(body.records).encode("utf-8", "surrogatepass")
                            ).hexdigest()  # a JSON "\\ud800" is quarantined, not a 500
    result = ingest_rows(registry.store, registry.policy, furnisher_id=who.principal_id,
                         rows=rows, source=f"api:{who.name}", sha256=digest,
                         as_of=registry.today,
                         chunk_rows=registry.settings.ingest_batch_rows)
    return refreshed(registry, result.as_dict())


@furnisher_router.get("/furnisher/rejects", response_model=RejectsPublic)
def rejects(registry: RegistryDep, who: FurnisherOrOperatorDep,
            limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Quarantined rows, newest first: file, line, field, reason — a furnisher sees its own,
    an operator everyone's."""
    stmt = select(quarantine).order_by(quarantine.c.id.desc()).limit(limit)
    if who.role == "furnisher":
        stmt = stmt.where(quarantine.c.furnisher_id == who.principal_id)
    with registry.store.read() as conn:
        rows = conn.execute(stmt).all()
    data = [{"file": r.source, "line": r.line, "field": r.field, "reason": r.reason}
            for r in rows]
    return {"data": data, "count": len(data)}


@furnisher_router.get("/furnisher/kept-dates")
def kept_first_delinquencies(registry: RegistryDep, who: FurnisherOrOperatorDep,
                             limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Accepted reports whose later date of first delinquency was not taken (no re-aging,
    US FCRA §605(c), §623(a)(5)), newest first, from the ledger: ``record_id,
    furnisher_record_id, kind, obligation, field, reported, kept, at`` — a furnisher sees
    its own, an operator everyone's."""
    with registry.store.read() as conn:
        data = kept_dates(conn, limit=limit, furnisher_id=(
            who.principal_id if who.role == "furnisher" else None))
    return {"data": data, "count": len(data)}


@furnisher_router.get("/furnisher/unmatched-transfers")
def unmatched_transfers(registry: RegistryDep, who: FurnisherOrOperatorDep,
                        limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Accepted transferred reports (a collector's or debt buyer's, naming the original
    creditor) of an obligation of which no report was held for the subject, newest first, from
    the ledger: ``record_id, furnisher_record_id, kind, obligation, field, at`` — a furnisher
    sees its own, an operator everyone's."""
    with registry.store.read() as conn:
        data = kept_dates(conn, limit=limit, event=UNMATCHED_EVENT, furnisher_id=(
            who.principal_id if who.role == "furnisher" else None))
    return {"data": data, "count": len(data)}


def _fresh_enough(request: Request, response: Response, registry: Registry,
                  service: str) -> None:
    """Say how stale the index is; refuse (503) past the policy's limit for the service."""
    stale = registry.gate_index.staleness_seconds
    response.headers["X-Gate-Staleness-Ms"] = str(int(stale * 1000))
    limit = registry.policy.gate.limit_for(service)
    if stale > limit:
        raise StoreUnavailable(
            f"the gate index is {stale:.0f} s stale (limit {limit} s for {service}): the "
            "registry database is unreachable; decide by your fallback procedure",
            details={"staleness_seconds": round(stale, 3), "limit_seconds": limit})


def _gate_of(who: Principal, platform: str | None) -> Principal | None:
    gate = who if who.role == "gate" else None
    if gate is not None and platform not in (None, gate.platform):
        raise PermissionDenied("a gate decides only for its own platform")
    return gate


@gate_router.post("/decisions", response_model=DecisionPublic)
async def decide(body: DecisionIn, request: Request, response: Response, registry: RegistryDep,
                 who: GateOrOperatorDep) -> Response:
    """May this person (or organisation) buy this service? Deny carries reasons; allow
    reveals nothing but the benefits a red list earns here (with their legal basis).

    Header ``X-Gate-Staleness-Ms``: age of the index; 503 past the policy's limit. Async: the
    decision is answered from memory, without a worker thread; the body is built here (its
    shape is ``DecisionPublic``, checked by the schemathesis test) rather than re-validated."""
    start = time.perf_counter()
    gate = _gate_of(who, body.platform)
    _fresh_enough(request, response, registry, body.service)
    decision = registry.decisions.decide(
        service=body.service, national_id=body.national_id, phone=body.phone,
        document=body.document, name=body.name, gate=gate, platform=body.platform,
        organisation_id=body.organisation_id)
    out = decision.as_dict()
    if decision.decision == "deny":  # a refusal names the ledger events it rests on
        out["receipt"] = await run_in_threadpool(
            _deny_receipt, registry, [r["entry_id"] for r in decision.reasons])
    metrics: GateMetrics = request.app.state.metrics
    metrics.decisions.labels(body.service, decision.decision).inc()
    metrics.latency.labels("single").observe(time.perf_counter() - start)
    return JSONResponse(out, headers={
        "X-Gate-Staleness-Ms": response.headers["X-Gate-Staleness-Ms"]})


def _deny_receipt(registry: Registry, entry_ids: list[int]) -> dict[str, Any] | None:
    """The refusal's receipt (:func:`socialcredit.store.tree_head.entry_receipt`), or None
    when the store cannot be read: the refusal itself never waits on it."""
    from socialcredit.store.tree_head import entry_receipt

    try:
        with registry.store.read() as conn:
            return entry_receipt(conn, entry_ids)
    except SocialCreditError:
        return None


async def decide_fast(request: Request) -> Response:
    """``POST /v1/decisions`` as a bare Starlette route: the contract of :func:`decide` (key
    and role first, then the body, then freshness), measured in ``bench/http_gate.py``."""
    registry: Registry = request.app.state.registry
    try:
        who = require_role(await principal_of(request, registry), "gate", "operator")
        try:
            body = DecisionIn.model_validate_json(await request.body())
        except ValidationError as e:
            return validation_response(e.errors())
        response = Response()
        return await decide(body, request, response, registry, who)
    except SocialCreditError as e:
        return JSONResponse(e.to_dict(), status_code=e.status_code, headers=e.headers())


@gate_router.post("/decisions:batch", response_model=BatchPublic)
def decide_batch(body: BatchIn, request: Request, response: Response, registry: RegistryDep,
                 who: GateOrOperatorDep) -> dict[str, Any]:
    """Decide for a manifest of up to 10,000 people, answered in input order; a person with a
    bad identifier gets ``{"error": …}`` in their place."""
    start = time.perf_counter()
    gate = _gate_of(who, body.platform)
    _fresh_enough(request, response, registry, body.service)
    people = [p.model_dump(exclude_none=True) for p in body.people]
    results = registry.decisions.decide_batch(service=body.service, people=people, gate=gate,
                                              platform=body.platform)
    metrics: GateMetrics = request.app.state.metrics
    data: list[dict[str, Any]] = []
    counts: dict[str, int] = {"allow": 0, "deny": 0, "review": 0, "error": 0}
    for r in results:
        if isinstance(r, SocialCreditError):
            data.append(r.to_dict())
            counts["error"] += 1
        else:
            data.append(r.as_dict())
            counts[r.decision] += 1
    for outcome in ("allow", "deny", "review", "error"):
        if counts[outcome]:
            metrics.decisions.labels(body.service, outcome).inc(counts[outcome])
    metrics.latency.labels("batch").observe(time.perf_counter() - start)
    return {"data": data, "count": len(data), "outcomes": counts}


@public_router.get("/metrics", include_in_schema=False)
def metrics(request: Request, registry: RegistryDep) -> Response:
    """Prometheus metrics (text exposition format), for the operator's network only
    (``settings.operator_networks``): the gate's counters would tell an outsider when a
    request wrote to the ledger."""
    if not in_operator_network(request):
        raise PermissionDenied("/metrics is served to the operator's network only "
                               "(SOCIALCREDIT_OPERATOR_NETWORKS)")
    body = request.app.state.metrics.render(registry.gate_index)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")


@public_router.get("/v1/public/entries", response_model=EntriesPublic)
def public_entries(request: Request, registry: RegistryDep,
                   q: str = Query(..., max_length=100)) -> dict[str, Any]:
    """Search active public entries by name, full ID number or an organisation's code (digits
    only or with letters); IDs are masked.

    Rate-limited per client (``settings.public_rate_per_minute`` after a burst of
    ``public_rate_burst``): 429 ``rate_limited`` with ``Retry-After``."""
    limit_client(request)
    data, count = search_public(registry.store, registry.policy, q, today=registry.today,
                                min_chars=registry.settings.public_min_query_chars)
    return {"data": data, "count": count}


@public_router.get("/", response_class=HTMLResponse, include_in_schema=False)
def public_page(request: Request, registry: RegistryDep, q: str = "") -> HTMLResponse:
    results: list[dict[str, Any]] = []
    count, error, status, headers = 0, None, 200, {}
    try:
        if q.strip():  # searches count, not visits of the empty page
            limit_client(request)
            results, count = search_public(registry.store, registry.policy, q[:100],
                                           today=registry.today,
                                           min_chars=registry.settings.public_min_query_chars)
    except (InputError, RateLimited) as e:
        error, status, headers = e.message, e.status_code, e.headers()
    html = request.app.state.templates.get_template("index.html").render(
        q=q, results=results, count=count, error=error,
        policy_version=registry.policy.version_hash, policy_services=registry.policy.services)
    # a searched name or ID must not stay in a shared browser's cache
    return HTMLResponse(html, status_code=status, headers={**headers,
                                                           "Cache-Control": "no-store"})


@public_router.get("/healthz", include_in_schema=False)
def healthz(request: Request, registry: RegistryDep) -> dict[str, Any]:
    """``{"status": "ok"}``; the ledger head (``ledger_seq``) only to the operator's network:
    a public counter of writes would tell who is registered (issue #20)."""
    seq, _ = registry.store.head()
    if in_operator_network(request):
        return {"status": "ok", "ledger_seq": seq}
    return {"status": "ok"}


@operator_router.get("/report", response_model=ReportPublic)
def report(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Transparency figures (shape: :func:`socialcredit.reports.summarise`)."""
    if "decisions" in registry.__dict__:
        registry.decisions.flush()
    return summarise(registry.store, registry.policy, as_of=registry.today)


@operator_router.get("/audit/verify", response_model=AuditPublic)
def audit_verify(registry: RegistryDep, who: OperatorDep) -> dict[str, Any]:
    """Recompute the ledger's hash chain; names the first broken event."""
    r = registry.store.verify()
    return {"ok": r.ok, "events": r.events, "head_hash": r.head_hash,
            "broken_seq": r.broken_seq, "reason": r.reason}
