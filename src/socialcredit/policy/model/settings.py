"""Settings of a policy that are not rules: identity (identifier scheme, phone recycling,
probabilistic linkage), the gate's staleness limits and the clocks of due process.

The jurisdiction (time zone, period counting) is :mod:`socialcredit.policy.jurisdiction`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from socialcredit.policy.model.base import _Strict

__all__ = ["DueProcessSpec", "GateSpec", "IdentitySpec"]


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
        #: channel (e.g. ``carrier`` for a carrier's real-name registration, MIIT 2013 rules).
        #: A row from such a furnisher moves where codes and notices go; no other furnisher
        #: data ever does (identity/channel.py). Default: none.
        authoritative_furnisher_kinds: list[str] = Field(default_factory=list)
        #: A person with no trusted channel gets one from furnisher data only when this many
        #: distinct furnishers reported the same phone with their verified national ID (or
        #: one authoritative furnisher did). Two, not one: the first furnisher to report a
        #: person must not choose where their sign-in codes and notices go (issue #20), so a
        #: single dishonest or hacked furnisher key cannot plant a phone; raising it trades
        #: fewer people reachable without a visit to an operator for more collusion needed.
        channel_corroborating_furnishers: int = Field(default=2, ge=2)

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

    national_id: NationalId = NationalId()
    organisation_id: OrganisationId = OrganisationId()
    phone: Phone = Phone()
    linkage: Linkage = Linkage()


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
