"""API schemas, in layers: requests (``…In``) and responses (``…Public``, ``…sPublic``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "BatchIn",
    "BatchPublic",
    "DecisionIn",
    "DecisionPublic",
    "EntriesPublic",
    "IngestPublic",
    "ReasonPublic",
    "RecordsIn",
]


class RecordsIn(BaseModel):
    """Up to 10,000 records in the furnisher file format (flat keys: furnisher_record_id, kind,
    occurred_at, national_id, phone, name, corrects and the kind's catalogue fields)."""

    model_config = ConfigDict(extra="forbid")

    records: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class IngestPublic(BaseModel):
    accepted: int
    rejected: int
    duplicates: int
    unlinked: int
    problems: list[dict[str, Any]]


class DecisionIn(BaseModel):
    """Exactly one of ``national_id``, ``phone`` or ``document`` (alias ``passport``);
    ``name`` only ever leads to ``review``; ``platform`` is for operators (a gate's own
    platform applies to gates)."""

    model_config = ConfigDict(extra="forbid")

    service: str
    national_id: str | None = None
    phone: str | None = None
    document: str | None = Field(None, validation_alias=AliasChoices("document", "passport"))
    name: str | None = None
    platform: str | None = None


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

    service: str
    platform: str | None = None
    people: list[PersonIn] = Field(min_length=1, max_length=10_000)


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


class DecisionPublic(BaseModel):
    decision: Literal["allow", "deny", "review"]
    decision_id: str
    service: str
    reasons: list[ReasonPublic]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class BatchItemPublic(BaseModel):
    """Either a decision (``decision``, ``decision_id``, ``service``, ``reasons``) or an
    ``error`` for this person."""

    decision: Literal["allow", "deny", "review"] | None = None
    decision_id: str | None = None
    service: str | None = None
    reasons: list[ReasonPublic] | None = None
    error: ErrorBody | None = None


class BatchPublic(BaseModel):
    data: list[BatchItemPublic]
    count: int
    outcomes: dict[str, int]


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


class EntriesPublic(BaseModel):
    data: list[EntryPublic]
    count: int
