"""The subject's own file: everything the registry holds and did about one person.

:func:`subject_file` returns a dict with these keys (``GET /v1/me/file`` and the ``/me`` page):

- ``subject``: ``id, name, national_id`` (masked), ``phones`` (masked, with validity).
- ``records``: each record with ``id, kind, occurred_at, furnisher, status`` (active /
  suppressed / deleted / retired), ``fields`` (the kind's fields; withheld while the record's
  link is under review), ``superseded_by``, ``linked_because`` (why the registry believes it
  is about this person, in words) and ``link`` (None for a record carrying the subject's
  national ID; else rule, status, match weight, probability and each comparison's
  contribution) and ``sent`` (for such records: the name and birth date as the furnisher sent
  them, the phone masked, and the positions where the ID as sent differs from the subject's).
- ``entries``: each list entry with ``id, list, title, status, ground, ground_text,
  legal_basis, since, until, ended_on, end_reason, sanctions`` (service → legal basis),
  ``ends_when`` (what ends it: expiry date and the removal conditions), ``how_to_contest``
  ``grace`` (the grace period before the listing, or None) and ``tier`` (its severity tier
  and the first day repair may be granted, or None: :mod:`.entry_terms`);
  an entry ``pending_review`` (resting on an unconfirmed link) shows only its list, status
  and a ``note``: it may be a namesake's. Each entry has its list's ``effect``; a red-list
  entry (``incentive``) has ``benefits`` (service → ``[{"benefit", "text", "legal_basis"}]``)
  and ``suspended_by``: the ids of the subject's live sanctioned entries, which suspend its
  benefits today (socialcredit/policy/incentives.py; empty when it applies).
- ``score``: ``None`` while the policy defines no score model (the policy engine issue adds
  scores and their top factors).
- ``decisions``: refusals and reviews logged about the subject — ``id, at, gate, service,
  outcome, purpose`` (the permissible purpose: deciding a sale of that service), ``reasons``.
  An ``allow`` is counted, not logged per person.
- ``notices``: ``id, kind, title, text, created_at, due_at, served_at, channel``
  (sign-in codes are never shown).
- ``disputes``, ``reviews`` and ``repairs`` (applications for early removal): the
  subject's, with their clocks (``due_on``; a repair's ``decide_by``) and outcomes.

Reading the file is itself logged: a ``file.read`` ledger event (principle 7, reads are
logged).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from socialcredit.disclosure.disputes import dispute_dict
from socialcredit.disclosure.enterprise import represented_organisation
from socialcredit.disclosure.entry_terms import grace_view, repair_terms
from socialcredit.disclosure.public import mask_identifier
from socialcredit.disclosure.repairs import decide_by
from socialcredit.errors import NotFound
from socialcredit.policy.incentives import suspenders
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import (
    decisions,
    disputes,
    furnishers,
    identifiers,
    links,
    list_entries,
    notices,
    records,
    repairs,
    reviews,
    scores,
    subjects,
)

__all__ = ["subject_file"]


def _linked_because(rec: Any, subject: Any, phones: Sequence[Any], link: Any) -> str:
    if link is not None and link.rule in ("probabilistic", "manual"):
        why = json.loads(link.explanation or "{}")
        parts = [f"{name} {v['level']} ({v['weight']:+.1f})" for name, v in why.items()
                 if isinstance(v, dict) and v.get("weight") is not None]
        weight = (f"match weight {link.match_weight:.1f}, probability "
                  f"{link.match_probability:.4f}" if link.match_weight is not None else "")
        if link.status == "pending":
            return ("a possible match, under review by an operator (" + weight + "): it "
                    "sanctions nothing until confirmed; its details are withheld until then")
        who = ("confirmed by an operator" if link.rule == "manual"
               else "matched by the linkage model")
        return f"{who}: {weight}; " + "; ".join(parts) if weight else who
    if rec.national_id and rec.national_id == subject.national_id:
        return (f"it carries your national ID number ({mask_identifier(rec.national_id)}), "
                "checksum-valid")
    for p in phones:
        if rec.phone == p.value and p.valid_from <= rec.occurred_at and (
                p.valid_to is None or rec.occurred_at < p.valid_to):
            return (f"it carries phone {mask_identifier(rec.phone)}, registered to you since "
                    f"{p.valid_from}, on the record's date {rec.occurred_at}")
    return "linked by the registry; dispute it if it is not about you"


def _as_sent(rec: Any, subject: Any, link: Any) -> dict[str, Any] | None:
    """What the furnisher said about the person, for a record not carrying the subject's own
    national ID (so they can tell whether it is theirs): the name and birth date as sent, the
    phone masked, and where the ID as sent differs from theirs (character positions, 1-based)
    — never the other digits. None for ID-linked and for pending records (withheld)."""
    if link is None or _pending(link):
        return None
    diff = None
    if rec.claimed_id and subject.national_id:
        a, b = rec.claimed_id, subject.national_id
        diff = [i + 1 for i in range(max(len(a), len(b)))
                if i >= len(a) or i >= len(b) or a[i] != b[i]]
    return {"name": rec.name, "birth_date": rec.birth_date,
            "phone": mask_identifier(rec.phone) if rec.phone else None,
            "id_differs_at": diff}


def _pending(link: Any) -> bool:
    return link is not None and link.status == "pending"


def _link_dict(link: Any) -> dict[str, Any] | None:
    """How a record not carrying the subject's national ID was linked: ``rule`` (phone |
    probabilistic | manual), ``status``, ``match_weight`` (log2 Bayes factor),
    ``match_probability`` and ``contributions`` (comparison → ``{level, weight}``)."""
    if link is None:
        return None
    why = json.loads(link.explanation or "{}")
    return {"rule": link.rule, "status": link.status, "match_weight": link.match_weight,
            "match_probability": link.match_probability,
            "contributions": {k: v for k, v in why.items() if isinstance(v, dict)}}


def _ends_when(policy: Policy, entry: Any) -> list[str]:
    spec = policy.lists.get(entry.list)
    out = []
    if entry.until:
        out.append(f"expiry on {entry.until}")
    if spec is not None:
        for rule in spec.removal:
            out.append(f"a {rule.kind} record for the same {rule.key}"
                       + (f" with {', '.join(f'{k}={v}' for k, v in rule.when.items())}"
                          if rule.when else "") + f" (removal: {rule.reason})")
        if spec.rating:
            out.append(f"your mean rating over the last {spec.rating.window} reaching "
                       f"{spec.rating.below}")
        if spec.criteria:
            c = spec.criteria
            out.append(f"no new {c.kind} record bringing the {c.aggregate} within "
                       f"{c.window_days} days to {c.at_least:,}, until the period ends")
            if c.cured_by:
                out.append(f"a {c.cured_by.kind} record for the same {c.cured_by.key} (the "
                           "record no longer counts)")
        if spec.score:
            out.append(f"your {spec.score.name} score recovering")
        if spec.represents:
            out.append(f"the organisation's entry on the {spec.represents.list} list ending")
            out.append("a regulator's record that you no longer hold the role")
        if spec.extension:
            out.append(f"(the court may extend it by up to {spec.extension.max_years} years "
                       f"with a {spec.extension.kind} record)")
    out.append("a dispute that suppresses the record behind it")
    return out


def _benefits(policy: Policy, list_name: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for inc in policy.incentives_for(list_name):
        for svc, names_ in inc.benefits.items():
            out.setdefault(svc, []).extend({"benefit": b, "text": policy.benefits.get(b, b),
                                            "legal_basis": inc.legal_basis} for b in names_)
    return out


def _scores(policy: Policy, history: Sequence[Any], kind: str) -> list[dict[str, Any]]:
    """Each score of the policy: the current value, grade and reason codes (with their text,
    costliest first, as an adverse-action notice gives them) and the history, newest first;
    titled for a subject of ``kind`` (an organisation's is no personal score)."""
    out = []
    for name, spec in policy.scores.items():
        rows = [h for h in history if h.score == name]
        if not rows:
            continue
        reason_of = {f.code: f.reason for f in spec.factors}
        now = rows[0]
        out.append({
            "score": name, "title": spec.title_for(kind), "legal_basis": spec.legal_basis,
            "value": now.value, "grade": now.grade, "as_of": now.as_of,
            "range": [spec.min, spec.max],
            "reasons": [{"code": c, "reason": reason_of.get(c, c)}
                        for c in json.loads(now.reasons)],
            "history": [{"as_of": h.as_of, "value": h.value, "grade": h.grade,
                         "reasons": json.loads(h.reasons)} for h in rows],
        })
    return out


def subject_file(store: Store, policy: Policy, subject_id: int, *,
                 reader: str = "subject") -> dict[str, Any]:
    """The file of ``subject_id``; the read is logged as a ``file.read`` event by ``reader``.

    Raises:
        NotFound: no such subject.
    """
    with store.read() as conn:
        subject = conn.execute(select(subjects).where(subjects.c.id == subject_id)).first()
        if subject is None:
            raise NotFound(f"there is no subject {subject_id}")
        phones = conn.execute(select(identifiers).where(
            identifiers.c.subject_id == subject_id, identifiers.c.kind == "phone")
            .order_by(identifiers.c.valid_from)).all()
        names = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
        recs = conn.execute(select(records).where(records.c.subject_id == subject_id)
                            .order_by(records.c.occurred_at, records.c.id)).all()
        link_of = {ln.record_id: ln for ln in conn.execute(select(links).where(
            links.c.subject_id == subject_id))}
        entries = conn.execute(select(list_entries).where(
            list_entries.c.subject_id == subject_id).order_by(list_entries.c.since)).all()
        # a representative's own restriction names the organisation whose listing it follows
        represented = {e.id: represented_organisation(conn, e.key) for e in entries
                       if e.list in policy.lists and policy.lists[e.list].represents}
        decided = conn.execute(select(decisions).where(decisions.c.subject_id == subject_id)
                               .order_by(decisions.c.at.desc()).limit(500)).all()
        served = conn.execute(select(notices).where(
            notices.c.subject_id == subject_id, notices.c.kind != "sign_in_code")
            .order_by(notices.c.id.desc()).limit(500)).all()
        mine = conn.execute(select(disputes).where(disputes.c.subject_id == subject_id)
                            .order_by(disputes.c.id.desc())).all()
        asked = conn.execute(select(reviews).where(reviews.c.subject_id == subject_id)
                             .order_by(reviews.c.id.desc())).all()
        applied = conn.execute(select(repairs).where(repairs.c.subject_id == subject_id)
                               .order_by(repairs.c.id.desc())).all()
        history = conn.execute(select(scores).where(scores.c.subject_id == subject_id)
                               .order_by(scores.c.id.desc())).all()
    with store.batch() as b:
        b.emit("file.read", {"reader": reader}, subject_id=subject_id)
    file: dict[str, Any] = {
        "subject": {
            "id": subject.id, "name": subject.name, "kind": subject.kind,
            "national_id": mask_identifier(subject.national_id),
            "organisation_id": subject.organisation_id,
            "phones": [{"phone": mask_identifier(p.value), "valid_from": p.valid_from,
                        "valid_to": p.valid_to} for p in phones],
        },
        "records": [{
            "id": r.id, "kind": r.kind, "occurred_at": r.occurred_at,
            "furnisher": names.get(r.furnisher_id), "status": r.status,
            "fields": json.loads(r.payload) if r.status != "retired" and not _pending(
                link_of.get(r.id)) else {},
            "superseded_by": r.superseded_by,
            "linked_because": _linked_because(r, subject, phones, link_of.get(r.id)),
            "link": _link_dict(link_of.get(r.id)),
            "sent": _as_sent(r, subject, link_of.get(r.id)),
        } for r in recs],
        "entries": [],
        "scores": _scores(policy, history, subject.kind),
        "decisions": [{
            "id": d.id, "at": d.at, "gate": d.gate, "service": d.service, "outcome": d.outcome,
            "purpose": (f"an operator's check for {policy.services.get(d.service, d.service)}"
                        if d.gate == "operator" else
                        f"deciding a sale of {policy.services.get(d.service, d.service)}"),
            "reasons": json.loads(d.reasons),
        } for d in decided],
        "notices": [{
            "id": n.id, "kind": n.kind, **json.loads(n.body), "created_at": n.created_at,
            "due_at": n.due_at, "served_at": n.served_at, "channel": n.channel,
        } for n in served],
        "disputes": [dispute_dict(d) for d in mine],
        "reviews": [{k: getattr(v, k) for k in ("id", "decision_id", "reason", "opened_at",
                                                "status", "decided_at", "note")}
                    for v in asked],
        "repairs": [{**{k: getattr(v, k) for k in ("id", "entry_id", "condition", "evidence",
                                                   "opened_at", "status", "decided_at",
                                                   "note")},
                     "decide_by": decide_by(policy, v.opened_at)} for v in applied],
    }
    day_of = {r.id: r.occurred_at for r in recs}
    blocking = [b.id for b in suspenders(policy, entries,
                                         local_today(policy.jurisdiction).isoformat())]
    for e in entries:
        spec = policy.lists.get(e.list)
        red = spec is not None and spec.effect == "incentive"
        file["entries"].append({
            "id": e.id, "list": e.list, "title": spec.title if spec else e.list,
            "status": e.status, "ground": e.ground,
            "ground_text": spec.grounds.get(e.ground) if spec and e.ground else None,
            "legal_basis": spec.legal_basis if spec else None, "since": e.since,
            "until": e.until, "ended_on": e.ended_on, "end_reason": e.end_reason,
            "record_id": e.record_id, "furnisher": names.get(e.furnisher_id) or (
                spec.source if spec else None),
            "sanctions": {svc: s.legal_basis for s in policy.sanctions_for(e.list)
                          for svc in s.services},
            "severity": {svc: s.severity for s in policy.sanctions_for(e.list)
                         for svc in s.services},
            # services a court allowed despite the listing, until a date or for good
            "lifted": [{"service": svc, "until": until}
                       for svc, until in (json.loads(e.lifted) if e.lifted else [])],
            "ends_when": _ends_when(policy, e),
            # the notice and grace period before the listing, where the list has one
            "grace": grace_view(spec, e, day_of.get(e.record_id)),
            # its severity tier and when repair may be granted (NDRC Order No. 36)
            "tier": repair_terms(policy, e.list, e.ground, e.since),
            "how_to_contest": " ".join(((spec.how_to_contest if spec else None)
                                        or policy.how_to_contest).split()),
            # listed in one's own right, or restricted as an organisation's representative
            # (SPC 2015, Art. 3 para. 2; never listed: SPC Opinions Fa Fa [2019] No. 35)
            "applies_as": "representative" if e.id in represented else "subject",
            "on_behalf_of": represented.get(e.id),
            "effect": spec.effect if spec else "sanction",
            "benefits": _benefits(policy, e.list),
            "suspended_by": blocking if red else [],
        })
        if e.status == "pending_review":
            # it rests on a record whose link to this person is unconfirmed: it may be a
            # namesake's listing, so only its existence is shown (it sanctions nothing)
            file["entries"][-1].update({
                "ground": None, "ground_text": None, "since": None, "until": None,
                "ended_on": None, "end_reason": None, "record_id": None, "furnisher": None,
                "sanctions": {}, "ends_when": [], "grace": None, "tier": None,
                "note": "under identity review: it sanctions nothing, and its details are "
                        "withheld until an operator confirms the record is about you"})
    return file
