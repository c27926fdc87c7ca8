"""Plain words for the people the registry is about, in the page's language.

:func:`explain` adds to a subject file (shape: :func:`socialcredit.disclosure.subject_file`)
what a person can read without knowing the registry's internal names: for each entry
``plain_status``, ``plain_ends`` (what ends it, as sentences) and ``plain_end_reason``; for
each record ``plain_kind``, ``plain_status``, ``plain_fields`` (label → value) and
``plain_why`` (why it is in this file); for each decision ``plain_service`` and
``plain_outcome``; for each notice ``plain_title`` (its text stays as it was sent). The words
come from the gettext catalogue (:mod:`socialcredit.web.i18n`); a kind, reason or field the
catalogue does not name yet is shown by its name with the
underscores taken out, never dropped.

The sentences are written for the shipped China policy (``policy/default.yaml``); its removal
reasons (``performed``, ``settled``, ``creditor_consent``, ``court_ruling``) each have one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from socialcredit.policy.model import Policy
from socialcredit.web.i18n import gettext as _
from socialcredit.web.i18n import gettext as tr  # for words of the policy (not extracted)
from socialcredit.web.i18n import local_date

__all__ = ["explain", "kind_name", "said", "status_name"]


def N_(message: str) -> str:
    """Mark a message for extraction; translated where it is shown."""
    return message


KINDS = {
    "court_judgment": N_("court judgment ordering a payment"),
    "dishonesty_finding": N_("court decision listing you as a dishonest judgment debtor"),
    "listing_extended": N_("court decision extending a listing"),
    "listing_revoked": N_("court decision ending a listing"),
    "restriction_lifted": N_("court permission to use a restricted service"),
    "judgment_performance": N_("payment of what a judgment ordered"),
    "settlement_performed": N_("settlement agreement carried out"),
    "creditor_consent": N_("creditor's written request to take you off the list"),
    "loan_default": N_("loan payment overdue"),
    "student_status": N_("school enrolment"),
    "loan_repayment": N_("loan repayment"),
    "fare_evasion": N_("unpaid fare on public transport"),
    "unruly_passenger": N_("unsafe or disruptive conduct on board"),
    "ride_rating": N_("driver's rating of you after a ride"),
    "phone_registration": N_("your phone number as registered in your name by its carrier"),
}
STATUSES = {
    "active": N_("in force"),
    "pending_review": N_("waiting for a person to check it is about you"),
    "grace": N_("warning period: not in force yet"),
    "expired": N_("ended: its period is over"),
    "removed": N_("removed"),
    "suspended": N_("suspended while a dispute is open"),
    "suppressed": N_("set aside (not used against you)"),
    "deleted": N_("deleted"),
    "retired": N_("past its keeping period"),
    "open": N_("waiting for an answer"),
    "verified": N_("the furnisher says it is correct"),
    "corrected": N_("corrected by the furnisher"),
    "appealed": N_("appealed to the registry operator"),
    "upheld": N_("the operator kept the record"),
    "overturned": N_("the operator set the record aside"),
    "lapsed": N_("not answered in time: the record is set aside"),
    "granted": N_("granted"),
    "refused": N_("refused"),
    "deny": N_("refused"),
    "review": N_("sent to a person"),
    "allow": N_("allowed"),
}
#: What ends an entry, by the removal rule's reason.
REMOVALS = {
    "performed": N_("You pay in full what the court ordered in this case."),
    "settled": N_("You and the creditor carry out a settlement agreement for this case."),
    "creditor_consent": N_("The creditor asks in writing that you be taken off the list."),
    "court_ruling": N_("A court decides the listing was wrong or must end."),
}
END_REASONS = {**REMOVALS, "expired": N_("Its period ended."),
               "list_withdrawn": N_("The list no longer exists.")}
#: The title of a notice, by its kind (the text as sent stays as it was sent).
NOTICES = {
    "warning": N_("Warning: you will be listed unless you act"),
    "listing": N_("You have been listed"),
    "removal": N_("Your listing was removed"),
    "expiry": N_("Your listing ended"),
    "adverse_record": N_("A new record about you"),
    "refusal": N_("A service was refused to you"),
    "dispute_opened": N_("Your dispute was received"),
    "dispute_answered": N_("Your dispute was answered"),
    "dispute_outcome": N_("The outcome of your dispute"),
    "review_outcome": N_("The outcome of the human review you asked for"),
    "repair_outcome": N_("The outcome of your application for early removal"),
}
#: What a form on /me did, shown once on the next page (api/due_process/pages.py).
SAID = {
    "code_sent": N_("If this ID number and phone match a person in the registry, a one-time "
                    "code was sent to that phone."),
    "dispute_opened": N_("Dispute %(id)s opened; it must be answered by %(day)s."),
    "appealed": N_("Dispute %(id)s appealed to the registry operator."),
    "review_requested": N_("Review %(id)s requested; an operator will decide it."),
    "repair_requested": N_("Application %(id)s for early removal sent; an operator will "
                           "decide it."),
}


def said(what: str, **values: object) -> str:
    """One of :data:`SAID` in the page's language, ``day`` written the local way."""
    if "day" in values:
        values["day"] = local_date(str(values["day"]))
    return tr(SAID[what]) % values


