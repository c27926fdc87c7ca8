"""A gate refuses to follow a ledger that went back without a restore event (issue #15).

A gate index follows the ledger by ``seq`` and remembers the hash of the last event it applied.
When the ledger's head is now below that event, or that event's hash changed, the ledger it
followed is gone: rolled back, rewritten, or replaced by a restored backup. Only the last is
legitimate, and :func:`socialcredit.store.backup.restore` says so in the ledger itself: it
appends a ``ledger.restored`` event. :func:`check_went_back` lets the gate rebuild from the
new ledger only when such an event appeared since the gate last built; otherwise it raises
:class:`~socialcredit.store.monitor.LedgerForked`, and the gate keeps answering from what it
holds (the follower logs the refusal and retries) until an operator looks.

The gate also follows the registry's signed tree heads (:class:`HeadFollower`): a newer head in
the store must be signed by the registry's key and extend, by a consistency proof, the head the
gate followed before. A ledger rolled back and signed again, or a head forged in the database,
is refused the same way, unless a ``ledger.restored`` event explains it.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, select

from socialcredit.errors import InputError, NotFound
from socialcredit.store.merkle import ProofInvalid
from socialcredit.store.monitor import LedgerForked
from socialcredit.store.tables import events
from socialcredit.store.tree_head import (
    check_consistency,
    consistency,
    latest_head,
    load_public_key,
    verify_head,
)

__all__ = ["RESTORED", "HeadFollower", "check_went_back", "head_key_path", "latest_restore"]

log = logging.getLogger(__name__)

#: The event :func:`socialcredit.store.backup.restore` appends to a restored ledger.
RESTORED = "ledger.restored"


def latest_restore(conn: Connection) -> tuple[int, str, str] | None:
    """``(seq, hash, at)`` of the newest ``ledger.restored`` event, or None."""
    row = conn.execute(select(events.c.seq, events.c.hash, events.c.at).where(
        events.c.type == RESTORED).order_by(events.c.seq.desc()).limit(1)).first()
    return None if row is None else (int(row.seq), str(row.hash), str(row.at))


def check_went_back(conn: Connection, *, last_seq: int, last_hash: str | None,
                    last_at: str | None, head: int,
                    known_restore: tuple[int, str, str] | None) -> tuple[int, str, str]:
    """The ledger no longer holds event ``last_seq`` with ``last_hash`` (written at
    ``last_at``; its head is now ``head``): return the restore event that explains it, one
    written after the event the gate followed (an older restore left in a ledger cut back to
    it explains nothing).

    Raises:
        LedgerForked: no such ``ledger.restored`` event (other than ``known_restore``, the
            newest one when the gate last built): the ledger went back or was rewritten behind
            the registry's back. ``details``: ``{followed_seq, followed_hash, head, reason}``.
    """
    restore = latest_restore(conn)
    if restore is None or restore == known_restore or (
            last_at is not None and restore[2] <= last_at):
        raise LedgerForked(
            f"the ledger went back without a restore event: this gate followed it to event "
            f"{last_seq}, it now ends at {head} or holds another event there; the gate keeps "
            "answering from what it holds",
            details={"followed_seq": last_seq, "followed_hash": last_hash, "head": head,
                     "reason": "went back without a restore event"})
    return restore


def head_key_path(keys_dir: Path) -> Path:
    """Where the registry keeps the public key that signs its tree heads."""
    return keys_dir / "registry-ed25519.pub.pem"


class HeadFollower:
    """The signed tree head a gate follows, checked as ``audit monitor`` checks a registry's
    (issue #15): each newer head in the store must carry the registry's signature and extend
    the last one followed (RFC 9162 §2.1.4 consistency proof, from the stored tree).

    ``key_path``: the registry's public key (PEM); while it does not exist (no clock has
    signed a head yet) nothing is checked. ``head``: the last head followed (None before the
    first)."""

    def __init__(self, key_path: Path | None) -> None:
        self.key_path = key_path
        self.head: dict[str, Any] | None = None
        self._key: Ed25519PublicKey | None = None

    def _public_key(self) -> Ed25519PublicKey | None:
        if self._key is None and self.key_path is not None and self.key_path.exists():
            self._key = load_public_key(self.key_path.read_bytes())
        return self._key

    def reset(self, conn: Connection) -> None:
        """Follow from the newest head (a gate built from the ledger anew); one that does not
        verify is logged here and refused by every :meth:`check` after."""
        self.head = None
        try:
            self.check(conn, known_restore=None)
        except LedgerForked as e:
            log.error("%s", e)

    def check(self, conn: Connection, *, known_restore: tuple[int, str, str] | None,
              ) -> dict[str, Any] | None:
        """Check the newest head against the last one followed; return the head followed.

        Raises:
            LedgerForked: the newest head is not signed by the registry's key, or it does not
                extend the last one followed and no ``ledger.restored`` event (other than
                ``known_restore``) came after that one. ``details``: ``{older, newer,
                reason}``.
        """
        key = self._public_key()
        if key is None:
            return None
        head = latest_head(conn, missing_ok=True)
        older = self.head
        if head is None or (older is not None and head["tree_size"] == older["tree_size"]
                            and head["root_hash"] == older["root_hash"]):
            return older
        try:
            verify_head(head, key)
            if older is not None:
                if head["tree_size"] < older["tree_size"]:
                    raise ProofInvalid(f"the newest head covers {head['tree_size']} events, "
                                       f"the one followed {older['tree_size']}")
                proof = consistency(conn, older["tree_size"], head["tree_size"])["proof"]
                check_consistency(older, head, proof)
        except (ProofInvalid, InputError, NotFound) as e:
            restore = latest_restore(conn)
            if (older is None or restore is None or restore == known_restore
                    or _instant(restore[2]) <= _instant(older["timestamp"])):
                raise LedgerForked(
                    f"the gate refuses the registry's newest tree head: {e}; it keeps "
                    "answering from what it holds",
                    details={"older": older, "newer": head, "reason": str(e)}) from e
        self.head = head
        return head


def _instant(text: str) -> dt.datetime:
    """An ISO 8601 UTC timestamp (an event's ``at`` or a head's ``timestamp``) as an instant."""
    return dt.datetime.fromisoformat(text)
