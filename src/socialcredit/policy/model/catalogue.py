"""The catalogue of a policy: the record kinds accepted, their fields, legal basis and retention.

A kind may name its **obligation** (:class:`ObligationSpec`): the payload fields that say which
debt or case a report is about, so that many reports of one obligation (the lender's, the same
lender's re-send under a new record id, a collector's after a sale) count once
(:mod:`socialcredit.policy.obligations`).

It also holds what no catalogue may collect: the names and enum values of special-category
data (GDPR Art. 9; PIPL Art. 28), which the cross-reference checks (:mod:`.validation`) refuse.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from socialcredit.policy.model.base import _Strict

__all__ = ["FURNISHER_KINDS", "SPECIAL_CATEGORIES", "FieldSpec", "KindSpec", "ObligationSpec",
           "special_category", "special_choices"]

#: The kinds of furnisher the registry registers (``socialcredit furnishers add --kind``), which
#: a catalogue's ``furnisher_kinds`` and ``identity.phone.authoritative_furnisher_kinds`` name.
#: ``carrier``: a telecom carrier reporting its real-name registration of a number to a national
#: ID (MIIT Order No. 25, 2013), the source a policy may name authoritative for phones.
#: ``regulator``: a market regulator or tax authority reporting organisations' registration,
#: status and representatives (issue #13).
FURNISHER_KINDS = ("court", "lender", "payment", "transport", "platform", "school", "carrier",
                   "regulator")

FieldType = Literal["str", "int", "bool", "money", "currency", "enum", "date", "national_id"]
SubjectKind = Literal["person", "organisation"]


class FieldSpec(_Strict):
    """One payload field of a record kind. ``money`` is an integer amount in minor units
    (fen, cents) that must be ≥ 0; ``currency`` is an ISO 4217 alphabetic code;
    ``national_id`` a person's identifier checked by the policy's national ID scheme (e.g. an
    organisation's legal representative, named in a regulator's record)."""

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


class ObligationSpec(_Strict):
    """Which obligation (one debt or case, however many furnishers report it) a report is of.

    The obligation key of a report is ``(creditor, *key values)``:

    * ``key``: payload fields naming it at its creditor — a loan's account reference
      (``loan_id``), a judgment's ``case_number``; a report lacking one is its own obligation;
    * ``creditor_field``: the payload field naming the original creditor; a report without it
      is the original creditor's own, so the reporting furnisher's name stands in. None: the
      key alone names the obligation (a court's case number holds the court);
    * ``transferred_key``: on a transferred report (sold, or placed for collection: Metro 2's
      K2 segment, "purchased from / sold to", CDIA Credit Reporting Resource Guide), the
      payload fields giving the account reference at the original creditor, one per ``key``
      field; used when the report names the creditor and every one of them;
    * ``first_delinquency_field``: the date of first delinquency (US FCRA §623(a)(5),
      15 U.S.C. 1681s-2(a)(5): the furnisher reports it; §605(c), 1681c(c): the seven-year
      period runs from 180 days after it). It anchors the obligation's date for listing
      periods, score decay and retention, and a later report cannot move it later;
    * ``days_past_due_field``: the days past due a report states; where its date of first
      delinquency was not taken, no fewer than the days from the kept date to the report's
      own, so that a re-aging report resets no clock through its days either.

    Key values are compared in lower case without spaces.
    """

    key: tuple[str, ...] = Field(min_length=1)
    creditor_field: str | None = None
    transferred_key: tuple[str, ...] | None = None
    first_delinquency_field: str | None = None
    days_past_due_field: str | None = None


class KindSpec(_Strict):
    """A record kind of the catalogue: fields, legal basis and retention (days)."""

    description: str
    legal_basis: str = Field(min_length=3)
    retention_days: int = Field(gt=0)
    fields: dict[str, FieldSpec]
    #: Furnisher kinds that may report this record kind (None: any); a court reports
    #: judgments, a lender loan defaults. Each one of :data:`FURNISHER_KINDS`.
    furnisher_kinds: tuple[str, ...] | None = None
    #: An adverse record is served to the subject as a notice when it arrives (as US FCRA
    #: §1681s-2(a)(7) asks of negative information); a payment or a rating is not.
    adverse: bool = True
    #: The obligation a report of this kind is of (None: every report is one of its own).
    obligation: ObligationSpec | None = None
    #: Who a record of this kind may concern: a person (keyed by ``national_id`` or
    #: ``phone``) or an organisation (keyed by ``organisation_id``). Default: persons only.
    subjects: tuple[SubjectKind, ...] = Field(("person",), min_length=1)


#: Names that reveal special-category data (GDPR Art. 9; PIPL Art. 28 "sensitive personal
#: information"; DESIGN §10): no record kind, field or condition may carry them. Matched as
#: prefixes of the words of a name (``religion``, ``ethnic_group``, ``health_status``,
#: ``political_opinion``), so ``trace_id`` or ``reunion_date`` pass.
SPECIAL_CATEGORIES = ("religio", "faith", "belief", "church", "mosque", "temple", "worship",
                      "ethnic", "race", "racial", "minzu", "tribe", "politic", "opinion",
                      "health", "medical", "diagnos", "disabilit", "pregnan", "hiv", "aids",
                      "illness", "disease", "sexual", "orientation", "genetic", "biometric",
                      "petition")
#: Word pairs that name a category where each word alone does not (``party_member``,
#: ``trade_union``; ``third_party_name`` and ``unionpay_card`` pass).
_SPECIAL_PAIRS = (("sex", "life"), ("party", "member"), ("party", "membership"),
                  ("trade", "union"), ("union", "member"), ("union", "membership"))
#: Enum choices that are special-category values (religions, ethnic groups of the PRC's 56
#: and of common census lists): a field of such choices reveals them whatever its name.
_SPECIAL_VALUES = frozenset((
    "muslim", "islam", "christian", "catholic", "protestant", "buddhist", "taoist", "jewish",
    "hindu", "atheist", "uyghur", "uighur", "tibetan", "hui", "zhuang", "manchu", "mongol",
    "mongolian", "kazakh", "miao", "yi", "tujia", "dong", "yao", "bai", "korean", "hani",
    "li", "dai", "she", "han_ethnic", "white", "black", "asian", "hispanic", "latino",
    "lgbt", "gay", "lesbian", "heterosexual", "homosexual", "bisexual", "hiv_positive"))


def special_category(name: str) -> str | None:
    """The special category a record kind or field name reveals (the stem or word pair it
    matched, e.g. ``religio`` or ``party_member``), or None."""
    words = [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]
    for a, b in _SPECIAL_PAIRS:
        if a in words and b in words:
            return f"{a}_{b}"
    return next((stem for stem in SPECIAL_CATEGORIES for w in words
                 if w.startswith(stem) and not (stem in ("race", "hiv", "aids", "temple")
                                                and w != stem)), None)


def special_choices(choices: tuple[str, ...] | None) -> list[str]:
    """Choices of an enum that are special-category values (at least two: one word such as
    ``li`` or ``dong`` may be a code; a set of them is a census of faiths or peoples)."""
    found = [c for c in choices or () if c.lower() in _SPECIAL_VALUES]
    return found if len(found) >= 2 else []