FIELDS = {
    "case_number": N_("case number"), "ground": N_("ground"), "amount_minor": N_("amount"),
    "full": N_("in full"), "years": N_("years"), "service": N_("service"),
    "until": N_("until"), "loan_id": N_("loan number"), "days_past_due": N_("days overdue"),
    "rating": N_("rating"), "debtor_role": N_("your role"), "loan_purpose": N_("loan for"),
    "full_time": N_("full-time"), "trip_id": N_("trip"), "platform": N_("platform"),
    "registration_id": N_("carrier's registration number"),
}


def _words(name: str | None, table: Mapping[str, str]) -> str:
    if not name:
        return ""
    return _(table[name]) if name in table else name.replace("_", " ")


def kind_name(kind: str) -> str:
    """A record kind in plain words (``judgment_performance`` → "payment of what a judgment
    ordered")."""
    return _words(kind, KINDS)


def status_name(status: str) -> str:
    """A status in plain words (``active`` → "in force")."""
    return _words(status, STATUSES)


def _ends(policy: Policy, entry: Mapping[str, Any]) -> list[str]:
    spec = policy.lists.get(entry["list"])
    out = []
    if entry.get("until"):
        out.append(_("It ends by itself on %(day)s at the latest.")
                   % {"day": local_date(entry["until"])})
    if spec is not None:
        for rule in spec.removal:
            out.append(_(REMOVALS[rule.reason]) if rule.reason in REMOVALS else
                       _("A record of %(what)s for this case.") % {"what": kind_name(rule.kind)})
        if spec.rating:
            out.append(_("Your average rating over your last %(n)s rides rises to %(x)s or "
                          "more.") % {"n": spec.rating.window, "x": spec.rating.below})
        if spec.criteria:
            out.append(_("No new record of %(what)s that counts towards this list, until "
                          "its period ends.") % {"what": kind_name(spec.criteria.kind)})
        if spec.score:
            out.append(_("Your %(score)s score recovers.") % {"score": spec.score.name})
    out.append(_("You win a dispute about the record behind it."))
    return out


def _fields(fields: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in fields.items():
        if k == "currency":
            continue
        if k == "amount_minor" and isinstance(v, int):
            from socialcredit.web import money

            out[_words(k, FIELDS)] = money(v, fields.get("currency"))
        elif isinstance(v, bool) or v in ("true", "false"):
            out[_words(k, FIELDS)] = _("yes") if v in (True, "true") else _("no")
        else:
            out[_words(k, FIELDS)] = str(v)
    return out


def _why(record: Mapping[str, Any]) -> str:
    link = record.get("link")
    if link is None:
        return _("It carries your national ID number.")
    if link["status"] == "pending":
        return _("It may be about you: a person at the registry is checking. Until then it "
                 "is not used against you and its details are hidden.")
    if link["rule"] == "phone":
        return _("It carries a phone number registered to you on that day.")
    if link["rule"] == "manual":
        return _("A person at the registry confirmed it is about you.")
    return _("Its name, birth date and other details match yours closely. If it is not "
             "about you, dispute it.")


def explain(file: dict[str, Any], policy: Policy) -> dict[str, Any]:
    """Add the plain-word keys (module docstring) to ``file`` in place; returns it."""
    for e in file["entries"]:
        e["plain_status"] = status_name(e["status"])
        e["plain_end_reason"] = _words(e.get("end_reason"), END_REASONS)
        e["plain_ends"] = _ends(policy, e) if e["status"] != "pending_review" else []
        e["plain_title"] = tr(e["title"])
        e["plain_ground"] = tr(e["ground_text"]) if e.get("ground_text") else None
    for r in file["records"]:
        r["plain_kind"] = kind_name(r["kind"])
        r["plain_status"] = status_name(r["status"])
        r["plain_fields"] = _fields(r["fields"])
        r["plain_why"] = _why(r)
    for d in file["decisions"]:
        d["plain_service"] = tr(policy.services.get(d["service"], d["service"]))
        d["plain_outcome"] = status_name(d["outcome"])
    for d in file["disputes"]:
        d["plain_status"] = status_name(d["status"])
    for n in file["notices"]:
        n["plain_title"] = tr(NOTICES[n["kind"]]) if n["kind"] in NOTICES else n.get("title")
    return file
