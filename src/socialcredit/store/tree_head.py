"""Signed tree heads (STH) and receipts: what the registry commits to, checkable by anyone with
its public key (issue #15; after RFC 9162 §4.10, with a JSON encoding of our own).

A head is ``{"tree_size", "root_hash", "timestamp", "key_id", "signature"}``: the Merkle root
(hex) of the first ``tree_size`` ledger events (:mod:`socialcredit.store.merkle`), the UTC time
it was signed (ISO 8601), ``key_id`` = hex SHA-256 of the registry's raw 32-byte Ed25519 public
key (which registry signed it), and the Ed25519 signature (RFC 8032, base64) over the UTF-8 bytes
of the canonical JSON (sorted keys, no spaces) of
``{"format": "socialcredit-sth/1", "key_id", "root_hash", "timestamp", "tree_size"}``.

A receipt proves one event is in the ledger: the event's fields (so its hash is recomputed, see
:func:`socialcredit.store.ledger.event_hash`), an inclusion proof to a head, and the head.
:func:`verify_receipt` needs only the receipt and the public key.

The signing key is the registry's Ed25519 key (the one that signs gate snapshots); the store
never loads it: callers pass it in.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, insert, select

from socialcredit.errors import InputError, NotFound
from socialcredit.store.ledger import canonical_json, event_hash
from socialcredit.store.merkle import (
    ProofInvalid,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from socialcredit.store.store import Store
from socialcredit.store.tables import events, ledger_head, tree_heads
from socialcredit.store.tree_store import (
    Prepared,
    extend_tree,
    node_source,
    prepare_nodes,
    tree_size,
)

__all__ = ["FORMAT", "RECEIPT_FORMAT", "check_consistency", "consistency", "entry_receipt",
           "head_at_least", "inclusion", "key_id", "latest_head", "load_public_key", "receipt",
           "sign_head", "sign_latest", "subject_receipts", "verify_head", "verify_receipt"]

FORMAT = "socialcredit-sth/1"
RECEIPT_FORMAT = "socialcredit-receipt/1"
_EVENT_FIELDS = ("seq", "at", "type", "subject_id", "policy_version", "payload", "prev_hash")


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """Hex SHA-256 of the raw public key: names the registry that signed a head."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM SubjectPublicKeyInfo. Raises InputError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise InputError(f"not a PEM public key: {e}") from e
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"the public key is {type(key).__name__}, not Ed25519")
    return key


def _signed_bytes(head: dict[str, Any]) -> bytes:
    body = {"format": FORMAT, **{k: head[k] for k in ("key_id", "root_hash", "timestamp",
                                                      "tree_size")}}
    return canonical_json(body).encode("utf-8")


def sign_head(conn: Connection, key: Ed25519PrivateKey, *, now: dt.datetime | None = None,
              prepared: Prepared | None = None) -> dict[str, Any]:
    """Extend the tree to the ledger's head (writing ``prepared`` nodes first where they
    still fit, :func:`~socialcredit.store.tree_store.extend_tree`), sign a head over it and
    keep it in ``tree_heads`` (inside the caller's transaction); return it. An empty ledger
    gets no head (NotFound)."""
    upto = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
    if upto == 0:
        raise NotFound("the ledger is empty: there is no tree to sign")
    size = extend_tree(conn, upto, prepared)
    last = latest_head(conn, missing_ok=True)
    if last is not None and last["tree_size"] == size:
        return last
    when = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    head: dict[str, Any] = {"tree_size": size,
                            "root_hash": root_hash(size, node_source(conn)).hex(),
                            "timestamp": when, "key_id": key_id(key)}
    head["signature"] = base64.b64encode(key.sign(_signed_bytes(head))).decode("ascii")
    conn.execute(insert(tree_heads).values(**head))
    return head


def sign_latest(store: Store, key: Ed25519PrivateKey, *, now: dt.datetime | None = None,
                ) -> dict[str, Any] | None:
    """:func:`sign_head` in its own write transaction (holding the ledger lock, so the tree
    is extended by one writer at a time); None on an empty ledger. The new events are read
    and hashed first, outside the lock (:func:`~socialcredit.store.tree_store.prepare_nodes`),
    so that an ingest waits for the nodes' write and the signature only.

    Raises:
        StoreUnavailable: the database cannot be reached.
    """
    with store.read() as conn:
        upto = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
        prepared = prepare_nodes(conn, upto) if upto else None
    with store.batch() as b:
        if b.seq == 0:
            return None
        return sign_head(b.conn, key, now=now, prepared=prepared)


def latest_head(conn: Connection, *, missing_ok: bool = False) -> dict[str, Any] | None:
    """The newest signed head. Raises NotFound when none was signed (unless ``missing_ok``)."""
    row = conn.execute(select(tree_heads).order_by(tree_heads.c.tree_size.desc()).limit(1)
                       ).first()
    if row is None:
        if missing_ok:
            return None
        raise NotFound("no tree head has been signed yet: run `socialcredit clocks run`")
    return dict(row._mapping)


