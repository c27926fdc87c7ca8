"""API schemas, in layers: requests (``…In``) and responses (``…Public``, ``…sPublic``).

Every error response has one shape, :class:`ErrorOut` (``{"error": {"code", "message",
"details"}}``, DESIGN §6); :func:`error_responses` declares it in the OpenAPI document for the
statuses a route can answer, so clients (and the schemathesis test) can rely on them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "AuditPublic",
    "BatchIn",
    "BatchPublic",
    "DecisionIn",
    "DecisionPublic",
    "EntriesPublic",
    "ErrorOut",
    "IngestPublic",
    "ReasonPublic",
    "RecordsIn",
    "RejectsPublic",
    "ReportPublic",
    "error_responses",
]


class RecordsIn(BaseModel):
    """Up to 10,000 records in the furnisher file format (flat keys: furnisher_record_id, kind,
    occurred_at, national_id, phone, name, corrects and the kind's catalogue fields)."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class IngestPublic(BaseModel):
    """Counts of one submission. ``problems``: quarantined rows (``line``, ``field``,
    ``reason``); ``flagged``: accepted rows whose national ID is kept as sent but not trusted
    (``line``, ``field``, ``flag``: ``id_check_failed``, ``legacy_id_unchecked``,
    ``birth_date_conflict``, ``sex_conflict``), or whose later date of first delinquency was
    not taken (``flag`` ``first_delinquency_kept``, with the dates ``reported`` and ``kept``:
    no re-aging, US FCRA §605(c)), or which are transfers of an obligation nobody reported
    (``flag`` ``transfer_unmatched``; both with the ``obligation``), or which landed without
    a field that was not valid (``flag`` ``field_dropped``, with the ``reason``: a phone that
    is not a number, when an ID says who the record concerns); ``pending_links``:
    records waiting in the identity review queue."""

    accepted: int
    rejected: int
    duplicates: int
    unlinked: int
    pending_links: int = 0
    problems: list[dict[str, Any]]
    flagged: list[dict[str, Any]] = []


class DecisionIn(BaseModel):
    """Exactly one of ``national_id``, ``phone``, ``document`` (alias ``passport``) or
    ``organisation_id`` (an organisation's code: the unified social credit code in China);
    ``name`` only ever leads to ``review``; ``platform`` is for operators (a gate's own
    platform applies to gates)."""

    model_config = ConfigDict(extra="forbid")

    # bounded, as PersonIn: an error never echoes megabytes back (issue #20)
    service: str = Field(max_length=64)
    national_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    document: str | None = Field(None, max_length=64,
                                 validation_alias=AliasChoices("document", "passport"))
    name: str | None = Field(None, max_length=200)
    platform: str | None = Field(None, max_length=64)
    organisation_id: str | None = Field(None, max_length=64)


class PersonIn(BaseModel):
    """One person of a batch: exactly one identifier (checked per person), optional name."""

    model_config = ConfigDict(extra="forbid")

    national_id: str | None = Field(None, max_length=64)
    phone: str | None = Field(None, max_length=32)
    document: str | None = Field(None, max_length=64,
                                 validation_alias=AliasChoices("document", "passport"))
    name: str | None = Field(None, max_length=200)


class BatchIn(BaseModel):
    """A manifest: one service, up to 10,000 people."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(max_length=64)
    platform: str | None = Field(None, max_length=64)
    people: list[PersonIn] = Field(min_length=1, max_length=10_000)


class OnBehalfOfPublic(BaseModel):
    """The organisation whose listing a representative's own restriction follows, and the
    case (SPC 2015, Art. 3, para. 2)."""

    organisation: str | None
    organisation_id: str | None
    case_number: str


class PerformancePublic(BaseModel):
    """What an organisation has paid on the case so far, in minor units of ``currency``."""

    performed_minor: int
    currency: str | None


class ReasonPublic(BaseModel):
    list: str
    entry_id: int
    ground: int | None
    ground_text: str | None
    legal_basis: str
    list_legal_basis: str
    since: str
    until: str | None
    furnisher: str | None
    how_to_contest: str
    #: severity grade of the sanction (1 mild … 5 most severe), from the policy
    severity: int
    #: the sharing agreement under which another platform's entry refuses here, if any
    shared_under: str | None = None
    #: a representative's restriction: the organisation and case it follows (else absent)
    on_behalf_of: OnBehalfOfPublic | None = None


class BenefitPublic(BaseModel):
    """A benefit a red-list entry earns at this service (socialcredit/gate/benefits.py):
    never while the subject holds a live sanctioned entry."""

    benefit: str
    text: str
    list: str
    entry_id: int
    legal_basis: str
    list_legal_basis: str
    since: str
    until: str | None
    furnisher: str | None


class DecisionPublic(BaseModel):
    decision: Literal["allow", "deny", "review"]
    decision_id: str
    service: str
    reasons: list[ReasonPublic]
    #: on an allow of a subject on a red list: its benefits here (else empty)
    benefits: list[BenefitPublic] = []
    #: on a deny: ``{"entries": [{"entry_id", "seq"}], "tree_size", "head"}``, the ledger
    #: events the refusal rests on and the signed tree head covering them (null until signed)
    receipt: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """``code``: stable machine-readable name (e.g. ``unauthenticated``, ``rate_limited``);
    ``message``: one human sentence; ``details``: structured context (``problems`` for 422,
    ``retry_after_seconds`` for 429, …)."""

    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """The one error shape of the API: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorBody


#: What each error status means, as published in the OpenAPI document.
ERROR_STATUSES: dict[int, str] = {
    400: "Invalid input (`invalid_input`, `invalid_identifier`, `unknown_service`)",
    401: "No API key, or an unknown or revoked one (`unauthenticated`)",
    403: "The key's role may not call this route or use this service (`forbidden`)",
    404: "Not found (`not_found`)",
    409: "A concurrent write conflicted with this one; retry (`conflict`)",
    413: "Request body too large (`payload_too_large`)",
    422: "The request does not match its schema; `details.problems` lists every problem "
         "(`validation_failed`)",
    429: "Too many requests from this client; see `Retry-After` (`rate_limited`)",
    503: "The registry database or the gate index is unavailable (`unavailable`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route or router: each of ``statuses`` (keys of
    :data:`ERROR_STATUSES`) answered with :class:`ErrorOut`.

    Raises:
        KeyError: a status without a description in :data:`ERROR_STATUSES`.
    """
    return {status: {"model": ErrorOut, "description": ERROR_STATUSES[status]}
            for status in statuses}


class BatchItemPublic(BaseModel):
    """Either a decision (``decision``, ``decision_id``, ``service``, ``reasons``) or an
    ``error`` for this person."""

    decision: Literal["allow", "deny", "review"] | None = None
    decision_id: str | None = None
    service: str | None = None
    reasons: list[ReasonPublic] | None = None
    benefits: list[BenefitPublic] | None = None
    error: ErrorBody | None = None


class BatchPublic(BaseModel):
    data: list[BatchItemPublic]
    count: int
    outcomes: dict[str, int]


#: A red-list entry's benefits on the public search: ``{"service", "benefit", "text"}``.
RedBenefits = list[dict[str, str]]


class EntryPublic(BaseModel):
    entry_id: int
    list: str
    list_title: str
    name: str | None
    masked_id: str
    ground: int | None
    ground_text: str | None
    legal_basis: str
    since: str
    until: str | None
    furnisher: str | None
    case_number: str | None
    amount_minor: int | None
    currency: str | None
    #: ``person`` or ``organisation``; an organisation's code is shown whole, with its legal
    #: representative and the performance so far (SPC 2017, Art. 6(2))
    subject_kind: Literal["person", "organisation"] = "person"
    organisation_id: str | None = None
    legal_representative: str | None = None
    performance: PerformancePublic | None = None
    #: ``incentive`` for a red list; then ``benefits``: ``{"service", "benefit", "text"}``
    effect: Literal["sanction", "incentive"] = "sanction"
    benefits: RedBenefits = []


class EntriesPublic(BaseModel):
    data: list[EntryPublic]
    count: int


class RejectPublic(BaseModel):
    """One quarantined problem of a row: ``file`` (path, or ``api:<furnisher>``), 1-based
    ``line`` (the record's index for the API; ``null`` for a whole-file problem), ``field``
    (``null`` for a row that could not be read) and ``reason``."""

    file: str
    line: int | None
    field: str | None
    reason: str


class RejectsPublic(BaseModel):
    data: list[RejectPublic]
    count: int


class ReportPublic(BaseModel):
    """Transparency figures (:func:`socialcredit.reports.summarise`): counts of subjects,
    records, rejected rows, furnishers and ledger events; ``entries``: list → status →
    count; ``listed_people``: sanctioned list → people with an active entry;
    ``listed_organisations``: the same for organisations; ``incentives``: red list →
    ``{"granted", "suspended"}`` subjects (never counted as listed); ``decisions``: service →
    outcome → count. Dates are ISO 8601 (``generated_at`` UTC date-time, ``as_of`` date)."""

    generated_at: str
    as_of: str
    policy_version: str
    subjects: int
    records: int
    unlinked_records: int
    rejected_rows: int
    furnishers: int
    ledger_events: int
    entries: dict[str, dict[str, int]]
    listed_people: dict[str, int]
    listed_organisations: dict[str, int] = {}
    incentives: dict[str, dict[str, int]] = {}
    decisions: dict[str, dict[str, int]]
    #: score → grade → people whose newest score has that grade
    scores: dict[str, dict[str, int]]
    #: ``disputes`` and ``reviews`` by status; ``notices``: on_time, late, pending.
    due_process: dict[str, dict[str, int]]
    #: the newest signed tree head over the ledger (tree_size, root_hash, timestamp, key_id,
    #: signature), or null before the first clock tick
    tree_head: dict[str, Any] | None = None


class AuditPublic(BaseModel):
    """The ledger's hash chain recomputed: ``ok``, ``events`` checked, ``head_hash`` (hex
    SHA-256), and for a broken chain the first broken ``broken_seq`` and the ``reason``."""

    ok: bool
    events: int
    head_hash: str
    broken_seq: int | None
    reason: str | None
