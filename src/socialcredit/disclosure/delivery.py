"""Serving the notices outbox: the adapters that deliver a notice, and the delivery round.

:func:`deliver_notices` hands pending notices (written by
:func:`socialcredit.disclosure.notices.project_notices`) to an adapter (:class:`FileAdapter` by
default: JSON Lines in ``settings.notices_dir``; :class:`SmtpAdapter` when
``settings.smtp_host`` is set) and records ``served_at``; each served notice is a
``notice.served`` ledger event. A one-time sign-in code is served the same way, but its text is
wiped once served and it leaves no ledger event (the code must not outlive its delivery).
Safe to run again at any time (``socialcredit notices run``, and every few seconds inside
``serve``).
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

from sqlalchemy import select, update

from socialcredit.disclosure.notices import iso
from socialcredit.errors import ConfigError
from socialcredit.identity.channel import channel_of
from socialcredit.store import Store
from socialcredit.store.tables import notices

__all__ = [
    "Adapter",
    "DeliveryStats",
    "FileAdapter",
    "Notice",
    "SmtpAdapter",
    "adapter_for",
    "deliver_notices",
    "trusted_phone",
]

_MAX_ATTEMPTS = 10
#: Notices claimed, sent and recorded per pair of transactions.
_GROUP = 200
#: Failures in a group after which a delivery round stops (a relay that is down must not
#: hold a round for 10 s per notice).
_GIVE_UP = 3


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