def head_at_least(conn: Connection, size: int) -> dict[str, Any]:
    """The oldest signed head covering ``size`` events. Raises NotFound past the newest."""
    row = conn.execute(select(tree_heads).where(tree_heads.c.tree_size >= size)
                       .order_by(tree_heads.c.tree_size).limit(1)).first()
    if row is None:
        raise NotFound(f"no signed tree head covers event {size} yet; ask again after the "
                       "next head", details={"seq": size})
    return dict(row._mapping)


def verify_head(head: dict[str, Any], public_key: Ed25519PublicKey) -> None:
    """Raises :class:`ProofInvalid` unless ``head`` is signed by ``public_key`` (a head of
    another registry names another ``key_id``)."""
    try:
        expected = key_id(public_key)
        if head["key_id"] != expected:
            raise ProofInvalid(
                f"the tree head was signed by another registry (key {head['key_id'][:16]}…, "
                f"this key is {expected[:16]}…)")
        public_key.verify(base64.b64decode(head["signature"], validate=True),
                          _signed_bytes(head))
    except (KeyError, TypeError, ValueError) as e:
        raise ProofInvalid(f"the tree head is malformed: {e}") from e
    except InvalidSignature:
        raise ProofInvalid("the tree head's signature does not verify (forged or altered)"
                           ) from None


def _seq_in(conn: Connection, seq: int, size: int) -> None:
    if seq < 1 or seq > size:
        raise InputError(f"event {seq} is not in a tree of {size} events",
                         details={"seq": seq, "size": size})


def receipt(conn: Connection, seq: int, *, size: int | None = None) -> dict[str, Any]:
    """A receipt for event ``seq``: the event, an inclusion proof and the signed head it leads
    to (the head of ``size`` events, or the oldest head covering ``seq``).

    Raises:
        InputError: ``seq`` < 1 or past the head. NotFound: no signed head covers it.
    """
    head = latest_head(conn) if size is None else _head_of(conn, size)
    assert head is not None
    if size is None and seq <= head["tree_size"]:
        head = head_at_least(conn, seq)
    _seq_in(conn, seq, head["tree_size"])
    ev = conn.execute(select(events).where(events.c.seq == seq)).one()
    path = inclusion_proof(seq - 1, head["tree_size"], node_source(conn))
    return {"format": RECEIPT_FORMAT,
            "event": {k: getattr(ev, k) for k in _EVENT_FIELDS},
            "event_hash": ev.hash, "leaf_index": seq - 1,
            "inclusion_path": [p.hex() for p in path], "head": head}


def subject_receipts(conn: Connection, subject_id: int, *, limit: int = 500,
                     ) -> dict[str, Any]:
    """Receipts for the newest ``limit`` events about ``subject_id`` that the latest signed
    head covers, all against that head: ``{"head", "receipts": [...], "pending": n}``, where
    ``pending`` counts newer events not yet covered by a head (they get receipts after the
    next one). Raises NotFound when no head was signed yet."""
    head = latest_head(conn)
    assert head is not None
    size = int(head["tree_size"])
    rows = conn.execute(select(events).where(events.c.subject_id == subject_id)
                        .order_by(events.c.seq.desc()).limit(limit)).all()
    source = node_source(conn)
    out = []
    for ev in rows:
        if ev.seq > size:
            continue
        path = inclusion_proof(ev.seq - 1, size, source)
        out.append({"format": RECEIPT_FORMAT,
                    "event": {k: getattr(ev, k) for k in _EVENT_FIELDS},
                    "event_hash": ev.hash, "leaf_index": ev.seq - 1,
                    "inclusion_path": [p.hex() for p in path], "head": head})
    return {"head": head, "receipts": out[::-1],
            "pending": sum(1 for ev in rows if ev.seq > size)}


def entry_receipt(conn: Connection, entry_ids: list[int]) -> dict[str, Any]:
    """What a refusal commits to: for each list entry it rests on, the ``seq`` of the ledger
    event that gave the entry its current state, and the oldest signed head covering them all
    (None while the next head is not signed yet: the person's receipts, with the inclusion
    proofs, come from ``GET /v1/me/receipts``). Shape: ``{"entries": [{"entry_id", "seq"}],
    "tree_size", "head"}``."""
    from socialcredit.store.tables import list_entries

    rows = conn.execute(select(list_entries.c.id, list_entries.c.seq).where(
        list_entries.c.id.in_(sorted(set(entry_ids)))).order_by(list_entries.c.id)).all()
    entries = [{"entry_id": int(r.id), "seq": int(r.seq)} for r in rows]
    top = max((e["seq"] for e in entries), default=0)
    row = conn.execute(select(tree_heads).where(tree_heads.c.tree_size >= top)
                       .order_by(tree_heads.c.tree_size).limit(1)).first() if top else None
    head = None if row is None else dict(row._mapping)
    return {"entries": entries, "tree_size": None if head is None else head["tree_size"],
            "head": head}


