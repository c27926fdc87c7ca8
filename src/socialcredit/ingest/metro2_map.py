"""Metro 2® base segments as furnisher rows of the policy's catalogue.

:func:`metro2_rows` reads a file (:func:`~socialcredit.ingest.metro2.read_metro2`) and yields
the same :class:`~socialcredit.ingest.readers.RawRow` dictionaries a CSV file gives, which the
one ingest pipeline validates (``line`` is the record's 1-based byte position in the file). A
record with problems, or one the catalogue has no kind for, is yielded with its problems and
quarantined; the records around it land.

**Which kind.** By the account status (CRRG field 17A, :data:`.metro2_layout.STATUSES`):

* past due (71-84), and collection, charge-off, repossession, surrender, foreclosure or a
  government claim (88-97), and a transferred account (05) whose payment rating says it was
  past due → ``loan_default``. ``days_past_due`` is the lower bound of the status's band
  (71: 30 … 84: 180), else of the payment rating's (1: 30 … 6: 180), else the days from the
  date of first delinquency to the date of account information; a derogatory status without
  that date is quarantined (CRRG: the date is required for these statuses; FCRA §623(a)(5),
  15 U.S.C. 1681s-2(a)(5)). ``amount_minor``: the current balance, else the amount past due,
  else the original charge-off amount, in cents (Metro 2 amounts are whole US dollars);
  ``currency`` USD.
* paid (13, 61-65) → ``loan_repayment`` with ``full`` true and ``amount_minor`` the actual
  payment amount.
* current (11, or 05 rated current) → :data:`CURRENT_KIND` when the catalogue has it; else
  the record is quarantined saying the policy does not collect accounts in good standing.
* DA / DF (delete the account) → quarantined: the registry deletes a record only through a
  dispute's answer, never from a file.

**Fields.** Every row has ``furnisher_record_id`` = consumer account number ``/`` date of
account information (a re-sent month is a duplicate, each month a new report of the one
obligation), ``occurred_at`` = the date of account information, ``loan_id`` = the account
number, and the person: ``national_id`` = the SSN (field 35, bytes 298-306; the policy's
identifier scheme checks it, so a policy whose scheme is not ``us.ssn`` quarantines it with
that scheme's reason), ``name``, ``birth_date``, ``phone`` (+1 and the 10 digits: Metro 2
numbers are North American) and ``address``. ``first_delinquency_date`` is field 25 (the
obligation's anchor, :mod:`socialcredit.policy.obligations`). A J1 or J2 segment (an
associated consumer: co-borrower, guarantor) gives a row of its own for that person (record
id suffixed ``/J1-1``…). A consumer with ECOA code Z (delete the consumer from the account)
is quarantined with that reason, the account's other consumers taken.

**Corrections.** A base segment whose correction indicator (base byte 20, the field the
CFPB's Metro 2 evaluator reads there; the current CRRG edition may reserve it, uncertain) is
``1`` corrects the month it reports: its row ``corrects`` the month's record
``ACCT/DATE[/J1-1]`` and has the id ``ACCT/DATE[/J1-1]/corrected-<time stamp>`` (base bytes
6-19, MMDDYYYYHHMMSS), so the registry's ``corrects`` semantics apply (the corrected record is
superseded; a record due process took away stays away), and a later correction of the same
month corrects the latest one. The same month re-sent with new figures and no indicator is
refused, saying to set it.

**Transfers** (K1, K2): ``original_creditor`` is the K1 original creditor's name, else the K2
"purchased from" name (indicator 1): the report is then keyed to the obligation at that
creditor (:class:`~socialcredit.policy.model.ObligationSpec`), linking a debt buyer's or
collector's report to the lender's. As K2 names the creditor but not its account number, the
link holds when the buyer reports the account under the seller's account number; the name
must be the seller's furnisher name in the registry or one of its aliases
(:mod:`socialcredit.ingest.creditors`: a legal name, matched after normalisation).

**Optional fields**, each only when the kind's catalogue entry has it (the registry collects
only catalogued fields): ``account_status``, ``payment_rating``, ``payment_history`` (24
months, newest first), ``special_comment``, ``compliance_condition`` (XB …), ``dispute``
(:data:`.metro2_layout.DISPUTE_STATES`: ``open``, ``consumer_disagrees``, ``resolved``),
``consumer_information_indicator``, ``bankruptcy`` (``petitioned``, ``discharged``,
``dismissed``, ``withdrawn``) and ``bankruptcy_chapter`` (7, 11, 12, 13),
``current_balance_minor``, ``amount_past_due_minor``, ``original_charge_off_minor``,
``credit_limit_minor``, ``highest_credit_minor`` (cents), ``date_opened``, ``date_closed``,
``date_of_last_payment``, ``portfolio_type``, ``account_type``, ``ecoa_code``,
``purchased_from``, ``sold_to``, and ``loan_purpose`` (``mortgage`` for portfolio M, else
``consumer``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from socialcredit.ingest.metro2 import Metro2Header, Metro2Record, read_metro2
from socialcredit.ingest.metro2_layout import (
    BANKRUPTCY,
    DISPUTE_STATES,
    PAYMENT_RATINGS,
    STATUSES,
    Status,
)
from socialcredit.ingest.readers import RawRow, storable
from socialcredit.policy.model import Policy

__all__ = ["CURRENT_KIND", "metro2_rows"]

#: The catalogue kind an account in good standing (status 11) maps to, when a policy has it.
CURRENT_KIND = "account_current"
DEFAULT_KIND, PAID_KIND = "loan_default", "loan_repayment"


def _days(start: object, end: object) -> int | None:
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    return max(0, (dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days)


def _kind(b: dict[str, Any], code: str, status: Status,
          ) -> tuple[str, int | None] | tuple[str, str, None]:
    """(kind, days past due), or ``(field, reason, None)`` where the record maps to no kind."""
    rating = b.get("payment_rating") or ""
    outcome = status.outcome
    if outcome == "transferred":
        outcome = "current" if rating in ("", "0") else "derogatory"
    if outcome == "delete":
        return ("account_status",
                f"status {code} ({status.description}): the registry deletes a record only "
                "through a dispute's answer, never from a file; the records of this account "
                "stay as they are", None)
    if outcome == "paid":
        return PAID_KIND, None
    if outcome == "current":
        return CURRENT_KIND, 0
    # a past-due or derogatory status states when the delinquency began: it anchors the
    # listing and the reporting period (FCRA §623(a)(5), §605(c); the CRRG asks field 25 of
    # statuses 71-97), so without it nothing could anchor them but the reporting date
    if not b.get("date_of_first_delinquency"):
        return ("date_of_first_delinquency",
                f"status {code} ({status.description}) needs the date of first delinquency "
                "(field 25, bytes 190-197; FCRA §623(a)(5)); it is blank or zero", None)
    if outcome == "delinquent":
        return DEFAULT_KIND, status.days_past_due
    days = PAYMENT_RATINGS.get(rating) if rating not in ("", "0") else None
    if days is None:
        days = _days(b.get("date_of_first_delinquency"), b.get("date_of_account_information"))
    if days is None:
        return ("date_of_account_information",
                f"status {code} ({status.description}) needs the date of account information "
                "(bytes 182-189) to count the days past due; it is blank", None)
    return DEFAULT_KIND, days


def _person(p: dict[str, Any], address: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ssn = str(p.get("social_security_number") or "")
    if ssn.strip("0 "):
        out["national_id"] = ssn
    name = " ".join(str(p[k]) for k in ("first_name", "middle_name", "surname")
                    if p.get(k))
    if name:
        out["name"] = name
    if p.get("date_of_birth"):
        out["birth_date"] = p["date_of_birth"]
    if p.get("telephone_number"):
        out["phone"] = f"+1{int(p['telephone_number']):010d}"
    if address is not None:
        parts = [str(address.get(k) or "") for k in ("address_line_1", "address_line_2",
                                                      "city", "state", "postal_code")]
        text = ", ".join(x for x in parts if x)
        if text:
            out["address"] = text
    return out


def _optional(rec: Metro2Record, days: int | None) -> dict[str, Any]:
    """Every optional field (see the module docstring) the record gives."""
    b = rec.base
    out: dict[str, Any] = {
        "account_status": b["account_status"], "payment_rating": b.get("payment_rating"),
        "payment_history": b.get("payment_history_profile"),
        "special_comment": b.get("special_comment"),
        "compliance_condition": b.get("compliance_condition_code"),
        "dispute": DISPUTE_STATES.get(str(b.get("compliance_condition_code"))),
        "portfolio_type": b.get("portfolio_type"), "account_type": b.get("account_type"),
        "date_opened": b.get("date_opened"), "date_closed": b.get("date_closed"),
        "date_of_last_payment": b.get("date_of_last_payment"),
        "loan_purpose": "mortgage" if b.get("portfolio_type") == "M" else "consumer",
        **{f"{k}_minor": int(b.get(m) or 0) * 100 for k, m in (
            ("current_balance", "current_balance"), ("amount_past_due", "amount_past_due"),
            ("original_charge_off", "original_charge_off_amount"),
            ("credit_limit", "credit_limit"), ("highest_credit", "highest_credit"))},
    }
    k2 = rec.segment("K2")
    if k2 is not None and k2.get("purchased_sold_name"):
        indicator = k2.get("purchased_sold_indicator")
        out["purchased_from" if indicator == "1" else "sold_to" if indicator == "2"
            else "_"] = k2["purchased_sold_name"]
    out.pop("_", None)
    k1 = rec.segment("K1")
    creditor = (k1 or {}).get("original_creditor_name") or out.get("purchased_from")
    if creditor:
        out["original_creditor"] = creditor
    if rec.base.get("date_of_first_delinquency"):
        out["first_delinquency_date"] = rec.base["date_of_first_delinquency"]
    if days is not None:
        out["days_past_due"] = days
    return {k: v for k, v in out.items() if v not in (None, "")}


def _consumer(fields: dict[str, Any]) -> dict[str, Any]:
    """A consumer's own fields (ECOA code, bankruptcy) for a row."""
    out: dict[str, Any] = {"ecoa_code": fields["ecoa_code"]} if fields.get("ecoa_code") else {}
    cii = fields.get("consumer_information_indicator")
    if cii:
        out["consumer_information_indicator"] = cii
        if cii in BANKRUPTCY:
            out["bankruptcy"], out["bankruptcy_chapter"] = BANKRUPTCY[cii]
    return out


