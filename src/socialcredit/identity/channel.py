"""The trusted contact channel: the one phone a subject's codes and notices go to.

Furnisher data never changes it (issue #20, finding 1). The projection ``contact_channels``
(one row per subject) is written only together with these ledger events:

* ``contact.channel_set`` ``{subject_id, phone, source, ...}`` — the first phone of a subject
  that has none, from furnisher data only in two cases (:data:`FIRST_SOURCES`):
  ``authoritative`` (a furnisher of a kind the policy names in
  ``identity.phone.authoritative_furnisher_kinds`` reported it, ``carrier`` in the default
  policy; ``by`` names it) or ``corroborated`` (only where a policy enables
  ``identity.phone.channel_corroborating_furnishers``, off by default: that many distinct
  furnishers reported that phone with the subject's verified national ID; ``furnishers``
  lists their ids). Ordinary furnishers never give a person a channel by default (issue #20:
  the first furnisher to report a person used to plant its phone, then any two furnisher keys
  agreeing could). Events written before those rules carry ``source: "first_sight"`` or
  ``"corroborated"``. An operator's merge gives the survivor the
  absorbed subject's channel when only that one had one (``source: "merge"``,
  ``merged_from``); a merge of two subjects with different channels is refused
  (:func:`socialcredit.identity.review.merge_subjects`);
* ``contact.channel_changed`` ``{subject_id, from, to, how, by, evidence}`` — ``how`` is one of
  :data:`HOWS`: ``subject_proof`` (the person, signed in through the old channel, typed a code
  sent to the new phone), ``operator`` (an operator confirmed it after an identity check,
  ``evidence`` says which) or ``authoritative`` (a furnisher of a kind the policy names in
  ``identity.phone.authoritative_furnisher_kinds``, e.g. a carrier's real-name registration,
  reported it). The notices stage sends a notice of every change to the *old* channel, and
  the change ends every session of the person and voids their unused codes (:func:`end_access`);
* ``contact.channel_flagged`` ``{subject_id, phone, reason, ...}`` — furnisher rows suggest the
  number changed hands (the linker inferred a recycling): an operator must look; nothing moves.

Linkage still follows phone intervals (``identity/link.py``); only where codes and notices go
is fixed here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from socialcredit.errors import InputError
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import contact_channels, contact_codes, sessions, sign_in_codes

__all__ = ["FIRST_SOURCES", "HOWS", "change_channel", "channel_of", "channels_of", "end_access",
           "flag_channel", "flagged_channels", "set_first_channel"]

#: The only ways a channel changes.
HOWS = ("subject_proof", "operator", "authoritative")

#: The only furnisher-data sources of a first channel (an operator's goes through
#: :func:`change_channel`).
FIRST_SOURCES = ("authoritative", "corroborated", "merge")


def channel_of(conn: Any, subject_id: int) -> str | None:
    """The subject's trusted phone (E.164) or None."""
    return conn.execute(select(contact_channels.c.phone).where(
        contact_channels.c.subject_id == subject_id)).scalar()


def channels_of(conn: Any, subject_ids: set[int]) -> dict[int, str]:
    """``{subject_id: trusted phone}`` for those that have one."""
    out: dict[int, str] = {}
    ids = sorted(subject_ids)
    for i in range(0, len(ids), 500):
        for row in conn.execute(select(contact_channels.c.subject_id, contact_channels.c.phone)
                                .where(contact_channels.c.subject_id.in_(ids[i:i + 500]))):
            out[int(row.subject_id)] = str(row.phone)
    return out


def set_first_channel(batch: Batch, subject_id: int, phone: str, *, source: str,
                      **details: Any) -> None:
    """Trust ``phone`` as the channel of a subject that has none yet (the caller knows it has
    none: this inserts). Emits ``contact.channel_set`` ``{subject_id, phone, source,
    **details}``.

    Raises:
        InputError: ``source`` is not one of :data:`FIRST_SOURCES`.
    """
    if source not in FIRST_SOURCES:
        raise InputError(f"a first channel comes only from {', '.join(FIRST_SOURCES)}, "
                         f"not {source!r}")
    seq = batch.emit("contact.channel_set", {"subject_id": subject_id, "phone": phone,
                                             "source": source, **details},
                     subject_id=subject_id)
    batch.add(contact_channels, {"subject_id": subject_id, "phone": phone,
                                 "source": source, "set_seq": seq, "set_at": batch.at,
                                 "flagged_reason": None, "flagged_at": None})


