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
2. :func:`deliver_notices` hands pending notices to an adapter (:class:`FileAdapter` by default:
   JSON Lines in ``settings.notices_dir``; :class:`SmtpAdapter` when ``settings.smtp_host`` is
   set) and records ``served_at``; each served notice is a ``notice.served`` ledger event. A
   one-time sign-in code is served the same way, but its text is wiped once served and it
   leaves no ledger event (the code must not outlive its delivery).

Each notice is due ``policy.due_process.notice_within_hours`` after its event (``due_at``);
``bench/clocks.py`` counts the notices served late or never.

Longer than 400 lines because the texts of every notice kind live here beside the projector;
they would move to their own module (``notice_texts.py``) with the next kind added.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import smtplib
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, exists, insert, select, update

from socialcredit.disclosure.adverse_action import adverse_action_words, score_disclosure
from socialcredit.disclosure.enterprise import represented_organisation
from socialcredit.errors import ConfigError
from socialcredit.identity.channel import channel_of
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

__all__ = [
    "KINDS",
    "Adapter",
    "DeliveryStats",
    "FileAdapter",
    "Notice",
    "SmtpAdapter",
    "adapter_for",
    "deliver_notices",
    "enqueue",
    "iso",
    "project_notices",
    "trusted_phone",
]

#: Notice kinds, in the words of the subject file.
KINDS = ("warning", "listing", "removal", "expiry", "adverse_record", "refusal", "dispute_opened",
         "dispute_answered", "dispute_outcome", "review_outcome", "repair_outcome", "sign_in_code",
         "channel_changed", "channel_flagged", "sign_in_locked")

#: Ledger event type → notice kind (one table with ``audit replay``'s, which checks them).
_EVENT_KINDS = NOTICE_EVENT_KINDS
_CURSOR = NOTICES_CURSOR
#: The gate name under which an operator's check (``socialcredit check``) is logged.
OPERATOR_CHECK = "operator"
_MAX_ATTEMPTS = 10
#: Notices claimed, sent and recorded per pair of transactions.
_GROUP = 200
#: Failures in a group after which a delivery round stops (a relay that is down must not
#: hold a round for 10 s per notice).
_GIVE_UP = 3


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
        return (f"You have been listed: {title_of}",
                f"Entry {payload.get('entry_id')} on the {title_of}, from {payload.get('since')} "
                f"until {until}. {why}Legal basis: {spec.legal_basis if spec else '-'}. "
                f"To contest: {contest} You can read your file and dispute it at /me.")
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


@dataclass(frozen=True)
class Notice:
    """What an adapter is given: ``to`` is the subject's current phone (E.164) or None."""

    id: int
    subject_id: int
    kind: str
    title: str
    text: str
    to: str | None


class Adapter(Protocol):
    channel: str

    def send(self, notice: Notice) -> None:
        """Deliver, or raise any exception (the notice stays pending and is retried)."""


class FileAdapter:
    """Serves notices by appending them to ``<folder>/outbox.jsonl`` (one JSON object per
    line: ``notice_id, subject_id, kind, to, title, text, served_at``): the record a court or
    post office keeps, and what the demo reads the sign-in code from."""

    channel = "file"

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "outbox.jsonl"
        self._lock = threading.Lock()

    def send(self, notice: Notice) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        line = json.dumps({"notice_id": notice.id, "subject_id": notice.subject_id,
                           "kind": notice.kind, "to": notice.to, "title": notice.title,
                           "text": notice.text, "served_at": iso(dt.datetime.now(dt.UTC))},
                          ensure_ascii=False)
        with self._lock:
            # phones and sign-in codes: readable by the registry's account only (0600)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")