def inclusion(conn: Connection, seq: int, size: int) -> dict[str, Any]:
    """A public inclusion proof of event ``seq`` in the tree of ``size`` events: the event's
    hash (never its content), the path, and the head signed at ``size`` if there is one.

    Raises:
        InputError: ``size`` < 1 or past the signed tree; ``seq`` outside ``[1, size]``.
    """
    if size < 1:
        raise InputError("size must be at least 1 (a tree of that many events)",
                         details={"size": size})
    stored = tree_size(conn)
    if size > stored:
        raise InputError(f"size {size} is past the signed tree ({stored} events)",
                         details={"size": size, "tree_size": stored})
    _seq_in(conn, seq, size)
    event_hash_hex = conn.execute(select(events.c.hash).where(events.c.seq == seq)).scalar_one()
    path = inclusion_proof(seq - 1, size, node_source(conn))
    head = conn.execute(select(tree_heads).where(tree_heads.c.tree_size == size)).first()
    return {"seq": seq, "size": size, "leaf_index": seq - 1, "event_hash": event_hash_hex,
            "inclusion_path": [p.hex() for p in path],
            "head": None if head is None else dict(head._mapping)}


def _head_of(conn: Connection, size: int) -> dict[str, Any]:
    if size < 1:
        raise InputError("size must be at least 1 (a tree of that many events)",
                         details={"size": size})
    row = conn.execute(select(tree_heads).where(tree_heads.c.tree_size == size)).first()
    if row is None:
        if size > tree_size(conn):
            raise InputError(f"size {size} is past the signed tree", details={"size": size})
        raise NotFound(f"no head was signed at size {size}", details={"size": size})
    return dict(row._mapping)


def consistency(conn: Connection, first: int, second: int) -> dict[str, Any]:
    """A consistency proof between the trees of ``first`` and ``second`` events:
    ``{"first", "second", "first_root", "second_root", "proof": [hex], "head"}`` (``head``:
    the head signed at ``second``, or None).

    Raises:
        InputError: ``first`` < 1, ``first`` > ``second``, or ``second`` past the signed tree.
    """
    if not 1 <= first <= second:
        raise InputError(f"first must be from 1 to second ({second})",
                         details={"first": first, "second": second})
    stored = tree_size(conn)
    if second > stored:
        raise InputError(f"second ({second}) is past the signed tree ({stored} events)",
                         details={"second": second, "tree_size": stored})
    source = node_source(conn)
    head = conn.execute(select(tree_heads).where(tree_heads.c.tree_size == second)).first()
    return {"first": first, "second": second,
            "first_root": root_hash(first, source).hex(),
            "second_root": root_hash(second, source).hex(),
            "proof": [p.hex() for p in consistency_proof(first, second, source)],
            "head": None if head is None else dict(head._mapping)}


def verify_receipt(r: dict[str, Any], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """Check a receipt offline: the head's signature and registry, the event's hash from its
    fields, and the inclusion proof to the head's root. Returns the event.

    Raises:
        ProofInvalid: any check fails (the message says which).
    """
    try:
        if r.get("format") != RECEIPT_FORMAT:
            raise ProofInvalid(f"not a receipt (format {r.get('format')!r})")
        head, ev = r["head"], r["event"]
        verify_head(head, public_key)
        digest = event_hash(ev["prev_hash"], ev["seq"], ev["at"], ev["type"], ev["subject_id"],
                            ev["policy_version"], ev["payload"])
        if digest != r["event_hash"]:
            raise ProofInvalid("the event's fields do not hash to the receipt's event hash "
                               "(the event was altered)")
        if r["leaf_index"] != ev["seq"] - 1:
            raise ProofInvalid("the receipt's leaf is not its event's")
        verify_inclusion(leaf_hash(digest), r["leaf_index"], head["tree_size"],
                         [bytes.fromhex(p) for p in r["inclusion_path"]],
                         bytes.fromhex(head["root_hash"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ProofInvalid(f"the receipt is malformed: {e!r}") from e
    return dict(ev)


def check_consistency(older: dict[str, Any], newer: dict[str, Any], proof: list[str]) -> None:
    """Raises :class:`ProofInvalid` unless ``newer`` extends ``older`` (both heads verified
    by the caller)."""
    verify_consistency(older["tree_size"], newer["tree_size"],
                       bytes.fromhex(older["root_hash"]), bytes.fromhex(newer["root_hash"]),
                       [bytes.fromhex(p) for p in proof])