def change_channel(batch: Batch, *, subject_id: int, phone: str, how: str, by: str,
                   evidence: str | None = None) -> bool:
    """Move the subject's channel to ``phone``; False if it already is (a pending flag is
    cleared either way when an operator confirms). Emits ``contact.channel_changed`` (whose
    notice goes to the old channel).

    Raises:
        InputError: ``how`` is not one of :data:`HOWS`, or an operator gave no evidence.
    """
    if how not in HOWS:
        raise InputError(f"a channel changes only by {', '.join(HOWS)}, not {how!r}")
    if how == "operator" and not (evidence or "").strip():
        raise InputError("say which identity check the operator made (evidence)")
    batch.flush()
    conn = batch.conn
    old = channel_of(conn, subject_id)
    if old == phone:
        if how == "operator":
            batch.emit("contact.channel_confirmed", {"subject_id": subject_id, "phone": phone,
                                                     "by": by, "evidence": evidence},
                       subject_id=subject_id)
            conn.execute(update(contact_channels).where(
                contact_channels.c.subject_id == subject_id).values(
                flagged_reason=None, flagged_at=None))
        return False
    seq = batch.emit("contact.channel_changed", {
        "subject_id": subject_id, "from": old, "to": phone, "how": how, "by": by,
        "evidence": evidence}, subject_id=subject_id)
    values = {"phone": phone, "source": how, "set_seq": seq, "set_at": batch.at,
              "flagged_reason": None, "flagged_at": None}
    if old is None:
        conn.execute(insert(contact_channels).values(subject_id=subject_id, **values))
    else:
        conn.execute(update(contact_channels).where(
            contact_channels.c.subject_id == subject_id).values(**values))
    end_access(batch, subject_id)
    return True


def end_access(batch: Batch, subject_id: int) -> None:
    """End every live session of the subject and void every unused sign-in and channel code
    (OWASP ASVS 4.0 §3.3.3 and §2.5: a change of the factor a session rests on ends the
    sessions it opened). Whoever held the old channel — the person, or someone who had taken
    it over — signs in again through the new one."""
    conn = batch.conn
    conn.execute(update(sessions).where(sessions.c.subject_id == subject_id,
                                        sessions.c.ended_at.is_(None)).values(ended_at=batch.at))
    for codes in (sign_in_codes, contact_codes):
        conn.execute(update(codes).where(codes.c.subject_id == subject_id,
                                         codes.c.used_at.is_(None)).values(used_at=batch.at))


def flag_channel(batch: Batch, *, subject_id: int, phone: str, reason: str,
                 **details: Any) -> None:
    """Mark the subject's channel ``phone`` for operator review (nothing moves). Emits
    ``contact.channel_flagged`` once per open flag."""
    batch.flush()
    conn = batch.conn
    row = conn.execute(select(contact_channels).where(
        contact_channels.c.subject_id == subject_id)).first()
    if row is None or row.phone != phone or row.flagged_reason is not None:
        return
    batch.emit("contact.channel_flagged", {"subject_id": subject_id, "phone": phone,
                                           "reason": reason, **details},
               subject_id=subject_id)
    conn.execute(update(contact_channels).where(
        contact_channels.c.subject_id == subject_id).values(
        flagged_reason=reason[:200], flagged_at=batch.at))


def flagged_channels(conn: Any, limit: int = 500) -> list[dict[str, Any]]:
    """Channels awaiting an operator: ``[{subject_id, phone, reason, flagged_at}]``."""
    return [{"subject_id": int(r.subject_id), "phone": r.phone, "reason": r.flagged_reason,
             "flagged_at": r.flagged_at}
            for r in conn.execute(select(contact_channels).where(
                contact_channels.c.flagged_reason.is_not(None))
                .order_by(contact_channels.c.flagged_at).limit(limit))]
