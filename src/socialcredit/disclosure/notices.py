"""Notices: an outbox of what the registry owes each subject, and the adapters that serve it.

Two steps, both safe to run again at any time (``socialcredit notices run``, and every few
seconds inside ``serve``):

1. :func:`project_notices` follows the ledger from its cursor (table ``cursors``, name
   ``notices``) and writes one ``notices`` row per event a subject must hear of — a warning
   before a listing (``entry.warned``, where the list has ``warning_days``), a listing
   (``entry.listed``), a removal or expiry, a new adverse record (``record.accepted`` of a
   catalogue kind with ``adverse: true``), a dispute's steps and outcome, a human review's
   outcome — plus one per gate refusal logged in ``decisions`` (only the first refusal of a
   person for a service in a local day of the policy's time zone is sent; the others are
   recorded as ``merged`` into it).
   ``(kind, ref)`` is unique, so re-running never duplicates a notice.
2. :func:`~socialcredit.disclosure.delivery.deliver_notices` hands pending notices to an
   adapter and records ``served_at`` (:mod:`socialcredit.disclosure.delivery`).

Each notice is due ``policy.due_process.notice_within_hours`` after its event (``due_at``);
``bench/clocks.py`` counts the notices served late or never.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import and_, exists, insert, select, update

from socialcredit.disclosure.adverse_action import adverse_action_words, score_disclosure
from socialcredit.disclosure.enterprise import represented_organisation
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.replay_notices import NOTICE_EVENT_KINDS, NOTICES_CURSOR
from socialcredit.store.tables import (
    cursors,
    decisions,
    events,
    notices,
)

__all__ = ["KINDS", "enqueue", "iso", "project_notices"]

#: Notice kinds, in the words of the subject file.
KINDS = ("warning", "listing", "removal", "expiry", "adverse_record", "refusal", "dispute_opened",
         "dispute_answered", "dispute_outcome", "review_outcome", "repair_outcome", "sign_in_code",
         "channel_changed", "channel_flagged", "sign_in_locked")

#: Ledger event type → notice kind (one table with ``audit replay``'s, which checks them).
_EVENT_KINDS = NOTICE_EVENT_KINDS
_CURSOR = NOTICES_CURSOR
#: The gate name under which an operator's check (``socialcredit check``) is logged.
OPERATOR_CHECK = "operator"


def iso(moment: dt.datetime) -> str:
    """An instant as the store writes it (ISO 8601, UTC, microseconds)."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _text(kind: str, payload: dict[str, Any], policy: Policy) -> tuple[str, str]:
    """Title and text of a notice (plain language, with the way to contest)."""
    spec = policy.lists.get(str(payload.get("list", "")))
    title_of = spec.title if spec else str(payload.get("list", ""))
    contest = (spec.how_to_contest if spec and spec.how_to_contest else policy.how_to_contest)
    contest = " ".join(contest.split())
    if kind == "warning":
        return (f"Warning: you will be listed on {payload.get('since')} unless you act",
                f"A record puts you on the {title_of} from {payload.get('since')} (entry "
                f"{payload.get('entry_id')}). Until then nothing is refused; performing the "
                "obligation, a performed settlement or the creditor's consent before that day "
                f"prevents the listing. Legal basis: {spec.legal_basis if spec else '-'}. "
                f"To contest: {contest}")
    if kind == "listing" and spec is not None and spec.effect == "incentive":
        earned = "; ".join(f"{policy.benefits.get(b, b)} ({svc})" for i in
                           policy.incentives_for(str(payload.get("list")))
                           for svc, bs in i.benefits.items() for b in bs) or "-"
        return (f"You were added to a red list: {title_of}",
                f"Entry {payload.get('entry_id')} on the {title_of}, from "
                f"{payload.get('since')} until {payload.get('until')}. It refuses you nothing "
                f"and earns: {earned}; never while you hold an active sanction entry. Legal "
                f"basis: {spec.legal_basis}. To contest: {contest}")
    if kind == "listing":
        until = payload.get("until") or "an event that ends it"
        org = payload.get("on_behalf_of")
        why = (f"You represent {org['organisation']} ({org['organisation_id']}), listed for case "
               f"{org['case_number']}; the restriction is yours, not a listing. ") if org else ""
        return (f"You are restricted as a representative: {title_of}" if org
                else f"You have been listed: {title_of}",
                f"Entry {payload.get('entry_id')} on the {title_of}, from {payload.get('since')} "
                f"until {until}. {why}Legal basis: {spec.legal_basis if spec else '-'}. "
                f"To contest: {contest} You can read your file and dispute it at /me.")
    ended, since = str(payload.get("ended_on") or ""), str(payload.get("since") or "")
    if kind == "removal" and ended and since and ended < since:  # ended in its grace period
        return (f"Your listing will not take effect: {title_of}",
                f"Entry {payload.get('entry_id')} on the {title_of} was to take effect on "
                f"{since}. It ended on {ended} ({payload.get('end_reason')}), before that "
                "day: it never refused you anything, and nothing is published.")
    if kind in ("removal", "expiry"):
        verb = "removed" if kind == "removal" else "expired"
        return (f"Your listing was {verb}: {title_of}",
                f"Entry {payload.get('entry_id')} on the {title_of} {verb} on "
                f"{payload.get('ended_on')} ({payload.get('end_reason')}). " + (
                    "Its benefits end." if spec is not None and spec.effect == "incentive"
                    else "Gates no longer refuse you on it."))
    if kind == "adverse_record":
        return (f"A new record about you: {payload.get('kind')}",
                f"Record {payload.get('record_id')} ({payload.get('kind')}, dated "
                f"{payload.get('occurred_at')}) was furnished about you. If it is wrong, "
                "dispute it at /me; the furnisher must answer by the deadline shown there.")
    if kind == "refusal":
        return (f"A service was refused: {payload.get('service')}",
                f"Decision {payload.get('decision_id')} by {payload.get('gate')} refused "
                f"{payload.get('service')} on {payload.get('on', '')}. You may ask for a "
                "human review of this decision at /me."
                + adverse_action_words(payload.get("adverse_action"), str(payload.get("gate"))))
    if kind == "dispute_opened":
        return ("Your dispute was received",
                f"Dispute {payload.get('dispute_id')} must be answered by "
                f"{payload.get('due_on')}; unanswered, the record is suppressed.")
    if kind == "dispute_answered":
        return ("Your dispute was answered",
                f"Dispute {payload.get('dispute_id')}: the furnisher answered "
                f"{payload.get('answer')!r}. {payload.get('note') or ''} "
                "If you disagree, you may appeal to the registry operator at /me.")
    if kind == "dispute_outcome":
        return ("Outcome of your dispute",
                f"Dispute {payload.get('dispute_id')}: {payload.get('outcome')}. "
                f"{payload.get('note') or ''}")
    if kind == "review_outcome":
        return ("Outcome of the human review you asked for",
                f"Review {payload.get('review_id')} of decision {payload.get('decision_id')}: "
                f"{payload.get('outcome')}. {payload.get('note') or ''}")
    if kind == "repair_outcome":
        return ("Outcome of your application for early removal",
                f"Application {payload.get('repair_id')} for entry {payload.get('entry_id')}: "
                f"{payload.get('outcome')}. {payload.get('note') or ''}")
    if kind == "channel_changed":
        return ("Your sign-in phone was changed",
                f"From now on your sign-in codes and notices go to a number ending "
                f"{str(payload.get('to') or '')[-4:]} (changed by {payload.get('how')}). If "
                "you did not ask for this, contact the registry operator at once: they can "
                "restore your number after checking your identity.")
    if kind == "channel_flagged":
        return ("Is this still your phone?",
                "A furnisher's records suggest this number now belongs to someone else. Your "
                "sign-in codes and notices still come here; the registry operator will check. "
                "If this is still your number, nothing changes.")
    raise ValueError(f"no text for notice kind {kind!r}")