class SmtpAdapter:
    """Serves notices by e-mail through an SMTP relay (an SMS gateway's mail address for the
    phone, ``to_template`` with ``{phone}``, e.g. ``{phone}@sms.example.org``). A subject
    without a phone cannot be reached this way: the notice stays pending with the error."""

    channel = "smtp"

    def __init__(self, host: str, port: int, sender: str, to_template: str) -> None:
        if "{phone}" not in to_template:
            raise ConfigError("SOCIALCREDIT_SMTP_TO must contain {phone}, e.g. "
                              "{phone}@sms.example.org")
        self.host, self.port, self.sender, self.to_template = host, port, sender, to_template

    def send(self, notice: Notice) -> None:
        if not notice.to:
            raise ValueError("the subject has no phone on record")
        msg = EmailMessage()
        msg["From"], msg["To"] = self.sender, self.to_template.format(phone=notice.to)
        msg["Subject"] = notice.title
        msg.set_content(notice.text)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(msg)


def adapter_for(settings: Any) -> Adapter:
    """SMTP when ``settings.smtp_host`` is set, else the file adapter in ``notices_dir``."""
    if settings.smtp_host:
        return SmtpAdapter(settings.smtp_host, settings.smtp_port, settings.smtp_from,
                           settings.smtp_to)
    return FileAdapter(settings.notices_dir)


@dataclass
class DeliveryStats:
    served: int = 0
    failed: int = 0


def trusted_phone(conn: Any, subject_id: int) -> str | None:
    """The subject's phone for notices and sign-in: their trusted contact channel
    (:mod:`socialcredit.identity.channel`), which no furnisher row moves."""
    return channel_of(conn, subject_id)



def deliver_notices(store: Store, adapter: Adapter, *, now: dt.datetime,
                    limit: int = 1000, only: int | None = None) -> DeliveryStats:
    """Serve up to ``limit`` pending notices, oldest first, in groups of 200 (one transaction
    claims a group, one records what was served); a failure is counted, its reason kept in
    ``last_error`` and the notice retried next time (at most 10 tries). Delivery is at least
    once: a process killed between sending and recording sends that group again.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    stats = DeliveryStats()
    with store.read() as conn:
        stmt = select(notices).where(notices.c.served_at.is_(None),
                                     notices.c.attempts < _MAX_ATTEMPTS)
        if only is not None:
            stmt = stmt.where(notices.c.id == only)
        pending = conn.execute(stmt.order_by(notices.c.id).limit(limit)).all()
        phones = {p.subject_id: trusted_phone(conn, p.subject_id) for p in pending}
    for start in range(0, len(pending), _GROUP):
        group = pending[start:start + _GROUP]
        # claim the tries under the write lock first: every server process serves the same
        # outbox, and one that read these notices as pending too must not send them again
        with store.batch() as b:
            claimed = [n for n in group if b.conn.execute(update(notices).where(
                notices.c.id == n.id, notices.c.served_at.is_(None),
                notices.c.attempts == n.attempts).values(attempts=n.attempts + 1)).rowcount]
        sent: list[tuple[Any, dict[str, Any]]] = []
        failed: list[tuple[int, str]] = []
        for n in claimed:
            body = json.loads(n.body)
            if len(failed) >= _GIVE_UP:  # the relay is down: leave the rest for next time
                break
            try:
                adapter.send(Notice(n.id, n.subject_id, n.kind, body["title"], body["text"],
                                    body.get("to") or phones[n.subject_id]))
            except Exception as e:  # any adapter failure: keep it pending, say why
                failed.append((n.id, f"{type(e).__name__}: {e}"[:200]))
            else:
                sent.append((n, body))
        stats.served += len(sent)
        stats.failed += len(failed)
        if not sent and not failed:
            continue
        with store.batch() as b:  # one transaction records the group's outcome
            for nid, error in failed:
                b.conn.execute(update(notices).where(notices.c.id == nid).values(
                    last_error=error))
            for n, body in sent:
                values: dict[str, Any] = {"served_at": iso(now), "channel": adapter.channel,
                                          "last_error": None}
                if n.kind == "sign_in_code":
                    values["body"] = json.dumps({"title": body["title"],
                                                 "text": "(a one-time code, served)"})
                else:
                    b.emit("notice.served", {"notice_id": n.id, "kind": n.kind, "ref": n.ref,
                                             "channel": adapter.channel,
                                             "served_at": iso(now)}, subject_id=n.subject_id)
                b.conn.execute(update(notices).where(notices.c.id == n.id).values(**values))
        if len(failed) >= _GIVE_UP:
            break
    return stats

