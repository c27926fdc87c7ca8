"""Settings of a policy that are not rules: identity (identifier scheme, phone recycling,
probabilistic linkage), the gate's staleness limits and the clocks of due process.

The jurisdiction (time zone, period counting) is :mod:`socialcredit.policy.jurisdiction`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from socialcredit.policy.model.base import _Strict

__all__ = ["AdverseAction", "DueProcessSpec", "GateSpec", "IdentitySpec"]


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
        #: Furnisher kinds whose phones are authoritative for a person's trusted contact
        #: channel: ``carrier`` for a carrier's real-name registration of the number to the
        #: person's national ID (MIIT Provisions on the Registration of Real Identity
        #: Information of Telephone Users, 2013, MIIT Order No. 25; Anti-Telecom and Online
        #: Fraud Law of the PRC, 2022, Art. 9). A row from such a furnisher gives a person
        #: their first channel or moves it, and the old phone is told; no other furnisher data
        #: ever does (identity/channel.py). Each must be a furnisher kind the registry knows
        #: (``socialcredit.policy.model.FURNISHER_KINDS``). Default: none.
        authoritative_furnisher_kinds: list[str] = Field(default_factory=list)
        #: Corroboration by ordinary furnishers, off by default (0: never). When set to N
        #: (at least 2), a person with no trusted channel gets one when N distinct registered
        #: furnishers — each furnisher counted once however many rows, files or record kinds
        #: it sends, of any furnisher kind — reported the same phone, held by the person now,
        #: with their verified national ID. Off, because furnisher data must not decide where a
        #: person's codes and notices go (issue #20): any N furnisher keys held by one party
        #: (a lender group with two registrations, one attacker with two stolen keys, two
        #: colluding courts) plant a phone for anyone who has none, and take their sign-in.
        #: Enabling it trades that risk for fewer people who must visit an operator (``POST
        #: /v1/operator/subjects/{id}/channel``) where no authoritative source reports their
        #: phone. 1 is refused: a single furnisher key would then choose.
        channel_corroborating_furnishers: int = Field(default=0, ge=0)

        @field_validator("channel_corroborating_furnishers")
        @classmethod
        def _corroboration_needs_two(cls, n: int) -> int:
            if n == 1:
                raise ValueError(
                    "must be 0 (never: the default) or at least 2; with 1, a single furnisher "
                    "key would choose where a person's sign-in codes and notices go")
            return n

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

    class OrganisationId(_Strict):
        """The identifier scheme of organisations (legal persons): ``cn.uscc`` (the unified
        social credit code), another python-stdnum module path for another country's company
        numbers (``gb.utr``, ``fr.siren`` ...), or ``generic`` with a regex ``pattern``
        (socialcredit/identity/organisation.py)."""

        scheme: str = "cn.uscc"
        label: str = "unified social credit code"
        pattern: str | None = None  # for scheme "generic"

    class Demographics(_Strict):
        """Where the what-if's disparate-impact groups come from (reports/impact.py):
        ``national_id`` — read from the ID (``cn.ric`` only: GB 11643-1999 embeds the address
        code, the birth date and a sex digit); ``furnished`` — the ``birth_date`` / ``sex``
        furnishers state on their rows; ``address_state`` — the US state (USPS two-letter
        code) ending the address furnishers state (``…, Springfield, IL 62701``); ``none`` —
        the data does not allow the group (a US SSN embeds nothing about the person)."""

        region: Literal["national_id", "address_state", "none"] = "national_id"
        age: Literal["national_id", "furnished", "none"] = "national_id"
        sex: Literal["national_id", "furnished", "none"] = "national_id"
        #: Why a group is ``none`` (shown beside the table).
        note: str = ""

    national_id: NationalId = NationalId()
    organisation_id: OrganisationId = OrganisationId()
    demographics: Demographics = Demographics()
    phone: Phone = Phone()
    linkage: Linkage = Linkage()

    @model_validator(mode="after")
    def _demographics_from_the_id(self) -> IdentitySpec:
        d = self.demographics
        if self.national_id.scheme != "cn.ric" and "national_id" in (d.region, d.age, d.sex):
            if "demographics" not in self.model_fields_set:
                # a policy written before demographics could be named (a generic or
                # another country's scheme): no group it cannot read, rather than a refusal
                object.__setattr__(self, "demographics", self.Demographics(  # frozen model
                    region="none", age="none", sex="none",
                    note=f"The {self.national_id.scheme} identifier embeds no region, birth "
                         "date or sex, and the policy names no other source."))
                return self
            raise ValueError(
                f"demographics: only a cn.ric ID embeds region, birth date and sex; scheme "
                f"{self.national_id.scheme!r} needs 'furnished', 'address_state' or 'none'")
        return self


class GateSpec(_Strict):
    """How long a gate may answer from its last good index when the registry database cannot
    be reached, per service (``default`` for the rest), in seconds. Past it the gate answers
    503 rather than guess (never a silent allow or deny).

    ``snapshot_valid_hours``: how long an offline snapshot (``gates export``) may be
    answered from after it was made, per service (``default`` for the rest). Past it
    ``check-snapshot`` refuses to answer (exit 5): a snapshot cannot learn of a removal, so an
    old one would refuse a person the registry no longer lists (issue #19). No rule sets the
    figure; the default policy's 24 hours for air and rail and 72 for the rest are this
    project's choice."""

    staleness_limit_seconds: dict[str, int] = {"default": 300}
    snapshot_valid_hours: dict[str, int] = {"default": 72}

    @field_validator("snapshot_valid_hours")
    @classmethod
    def _positive_hours(cls, v: dict[str, int]) -> dict[str, int]:
        bad = sorted(k for k, h in v.items() if h <= 0)
        if bad:
            raise ValueError(f"snapshot validity must be at least one hour ({', '.join(bad)})")
        return v

    def limit_for(self, service: str) -> int:
        return self.staleness_limit_seconds.get(
            service, self.staleness_limit_seconds.get("default", 300))

    def snapshot_hours(self, service: str) -> int:
        """Hours a snapshot may be answered from for ``service``."""
        return self.snapshot_valid_hours.get(service, self.snapshot_valid_hours.get("default",
                                                                                     72))


class AdverseAction(_Strict):
    """The score disclosed with an adverse action (disclosure/adverse_action.py): on a refusal
    of one of ``services``, the subject's latest ``score`` with its range, up to four key
    factors, its date and ``source`` (FCRA §615(a)(2), §609(f)(1)(A)-(E))."""

    services: tuple[str, ...] = Field(min_length=1)
    score: str
    source: str = Field(min_length=3)


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
    #: Days added once to an open dispute's deadline when the subject sends further relevant
    #: information within it (US FCRA §611(a)(1)(B), 15 U.S.C. 1681i(a)(1)(B): up to 15
    #: more days). 0: no extension (the default policy).
    dispute_extension_days: int = Field(0, ge=0, le=30)
    #: Services whose refusal is an adverse action that must carry the score disclosure
    #: (FCRA §615(a), 15 U.S.C. 1681m(a); §609(f)(1), 1681g(f)(1)): ``score`` names the
    #: policy's score; ``source`` who made it. None: refusals carry no score.
    adverse_action: AdverseAction | None = None
    notice_within_hours: int = Field(24, gt=0)
    suspend_listing_during_dispute: bool = False
    sign_in_code_minutes: int = Field(10, gt=0, le=60)
    sign_in_max_attempts: int = Field(5, gt=0, le=20)
    session_hours: int = Field(12, gt=0, le=24 * 30)
