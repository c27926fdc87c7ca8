"""A subject signs in with a one-time code sent to a phone registered for them.

Flow: :func:`request_code` (national ID + phone) → if the phone is a current identifier of
the subject with that ID, a 6-digit code goes to the outbox (notice ``sign_in_code``, served
by the adapter at once) — the answer is the same whether or not they match, so the form
reveals nothing. :func:`verify_code` (national ID + phone + code) → a :class:`Session`: a
random token (the cookie; only its SHA-256 is stored) and a CSRF token for forms.

Limits (policy ``due_process``): a code lives ``sign_in_code_minutes`` and allows
``sign_in_max_attempts`` wrong tries, after which sign-in is locked until a new code is asked
for; a used code cannot be replayed; a new request replaces the previous code; at most 5
codes per ID number and phone an hour. The limits and messages are the same whether or not a
subject holds the pair, so they reveal nothing. Only the subject's trusted contact channel
(:mod:`socialcredit.identity.channel`) signs in and receives notices: no furnisher row moves
it, so a furnisher cannot take them over. Every refused attempt is an
``access.refused`` ledger event (no code or identifier in it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import secrets
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import delete, func, insert, select, update

from socialcredit.disclosure.delivery import trusted_phone
from socialcredit.disclosure.notices import enqueue, iso
from socialcredit.errors import AuthError, InputError, RateLimited
from socialcredit.identity import scheme_for
from socialcredit.identity.national_id import normalise_id_text
from socialcredit.identity.phone import normalise_phone
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import (
    contact_channels,
    sessions,
    sign_in_codes,
    sign_in_failures,
    subjects,
)

__all__ = ["CODES_PER_HOUR", "Session", "admit_code_request", "code_digest", "end_session",
           "issue_code", "refuse", "request_code",
           "session_subject", "verify_code"]

CODES_PER_HOUR = 5
#: Wrong codes count against a pair (a person's ID and phone) for a day, across codes.
FAIL_WINDOW_S = 86_400
_WRONG = "wrong or expired code: check it, or ask for a new one"


@dataclass(frozen=True)
class Session:
    """``token`` goes in the HttpOnly cookie; ``csrf`` in every form and state-changing API
    call (header ``X-CSRF-Token``); ``expires_at`` is ISO 8601 UTC."""

    token: str
    csrf: str
    subject_id: int
    expires_at: str


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def code_digest(store: Store, value: str) -> str:
    """What the store keeps of a one-time code: a keyed HMAC (:meth:`Store.seal`), so that a
    copy of the database alone cannot recover a live code by trying all 10^6."""
    return store.seal(value)


def _csrf_of(store: Store, token: str) -> str:
    """The CSRF token of a session, derived from its cookie token under the key: never
    stored (the ``sessions.csrf`` column keeps only a seal of it)."""
    return store.seal(f"csrf:{token}")[:43]


def refuse(store: Store, *, what: str, reason: str, subject_id: int | None = None,
           **details: Any) -> None:
    """Record a refused attempt as an ``access.refused`` ledger event."""
    with store.batch() as b:
        b.emit("access.refused", {"what": what, "reason": reason, **details},
               subject_id=subject_id)


def _subject_for(store: Store, policy: Policy, national_id: str, phone: str,
                 today: dt.date) -> int | None:
    ident = policy.identity.national_id
    try:
        nid = scheme_for(ident.scheme, ident.pattern).parse(national_id).value
        e164 = normalise_phone(phone, policy.identity.phone.default_region)
    except InputError:
        return None
    with store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid)).scalar()
        if sid is None:
            return None
        for _ in range(8):  # merged away: the person's file is the survivor's (a chain is short)
            into = conn.execute(select(subjects.c.merged_into).where(
                subjects.c.id == sid)).scalar()
            if into is None:
                break
            sid = into
        # only the trusted contact channel signs in (furnisher rows never move it)
        holds = trusted_phone(conn, int(sid)) == e164
    return int(sid) if holds else None


class _PairBook:
    """Per (ID number, phone) pair, whether or not a subject holds it — so that no limit tells
    a real pair from a made-up one: code requests in the last hour (process memory: a
    deployment of N processes allows N times as many), and wrong tries of the last day, across
    codes (the ``sign_in_failures`` table, shared by every process: issue #20)."""

    def __init__(self) -> None:
        self.codes: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(store: Store, policy: Policy, national_id: str, phone: str) -> str:
        try:
            phone = normalise_phone(phone, policy.identity.phone.default_region)
        except InputError:
            phone = "".join(ch for ch in phone if ch.isdigit())
        ident = policy.identity.national_id
        try:  # the one normalisation: a full-width form is the same person and the same key
            nid = scheme_for(ident.scheme, ident.pattern).parse(national_id).value
        except InputError:
            nid = normalise_id_text(national_id)
        # keyed (codes.key): the shared table of wrong tries keeps no guessable ID and phone
        return store.seal(f"sign-in-pair|{store.url}|{nid}|{phone}")

    def ask(self, key: str, now: float) -> None:
        """Count a code request (a new code does not wipe the wrong tries: issue #20).

        Raises:
            RateLimited: ``CODES_PER_HOUR`` requests in the last hour.
        """
        with self.lock:
            recent = [t for t in self.codes.get(key, []) if now - t < 3600]
            if len(recent) >= CODES_PER_HOUR:
                self.codes[key] = recent
                wait = max(1, math.ceil(3600 - (now - recent[0])))
                raise RateLimited(f"at most {CODES_PER_HOUR} sign-in codes an hour for one ID "
                                  f"number and phone; try again in {math.ceil(wait / 60)} minutes",
                                  details={"retry_after_seconds": wait})
            self.codes[key] = [*recent, now]
            if len(self.codes) > 100_000:
                self.codes.clear()

    @staticmethod
    def failed(store: Store, key: str, now: float) -> int:
        """Count a wrong try (pruning the pair's tries older than a day); return the wrong
        tries of the last day."""
        with store.batch() as b:
            b.conn.execute(delete(sign_in_failures).where(
                sign_in_failures.c.pair == key,
                sign_in_failures.c.failed_at_s <= now - FAIL_WINDOW_S))
            b.conn.execute(insert(sign_in_failures).values(pair=key, failed_at_s=now))
            return int(b.conn.execute(select(func.count()).select_from(sign_in_failures)
                                      .where(sign_in_failures.c.pair == key)).scalar() or 0)

    @staticmethod
    def locked_for(store: Store, key: str, limit: int, now: float) -> int:
        """Seconds to wait before the next try (0: none). From the ``limit``-th wrong try of
        the last day, across codes: 1 minute, then twice as long after each further wrong
        try, at most a day (NIST SP 800-63B §5.2.2 asks for a limit across codes)."""
        with store.read() as conn:
            n, last = conn.execute(select(func.count(), func.max(sign_in_failures.c.failed_at_s))
                                   .where(sign_in_failures.c.pair == key,
                                          sign_in_failures.c.failed_at_s > now - FAIL_WINDOW_S)
                                   ).one()
        if int(n or 0) < limit:
            return 0
        delay = min(FAIL_WINDOW_S, 60 * 2 ** (int(n) - limit))
        return max(0, math.ceil(float(last) + delay - now))

    @staticmethod
    def succeeded(store: Store, key: str) -> None:
        with store.batch() as b:
            b.conn.execute(delete(sign_in_failures).where(sign_in_failures.c.pair == key))


_BOOK = _PairBook()


def _locked_error(wait: int) -> RateLimited:
    return RateLimited(
        f"too many wrong codes: wait {wait // 60} min {wait % 60} s before the next try",
        details={"retry_after_seconds": max(1, wait)})


def _wrong(store: Store, pair: str, limit: int, now: dt.datetime, sid: int | None) -> NoReturn:
    """Count a wrong try; tell the person when it locks their sign-in.

    Raises:
        RateLimited: the try locked the pair (a growing delay, see ``_PairBook.locked_for``).
        AuthError: otherwise.
    """
    n = _BOOK.failed(store, pair, now.timestamp())
    if n < limit:
        raise AuthError(_WRONG)
    if n == limit and sid is not None:
        with store.batch() as b:
            enqueue(b, subject_id=sid, kind="sign_in_locked",
                    ref=f"locked:{sid}:{iso(now)}", title="Wrong sign-in codes",
                    text=f"{n} wrong sign-in codes were typed for your ID number and phone "
                         "today. Sign-in now waits longer after each wrong code. If this was "
                         "not you, nobody has your code; you need do nothing.",
                    now=now, within_hours=1)
    raise _locked_error(_BOOK.locked_for(store, pair, limit, now.timestamp()))


def admit_code_request(store: Store, policy: Policy, *, national_id: str, phone: str,
                       now: dt.datetime) -> None:
    """Count a code request against the per-pair limit (the normalised ID and phone). It
    reads nothing from the database, so it takes the same time and gives the same answer for
    a real pair and a made-up one; the lookup and the writes are :func:`issue_code`'s.

    Raises:
        RateLimited: ``CODES_PER_HOUR`` requests for this pair in the last hour.
    """
    _BOOK.ask(_BOOK.key(store, policy, national_id, phone), now.timestamp())


def request_code(store: Store, policy: Policy, *, national_id: str, phone: str,
                 now: dt.datetime) -> int | None:
    """:func:`admit_code_request` then :func:`issue_code`, in the caller's thread.

    Raises:
        RateLimited: more than 5 codes for this pair or subject within the hour.
    """
    try:
        admit_code_request(store, policy, national_id=national_id, phone=phone, now=now)
    except RateLimited:
        issue_code(store, policy, national_id=national_id, phone=phone, now=now, limited=True)
        raise
    return issue_code(store, policy, national_id=national_id, phone=phone, now=now)


def issue_code(store: Store, policy: Policy, *, national_id: str, phone: str,
               now: dt.datetime, limited: bool = False) -> int | None:
    """Send a code if ``phone`` is the trusted channel of the subject with ``national_id``;
    return the notice id (for the caller to deliver) or None. Whatever the pair, exactly one
    ledger event is written (``sign_in.code_issued`` or ``access.refused``), so the ledger
    grows alike for real and made-up people. ``limited``: the pair was over its limit; only
    the refusal is recorded.

    Raises:
        RateLimited: 5 codes for this subject within the hour (another pair's form).
    """
    sid = _subject_for(store, policy, national_id, phone, local_today(policy.jurisdiction, now))
    if limited:
        refuse(store, what="sign_in.request", reason="too many codes this hour",
               subject_id=sid)
        return None
    if sid is None:
        refuse(store, what="sign_in.request", reason="no subject holds this ID and phone")
        return None
    to = normalise_phone(phone, policy.identity.phone.default_region)
    rules = policy.due_process
    code = f"{secrets.randbelow(10**6):06d}"
    with store.batch() as b:
        # codes of the last hour, to the channel as it now is: a person who just proved a new
        # phone is not held to the codes sent to the old one (a newcomer found the new phone
        # silently refused after someone had spent the hour's codes on the old)
        since = iso(now - dt.timedelta(hours=1))
        moved = b.conn.execute(select(contact_channels.c.set_at).where(
            contact_channels.c.subject_id == sid)).scalar()
        if moved is not None and moved > since:
            since = moved
        recent = b.conn.execute(select(func.count()).select_from(sign_in_codes).where(
            sign_in_codes.c.subject_id == sid, sign_in_codes.c.created_at > since)).scalar()
        if int(recent or 0) >= CODES_PER_HOUR:
            b.emit("access.refused", {"what": "sign_in.request",
                                      "reason": "too many codes this hour"}, subject_id=sid)
            too_many = True
        else:
            too_many = False
            b.conn.execute(update(sign_in_codes).where(
                sign_in_codes.c.subject_id == sid, sign_in_codes.c.used_at.is_(None)).values(
                used_at=iso(now)))  # a new code replaces the old one
            cid = b.next_id(sign_in_codes)
            b.emit("sign_in.code_issued", {"code_id": cid}, subject_id=sid)
            b.add(sign_in_codes, {
                "id": cid, "subject_id": sid, "code_hash": code_digest(store, f"{cid}:{code}"),
                "created_at": iso(now),
                "expires_at": iso(now + dt.timedelta(minutes=rules.sign_in_code_minutes)),
                "attempts": 0, "used_at": None})
            notice = enqueue(  # to the phone typed, not whichever the file holds
                b, subject_id=sid, kind="sign_in_code", ref=f"code:{cid}", to=to,
                title="Your sign-in code",
                text=f"Your socialcredit sign-in code is {code}. It expires in "
                     f"{rules.sign_in_code_minutes} minutes. Nobody from the registry will "
                     "ask you for it.", now=now, within_hours=1)
    if too_many:
        raise RateLimited(f"at most {CODES_PER_HOUR} sign-in codes an hour; try again later",
                          details={"retry_after_seconds": 3600})
    return notice


def verify_code(store: Store, policy: Policy, *, national_id: str, phone: str, code: str,
                now: dt.datetime) -> Session:
    """Exchange a code for a session.

    Raises:
        AuthError: no live code for this ID and phone, a wrong, expired or used code.
        RateLimited: the code took ``sign_in_max_attempts`` wrong tries and is locked.
    """
    rules = policy.due_process
    pair = _BOOK.key(store, policy, national_id, phone)
    sid = _subject_for(store, policy, national_id, phone, local_today(policy.jurisdiction, now))
    wait = _BOOK.locked_for(store, pair, rules.sign_in_max_attempts, now.timestamp())
    if wait:
        refuse(store, what="sign_in.verify", reason="locked code", subject_id=sid)
        raise _locked_error(wait)
    if sid is None:
        refuse(store, what="sign_in.verify", reason="no subject holds this ID and phone")
        _wrong(store, pair, rules.sign_in_max_attempts, now, None)
    with store.batch() as b:
        row = b.conn.execute(select(sign_in_codes).where(
            sign_in_codes.c.subject_id == sid, sign_in_codes.c.used_at.is_(None))
            .order_by(sign_in_codes.c.id.desc())).first()
        problem: str | None = None
        if row is None:
            problem = "no live code (used, replaced or never sent)"
        elif row.expires_at <= iso(now):
            problem = "expired code"
        elif row.attempts >= rules.sign_in_max_attempts:
            problem = "locked code"
        elif not hmac.compare_digest(row.code_hash,
                                     code_digest(store, f"{row.id}:{code.strip()}")):
            problem = "wrong code"
            b.conn.execute(update(sign_in_codes).where(sign_in_codes.c.id == row.id).values(
                attempts=row.attempts + 1))
        if problem is not None:
            b.emit("access.refused", {"what": "sign_in.verify", "reason": problem},
                   subject_id=sid)
        else:
            assert row is not None
            b.conn.execute(update(sign_in_codes).where(sign_in_codes.c.id == row.id).values(
                used_at=iso(now)))
            token = secrets.token_urlsafe(32)
            csrf = _csrf_of(store, token)
            expires = iso(now + dt.timedelta(hours=rules.session_hours))
            b.conn.execute(insert(sessions).values(
                token_hash=_digest(token), subject_id=sid,
                csrf=store.seal(f"csrf-kept:{csrf}"), created_at=iso(now),
                expires_at=expires, ended_at=None))
            b.emit("subject.signed_in", {"expires_at": expires}, subject_id=sid)
    if problem is not None:
        _wrong(store, pair, rules.sign_in_max_attempts, now, sid)
    _BOOK.succeeded(store, pair)
    return Session(token, csrf, sid, expires)


def session_subject(store: Store, token: str, *, now: dt.datetime) -> tuple[int, str]:
    """``(subject_id, csrf)`` of a live session.

    Raises:
        AuthError: unknown, ended or expired session.
    """
    with store.read() as conn:
        row = conn.execute(select(sessions).where(
            sessions.c.token_hash == _digest(token))).first()
    if row is None or row.ended_at is not None or row.expires_at <= iso(now):
        raise AuthError("sign in first: your session is missing or has expired")
    return int(row.subject_id), _csrf_of(store, token)


def end_session(store: Store, token: str, *, now: dt.datetime) -> None:
    with store.batch() as b:
        b.conn.execute(update(sessions).where(sessions.c.token_hash == _digest(token)).values(
            ended_at=iso(now)))