def enqueue(batch: Batch, *, subject_id: int, kind: str, ref: str, title: str, text: str,
            now: dt.datetime, within_hours: int, event_seq: int | None = None,
            to: str | None = None) -> int | None:
    """Add one notice to the outbox inside ``batch``; ``None`` if ``(kind, ref)`` exists.
    ``to`` fixes the phone it goes to (a sign-in code: the phone typed); otherwise it goes to
    the subject's current phone when served."""
    if batch.conn.execute(select(notices.c.id).where(
            notices.c.kind == kind, notices.c.ref == ref)).first():
        return None
    nid = batch.next_id(notices)
    batch.add(notices, {
        "id": nid, "subject_id": subject_id, "kind": kind, "ref": ref, "created_at": iso(now),
        "due_at": iso(now + dt.timedelta(hours=within_hours)), "served_at": None,
        "channel": None, "attempts": 0, "last_error": None,
        "body": json.dumps({"title": title, "text": text, **({"to": to} if to else {})},
                           ensure_ascii=False),
        "event_seq": event_seq})
    return nid


def project_notices(store: Store, policy: Policy, *, now: dt.datetime,
                    limit: int = 5000) -> int:
    """Write the notices owed for ledger events after the cursor and for logged refusals;
    return how many were added. Each notice is due ``notice_within_hours`` after its event
    (the event's own time, so a late projector shows as a late notice).

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    within = policy.due_process.notice_within_hours
    added = 0
    with store.batch() as b:
        conn = b.conn
        cursor = conn.execute(select(cursors.c.seq).where(cursors.c.name == _CURSOR)).scalar()
        if cursor is None:
            conn.execute(insert(cursors).values(name=_CURSOR, seq=0))
            cursor = 0
        rows = conn.execute(
            select(events.c.seq, events.c.at, events.c.type, events.c.subject_id,
                   events.c.payload)
            .where(events.c.seq > cursor, events.c.type.in_(sorted(_EVENT_KINDS)))
            .order_by(events.c.seq).limit(limit)).all()
        adverse = policy.adverse_kinds()
        last = cursor
        for ev in rows:
            last = ev.seq
            if ev.subject_id is None:
                continue
            payload = json.loads(ev.payload)
            kind = _EVENT_KINDS[ev.type]
            if kind == "adverse_record" and payload.get("kind") not in adverse:
                continue
            if kind == "listing" and payload.get("status", "active") != "active":
                continue  # listed and ended in one step (a back-dated record): the end says it
            spec = policy.lists.get(str(payload.get("list", "")))
            if spec is not None and spec.represents is not None:  # whose listing it follows
                payload["on_behalf_of"] = represented_organisation(conn, str(payload["key"]))
            title, text = _text(kind, payload, policy)
            at = dt.datetime.fromisoformat(ev.at)
            to = payload.get("from") if kind == "channel_changed" else None
            if kind == "channel_changed" and not to:
                continue  # no old channel to tell
            if enqueue(b, subject_id=ev.subject_id, kind=kind, ref=f"event:{ev.seq}",
                       title=title, text=text, now=at, within_hours=within,
                       event_seq=ev.seq, to=to) is not None:
                added += 1
        if rows:
            # the cursor moves past the events read, including the last batch's skipped ones
            conn.execute(update(cursors).where(cursors.c.name == _CURSOR).values(seq=last))
        refusals = conn.execute(
            select(decisions).where(
                decisions.c.outcome == "deny", decisions.c.subject_id.is_not(None),
                decisions.c.gate != OPERATOR_CHECK,  # an operator's lookup refused no sale
                ~exists().where(and_(notices.c.kind == "refusal",
                                     notices.c.ref == "decision:" + decisions.c.id)))
            .order_by(decisions.c.at).limit(limit)).all()
        # one message per person, service and day: a manifest naming someone 10,000 times
        # must not send 10,000 messages; the others are recorded as merged into it
        zone = policy.jurisdiction

        def on(at: str) -> str:  # the local day of a decision's UTC time
            return local_today(zone, dt.datetime.fromisoformat(at)).isoformat()

        told = {(r.subject_id, r.service, on(r.at)) for r in conn.execute(
            select(decisions.c.subject_id, decisions.c.service, decisions.c.at)
            .join(notices, notices.c.ref == "decision:" + decisions.c.id)
            .where(notices.c.kind == "refusal", notices.c.channel.is_distinct_from("merged"),
                   decisions.c.subject_id.in_({d.subject_id for d in refusals})))}
        for d in refusals:
            aa = policy.due_process.adverse_action  # FCRA 615(a): the score used
            title, text = _text("refusal", {
                "decision_id": d.id, "gate": d.gate, "service": d.service, "on": on(d.at),
                "adverse_action": score_disclosure(conn, policy, d.subject_id)
                if aa is not None and d.service in aa.services else None}, policy)
            nid = enqueue(b, subject_id=d.subject_id, kind="refusal", ref=f"decision:{d.id}",
                          title=title, text=text, now=dt.datetime.fromisoformat(d.at),
                          within_hours=within)
            if nid is None:
                continue
            added += 1
            day = (d.subject_id, d.service, on(d.at))
            if day in told:
                b.flush()
                b.conn.execute(update(notices).where(notices.c.id == nid).values(
                    served_at=d.at, channel="merged", attempts=0))
            told.add(day)
    return added