def _rows(rec: Metro2Record, policy: Policy) -> Iterator[RawRow]:
    b = rec.base
    raw = storable(rec.text)
    code = str(b["account_status"])
    kind = _kind(b, code, STATUSES[code])
    if len(kind) == 3:
        yield RawRow(rec.offset, raw=raw, problems=((kind[0], kind[1]),))
        return
    name, days = kind[0], kind[1]
    spec = policy.catalogue.get(name)
    if spec is None:
        what = ("an account in good standing" if name == CURRENT_KIND else f"{name!r}")
        yield RawRow(rec.offset, raw=raw, problems=(("account_status", (
            f"status {code} ({STATUSES[code].description}) maps to {what}, a kind this "
            f"policy's catalogue does not have (`{name}`), so the registry does not collect "
            "it")),))
        return
    account = str(b["consumer_account_number"])
    opt = _optional(rec, days)
    if name == PAID_KIND:
        amount = int(b.get("actual_payment_amount") or 0) * 100
        opt.pop("days_past_due", None)
        fixed: dict[str, Any] = {"amount_minor": amount, "currency": "USD", "full": True}
    else:
        amount = next((int(b.get(m) or 0) for m in ("current_balance", "amount_past_due",
                                                       "original_charge_off_amount")
                       if b.get(m)), 0) * 100
        fixed = {"amount_minor": amount, "currency": "USD"}
    common = {"kind": name, "occurred_at": b["date_of_account_information"],
              "loan_id": account, **fixed}
    people: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [("", b, b)]
    counts: dict[str, int] = {}
    for ident, seg in rec.segments:
        if ident in ("J1", "J2"):
            counts[ident] = counts.get(ident, 0) + 1
            people.append((f"/{ident}-{counts[ident]}", seg, seg if ident == "J2" else b))
    for suffix, person, address in people:
        if person.get("ecoa_code") == "Z":
            yield RawRow(rec.offset, raw=raw, problems=((f"ecoa_code{suffix}", (
                "ECOA code Z asks to delete this consumer from the account: the registry "
                "deletes a record only through a dispute's answer, never from a file")),))
            continue
        own = {**opt, **_consumer(person)}
        data = {**{k: v for k, v in own.items() if k in spec.fields},
                **{k: v for k, v in common.items()
                   if k in ("kind", "occurred_at") or k in spec.fields},
                **_person(person, address),
                "furnisher_record_id": f"{account}/{b['date_of_account_information']}{suffix}"}
        if b.get("correction_indicator") == "1":
            data["corrects"] = data["furnisher_record_id"]
            data["furnisher_record_id"] += f"/corrected-{rec.text[5:19]}"
        yield RawRow(rec.offset, data, raw=raw)


def metro2_rows(path: Path, policy: Policy) -> Iterator[RawRow]:
    """The rows of a Metro 2 file for ``policy`` (see the module docstring).

    Raises:
        InputError: the file cannot be read or is not Metro 2 in the character format, before
            any row is yielded (:func:`~socialcredit.ingest.metro2.read_metro2`).
    """
    for rec in read_metro2(path):
        if isinstance(rec, Metro2Header):
            continue
        if rec.problems:
            yield RawRow(rec.offset, raw=storable(rec.text) or None,
                         problems=tuple(rec.problems))
            continue
        yield from _rows(rec, policy)
