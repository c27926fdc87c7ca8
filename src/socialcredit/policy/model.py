"""The policy file model (YAML, validated by pydantic v2).

A policy holds the *catalogue* (which record kinds are accepted, their fields, legal basis and
retention), the *lists* (trigger lists, rating lists, external lists), the *sanctions* (list →
services) and the identifier scheme. Loading reports every problem with its YAML path
(``lists.dishonest_judgment_debtors.period_days: Input should be greater than 0``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from socialcredit.errors import ConfigError

__all__ = [
    "FieldSpec",
    "GateSpec",
    "IdentitySpec",
    "KindSpec",
    "ListSpec",
    "Policy",
    "RatingRule",
    "RemovalRule",
    "SanctionSpec",
    "TriggerRule",
    "load_policy",
]

FieldType = Literal["str", "int", "bool", "money", "currency", "enum", "date"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    """One payload field of a record kind. ``money`` is an integer amount in minor units
    (fen, cents) that must be ≥ 0; ``currency`` is an ISO 4217 alphabetic code."""

    type: FieldType
    required: bool = True
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _enum_has_choices(self) -> FieldSpec:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum field needs `choices`")
        return self


class KindSpec(_Strict):
    """A record kind of the catalogue: fields, legal basis and retention (days)."""

    description: str
    legal_basis: str = Field(min_length=3)
    retention_days: int = Field(gt=0)
    fields: dict[str, FieldSpec]
    #: Furnisher kinds that may report this record kind (None: any); a court reports
    #: judgments, a lender loan defaults.
    furnisher_kinds: tuple[str, ...] | None = None
    #: An adverse record is served to the subject as a notice when it arrives (as US FCRA
    #: §1681s-2(a)(7) asks of negative information); a payment or a rating is not.
    adverse: bool = True


class IdentitySpec(_Strict):
    class NationalId(_Strict):
        scheme: str = "cn.ric"
        label: str = "national ID"
        pattern: str | None = None  # for scheme "generic"

    class Phone(_Strict):
        default_region: str = "CN"
        #: A number used by a new subscriber at least this many days after its last use by
        #: the previous holder is taken as recycled (China's carriers hold a cancelled number
        #: 90 days before re-issuing it, MIIT practice); sooner, it is a shared phone.
        recycle_after_days: int = Field(default=90, ge=0)

    class Linkage(_Strict):
        """Probabilistic linkage (issue #3). A record is linked automatically when its best
        candidate reaches ``auto_link_probability``, is corroborated by a checksum-valid
        identifier (the national ID exactly, or the phone within its validity interval and not
        shared; an ID one typo away is evidence, not corroboration) and has no rival above
        ``review_probability``; between ``review_probability`` and that, it goes to the review
        queue. List entries resting on any link not by the record's own ID and not confirmed
        by an operator are ``pending_review`` and sanction nothing."""

        auto_link_probability: float = Field(default=0.999, gt=0, lt=1)
        review_probability: float = Field(default=0.5, gt=0, lt=1)
        max_candidates: int = Field(default=50, ge=1, le=1000)
        model: str | None = None  # path of a trained model JSON; None: the shipped default

        @model_validator(mode="after")
        def _ordered(self) -> IdentitySpec.Linkage:
            if self.review_probability >= self.auto_link_probability:
                raise ValueError("review_probability must be below auto_link_probability")
            return self

    national_id: NationalId = NationalId()
    phone: Phone = Phone()
    linkage: Linkage = Linkage()


class TriggerRule(_Strict):
    """A record of ``kind`` (whose fields match ``when``) lists the subject; one entry per
    distinct value of ``key`` (a payload field or ``furnisher_record_id``)."""

    kind: str
    key: str
    ground_field: str | None = None
    when: dict[str, Any] = {}


class RemovalRule(_Strict):
    """A record of ``kind`` with the same ``key`` value (and matching ``when``), dated on or after
    the listing, removes the entry with ``reason``."""

    kind: str
    key: str
    when: dict[str, Any] = {}
    reason: str = "performed"


class RatingRule(_Strict):
    """Mean of the last ``window`` values of ``field`` per platform below ``below`` (with at least
    ``min_count`` ratings) lists the subject for that platform only."""

    kind: str
    field: str
    window: int = Field(gt=0)
    min_count: int = Field(ge=1)
    below: float


class DisplayTier(_Strict):
    """How long (``days`` from ``since``) an entry with one of ``grounds`` stays on the public
    search; the listing itself (and its sanctions) lasts its full period."""

    tier: str
    grounds: tuple[int, ...] = Field(min_length=1)
    days: int = Field(gt=0)


class ListSpec(_Strict):
    title: str
    legal_basis: str = Field(min_length=3)
    public: bool = False
    external: bool = False
    trigger: TriggerRule | None = None
    rating: RatingRule | None = None
    period_days: int | None = Field(None, gt=0)
    #: Listing period in calendar years (the SPC's "two years"); 29 February ends on 28 February.
    period_years: int | None = Field(None, gt=0)
    removal: tuple[RemovalRule, ...] = ()
    grounds: dict[int, str] = {}
    #: Recourse for this list when it differs from the policy's (e.g. an external authority).
    how_to_contest: str | None = None
    #: The authority that keeps an external list (shown as the furnisher of its entries).
    source: str | None = None
    #: Days the furnisher has to answer a dispute of an entry of this list (else the policy's).
    dispute_answer_days: int | None = Field(None, gt=0)
    #: Removal records count only from the furnisher whose record listed (the enforcing
    #: court); another furnisher's performance record for the same case number is ignored.
    removal_by_lister: bool = True
    #: Days between the trigger and the listing, during which the subject is warned (entry
    #: ``warned``, notice ``warning``) and nothing is sanctioned: the grace period of SPC
    #: Opinions Fa Fa [2019] No. 35, para. 16 (one to three months after a notice to perform).
    warning_days: int = Field(0, ge=0, le=366)
    #: Public display period by severity tier (grounds not in any tier: the whole period).
    public_display: tuple[DisplayTier, ...] = ()

    def display_days(self, ground: int | None) -> int | None:
        """Days an entry with ``ground`` is shown publicly, or None for its whole period."""
        return next((t.days for t in self.public_display if ground in t.grounds), None)

    @model_validator(mode="after")
    def _one_source(self) -> ListSpec:
        sources = [s for s in (self.trigger, self.rating) if s is not None]
        if self.external and sources:
            raise ValueError("an external list has no trigger or rating rule")
        if not self.external and len(sources) != 1:
            raise ValueError("a list needs exactly one of `trigger` or `rating` (or external)")
        if not self.external and (self.period_days is None) == (self.period_years is None):
            raise ValueError("a list needs one of `period_days` or `period_years`: no listing "
                             "is permanent")
        return self


class SanctionSpec(_Strict):
    list: str
    services: tuple[str, ...] = Field(min_length=1)
    legal_basis: str = Field(min_length=3)
    scope: Literal["all", "platform"] = "all"


class GateSpec(_Strict):
    """How long a gate may answer from its last good index when the registry database cannot
    be reached, per service (``default`` for the rest), in seconds. Past it the gate answers
    503 rather than guess (never a silent allow or deny)."""

    staleness_limit_seconds: dict[str, int] = {"default": 300}

    def limit_for(self, service: str) -> int:
        return self.staleness_limit_seconds.get(
            service, self.staleness_limit_seconds.get("default", 300))


class DueProcessSpec(_Strict):
    """The clocks of due process (DESIGN §3.4), each visible to the subject in their file.

    ``dispute_answer_days``: a furnisher answers a dispute within this many days, else the
    record is suppressed (30 days: US FCRA, 15 U.S.C. §1681i(a)(1)(A)); a list may set its own
    (SPC Provisions 2017, Art. 12: 15 days to review an objection to a listing).
    ``notice_within_hours``: a listing, removal, new adverse record, dispute outcome or gate
    refusal is served to the subject within this many hours of the event.
    ``suspend_listing_during_dispute``: while a dispute on a listing (or on the record behind
    it) is open, the entry is ``suspended`` and no gate refuses on it.
    ``sign_in_code_minutes`` / ``sign_in_max_attempts`` / ``session_hours``: the subject's
    one-time sign-in code lives this long and allows this many tries; a session this long.
    """

    dispute_answer_days: int = Field(30, gt=0)
    notice_within_hours: int = Field(24, gt=0)
    suspend_listing_during_dispute: bool = False
    sign_in_code_minutes: int = Field(10, gt=0, le=60)
    sign_in_max_attempts: int = Field(5, gt=0, le=20)
    session_hours: int = Field(12, gt=0, le=24 * 30)


class Policy(_Strict):
    """A validated policy. ``version_hash`` (``sha256:…`` of the file bytes) is written on every
    ledger event that evaluation causes."""

    version: str
    name: str
    description: str = ""
    identity: IdentitySpec = IdentitySpec()
    how_to_contest: str
    catalogue: dict[str, KindSpec]
    services: dict[str, str]
    lists: dict[str, ListSpec]
    sanctions: tuple[SanctionSpec, ...]
    gate: GateSpec = GateSpec()
    due_process: DueProcessSpec = DueProcessSpec()
    version_hash: str = ""

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems: list[str] = []
        for name, spec in self.lists.items():
            rules: list[tuple[str, str, str]] = []
            if spec.trigger:
                rules.append(("trigger", spec.trigger.kind, spec.trigger.key))
            if spec.rating:
                rules.append(("rating", spec.rating.kind, spec.rating.field))
            rules += [(f"removal.{i}", r.kind, r.key) for i, r in enumerate(spec.removal)]
            for i, tier in enumerate(spec.public_display):
                unknown = sorted(set(tier.grounds) - set(spec.grounds))
                if not spec.public:
                    problems.append(f"lists.{name}.public_display: the list is not public")
                elif unknown:
                    problems.append(f"lists.{name}.public_display.{i}.grounds: unknown "
                                    f"ground(s) {unknown}")
            for where, kind, field in rules:
                if kind not in self.catalogue:
                    problems.append(f"lists.{name}.{where}.kind: unknown record kind {kind!r}")
                elif field != "furnisher_record_id" and field not in self.catalogue[kind].fields:
                    problems.append(f"lists.{name}.{where}: kind {kind!r} has no field {field!r}")
        for i, sanction in enumerate(self.sanctions):
            if sanction.list not in self.lists:
                problems.append(f"sanctions.{i}.list: unknown list {sanction.list!r}")
            for service in sanction.services:
                if service not in self.services:
                    problems.append(f"sanctions.{i}.services: unknown service {service!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def sanctions_for(self, list_name: str) -> list[SanctionSpec]:
        return [s for s in self.sanctions if s.list == list_name]

    def services_of(self, list_name: str) -> tuple[str, ...]:
        return tuple(sorted({svc for s in self.sanctions_for(list_name) for svc in s.services}))


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy YAML file.

    Raises:
        ConfigError: the file is missing or not YAML, or fails validation; ``details["problems"]``
            lists ``{"path": "lists.x.period_days", "reason": …}`` for every problem.
    """
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read policy file {path}: {e.strerror}") from e
    try:
        data = yaml.safe_load(raw_bytes)
    except yaml.YAMLError as e:
        raise ConfigError(f"policy file {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"policy file {path} must hold a mapping at the top level")
    data["version_hash"] = "sha256:" + hashlib.sha256(raw_bytes).hexdigest()
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        problems = [
            {"path": ".".join(str(p) for p in err["loc"]) or "(top)", "reason": err["msg"]}
            for err in e.errors()
        ]
        summary = "; ".join(f"{p['path']}: {p['reason']}" for p in problems)
        raise ConfigError(
            f"policy file {path} is invalid: {summary}", details={"problems": problems}
        ) from e
