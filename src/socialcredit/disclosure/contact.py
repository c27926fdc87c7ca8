"""Changing a subject's trusted contact channel (where codes and notices go).

Two of the three ways of :mod:`socialcredit.identity.channel` (the third, an authoritative
furnisher, happens at ingest):

* the person proves the new number from the old one: signed in (a session opened with a code
  sent to the current channel), they ask for a code on the new phone
  (:func:`request_channel_code`) and type it back (:func:`confirm_channel_code`);
* an operator confirms a number after an identity check (:func:`operator_set_channel`), or
  confirms the current one, which clears a flag.

Each change is a ``contact.channel_changed`` ledger event; the notices stage tells the old
channel. Codes here follow the sign-in limits: ``sign_in_code_minutes`` to live,
``sign_in_max_attempts`` wrong tries, at most 5 codes an hour per subject.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from sqlalchemy import func, select, update

from socialcredit.disclosure.notices import enqueue, iso
from socialcredit.disclosure.signin import CODES_PER_HOUR, code_digest
from socialcredit.errors import AuthError, InputError, NotFound, RateLimited
from socialcredit.identity.channel import change_channel, channel_of, flagged_channels
from socialcredit.identity.phone import normalise_phone
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import contact_codes, subjects

__all__ = ["confirm_channel_code", "flagged", "operator_set_channel", "request_channel_code"]


def _phone(policy: Policy, phone: str) -> str:
    return normalise_phone(phone, policy.identity.phone.default_region)


def request_channel_code(store: Store, policy: Policy, *, subject_id: int, phone: str,
                         now: dt.datetime) -> int | None:
    """Send a code to ``phone``, the number the signed-in subject wants as their channel;
    return the notice id (None when it already is their channel).

    Raises:
        IdentifierError: not a valid phone number.
        RateLimited: 5 codes for this subject within the hour.
    """
    to = _phone(policy, phone)
    rules = policy.due_process
    code = f"{secrets.randbelow(10**6):06d}"
    with store.batch() as b:
        if channel_of(b.conn, subject_id) == to:
            return None
        recent = b.conn.execute(select(func.count()).select_from(contact_codes).where(
            contact_codes.c.subject_id == subject_id,
            contact_codes.c.created_at > iso(now - dt.timedelta(hours=1)))).scalar()
        if int(recent or 0) >= CODES_PER_HOUR:
            b.emit("access.refused", {"what": "contact.request",
                                      "reason": "too many codes this hour"},
                   subject_id=subject_id)
            too_many = True
        else:
            too_many = False
            b.conn.execute(update(contact_codes).where(
                contact_codes.c.subject_id == subject_id,
                contact_codes.c.used_at.is_(None)).values(used_at=iso(now)))
            cid = b.next_id(contact_codes)
            b.add(contact_codes, {
                "id": cid, "subject_id": subject_id, "phone": to,
                "code_hash": code_digest(store, f"contact:{cid}:{code}"), "created_at": iso(now),
                "expires_at": iso(now + dt.timedelta(minutes=rules.sign_in_code_minutes)),
                "attempts": 0, "used_at": None})
            notice = enqueue(b, subject_id=subject_id, kind="sign_in_code",
                             ref=f"contact:{cid}", to=to, title="Confirm your new phone",
                             text=f"Your socialcredit code to make this your phone is {code}. "
                                  f"It expires in {rules.sign_in_code_minutes} minutes.",
                             now=now, within_hours=1)
    if too_many:
        raise RateLimited(f"at most {CODES_PER_HOUR} codes an hour; try again later",
                          details={"retry_after_seconds": 3600})
    return notice


def confirm_channel_code(store: Store, policy: Policy, *, subject_id: int, phone: str,
                         code: str, now: dt.datetime) -> str:
    """Make ``phone`` the subject's channel if ``code`` is the one sent to it; return it.

    Raises:
        AuthError: no live code for this phone, or a wrong, expired or used code.
        RateLimited: the code took ``sign_in_max_attempts`` wrong tries.
    """
    to = _phone(policy, phone)
    rules = policy.due_process
    with store.batch() as b:
        row = b.conn.execute(select(contact_codes).where(
            contact_codes.c.subject_id == subject_id, contact_codes.c.phone == to,
            contact_codes.c.used_at.is_(None)).order_by(contact_codes.c.id.desc())).first()
        problem = None
        if row is None or row.expires_at <= iso(now):
            problem = "no live code"
        elif row.attempts >= rules.sign_in_max_attempts:
            problem = "locked code"
        elif not hmac.compare_digest(row.code_hash,
                                     code_digest(store, f"contact:{row.id}:{code.strip()}")):
            problem = "wrong code"
            b.conn.execute(update(contact_codes).where(contact_codes.c.id == row.id).values(
                attempts=row.attempts + 1))
        if problem is not None:
            b.emit("access.refused", {"what": "contact.confirm", "reason": problem},
                   subject_id=subject_id)
        else:
            assert row is not None
            b.conn.execute(update(contact_codes).where(contact_codes.c.id == row.id).values(
                used_at=iso(now)))
            change_channel(b, subject_id=subject_id, phone=to, how="subject_proof",
                           by=f"subject:{subject_id}")
    if problem == "locked code":
        raise RateLimited("too many wrong codes: ask for a new one",
                          details={"retry_after_seconds": 60})
    if problem is not None:
        raise AuthError("wrong or expired code: check it, or ask for a new one")
    return to


def operator_set_channel(store: Store, policy: Policy, *, subject_id: int, phone: str,
                         operator: str, evidence: str) -> dict[str, object]:
    """An operator sets (or confirms) a subject's channel after an identity check described
    in ``evidence``; return ``{subject_id, phone, changed}``.

    Raises:
        NotFound: no such subject.
        InputError: no evidence; IdentifierError: not a valid phone number.
    """
    to = _phone(policy, phone)
    if not evidence.strip():
        raise InputError("say which identity check you made (evidence)")
    with store.batch() as b:
        if b.conn.execute(select(subjects.c.id).where(subjects.c.id == subject_id)).first() \
                is None:
            raise NotFound(f"no subject {subject_id}")
        changed = change_channel(b, subject_id=subject_id, phone=to, how="operator",
                                 by=f"operator:{operator}", evidence=evidence.strip())
    return {"subject_id": subject_id, "phone": to, "changed": changed}


def flagged(store: Store) -> list[dict[str, object]]:
    """Channels awaiting an operator (``identity.channel.flagged_channels``)."""
    with store.read() as conn:
        return [dict(r) for r in flagged_channels(conn)]
