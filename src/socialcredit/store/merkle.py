"""The Merkle tree over the ledger: RFC 9162 (Certificate Transparency v2) §2.1, with SHA-256.

Leaf ``i`` (0-based) is ledger event ``seq = i + 1``; its hash is ``H(0x00 || event hash)``
where the event hash is the 32 bytes of the event's hex ``hash`` column. An interior node is
``H(0x01 || left || right)``. The tree of ``n`` leaves splits at ``k``, the largest power of two
below ``n`` (RFC 9162 §2.1.1), so every tree's left part is a *perfect* subtree: a run of
``2**level`` leaves starting at a multiple of ``2**level``, named ``(level, index)``.

Proofs are computed from the hashes of perfect subtrees only (:class:`NodeSource`), fetched in
one batch per proof: an inclusion or consistency proof needs O(log n) of them, however large
the tree (the storage of :mod:`socialcredit.store.tree_store` keeps every one).

* :func:`inclusion_proof` / :func:`verify_inclusion`: RFC 9162 §2.1.3.1 / §2.1.3.2.
* :func:`consistency_proof` / :func:`verify_consistency`: RFC 9162 §2.1.4.1 / §2.1.4.2.

Verification raises :class:`ProofInvalid` with the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence

from socialcredit.errors import InputError

__all__ = ["ProofInvalid", "consistency_proof", "inclusion_proof", "leaf_hash", "node_hash",
           "perfect_parts", "root_hash", "root_of_leaves", "verify_consistency",
           "verify_inclusion"]

#: (level, index) → hash of that perfect subtree, for a set of requested nodes.
NodeSource = Callable[[Iterable[tuple[int, int]]], Mapping[tuple[int, int], bytes]]


class ProofInvalid(InputError):
    """A proof, receipt or tree head does not verify; ``str(error)`` says why."""

    status_code = 422
    code = "proof_invalid"


def leaf_hash(event_hash: str | bytes) -> bytes:
    """``H(0x00 || event hash)``; ``event_hash`` as 64 hex characters or 32 bytes."""
    raw = bytes.fromhex(event_hash) if isinstance(event_hash, str) else event_hash
    return hashlib.sha256(b"\x00" + raw).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``H(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_parts(lo: int, hi: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``(level, index)`` whose hashes make ``MTH(D[lo:hi])``, for a range
    that is a node of some tree (``lo`` a multiple of the power of two above ``hi - lo``),
    left to right."""
    out: list[tuple[int, int]] = []
    while hi > lo:
        size = 1 << ((hi - lo).bit_length() - 1)  # largest power of two ≤ hi - lo
        out.append(((size.bit_length() - 1), lo // size))
        lo += size
    return out


def _range_hash(lo: int, hi: int, nodes: Mapping[tuple[int, int], bytes]) -> bytes:
    parts = [nodes[p] for p in perfect_parts(lo, hi)]
    acc = parts[-1]
    for h in reversed(parts[:-1]):  # RFC 9162 splits left-heavy: fold from the right
        acc = node_hash(h, acc)
    return acc


def root_of_leaves(leaves: Sequence[bytes]) -> bytes:
    """``MTH`` of leaf hashes (in memory; the empty tree is ``H()``)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    level = list(leaves)
    nodes: dict[tuple[int, int], bytes] = {(0, i): h for i, h in enumerate(level)}
    lvl = 0
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        lvl += 1
        nodes.update({(lvl, i): h for i, h in enumerate(level)})
    return _range_hash(0, len(leaves), nodes)


def root_hash(size: int, source: NodeSource) -> bytes:
    """``MTH`` of the first ``size`` leaves from stored perfect subtrees."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    return _range_hash(0, size, source(perfect_parts(0, size)))


def _check(size: int, what: str) -> None:
    if size <= 0:
        raise InputError(f"{what} must be at least 1 (a tree of that many events)",
                         details={what: size})


def _inclusion_ranges(m: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """The sibling ranges of ``PATH(m, D[lo:hi])``, leaf to root (RFC 9162 §2.1.3.1)."""
    out: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if m - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    return out[::-1]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based) in the tree of ``size`` leaves.

    Raises:
        InputError: ``size`` < 1, or ``index`` outside ``[0, size)``.
    """
    _check(size, "size")
    if not 0 <= index < size:
        raise InputError(f"event {index + 1} is not in a tree of {size} events",
                         details={"seq": index + 1, "size": size})
    ranges = _inclusion_ranges(index, 0, size)
    nodes = source({p for r in ranges for p in perfect_parts(*r)})
    return [_range_hash(lo, hi, nodes) for lo, hi in ranges]


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The ranges of ``PROOF(m, D[n])`` in proof order (RFC 9162 §2.1.4.1)."""
    out: list[tuple[int, int]] = []
    lo, hi, complete = 0, n, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            m -= k
            lo += k
            complete = False
    if not complete:
        out.append((lo, hi))
    return out[::-1]


def consistency_proof(first: int, second: int, source: NodeSource) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of the tree of ``second``.

    Raises:
        InputError: ``first`` < 1 or ``first`` > ``second``.
    """
    _check(first, "first")
    if first > second:
        raise InputError(f"first ({first}) is past second ({second})",
                         details={"first": first, "second": second})
    if first == second:
        return []
    ranges = _consistency_ranges(first, second)
    nodes = source({p for r in ranges for p in perfect_parts(*r)})
    return [_range_hash(lo, hi, nodes) for lo, hi in ranges]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes],
                     root: bytes) -> None:
    """RFC 9162 §2.1.3.2. Raises :class:`ProofInvalid` unless ``path`` proves that ``leaf`` is
    leaf ``index`` of the tree of ``size`` leaves with ``root``."""
    if not 0 <= index < size:
        raise ProofInvalid(f"leaf {index} is outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofInvalid("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofInvalid("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofInvalid("the inclusion proof does not lead to the tree head's root")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2. Raises :class:`ProofInvalid` unless ``path`` proves that the tree of
    ``first`` leaves (``first_root``) is a prefix of the tree of ``second`` (``second_root``)."""
    if not 0 < first <= second:
        raise ProofInvalid(f"no consistency between sizes {first} and {second}")
    if first == second:
        if path:
            raise ProofInvalid("a proof between equal sizes must be empty")
        if first_root != second_root:
            raise ProofInvalid("two heads of the same size have different roots (a fork)")
        return
    if not path:
        raise ProofInvalid("the consistency proof is empty")
    proof = list(path)
    if first & (first - 1) == 0:  # a power of two: the first root starts the proof
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofInvalid("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofInvalid("the consistency proof is shorter than the tree is deep")
    if fr != first_root:
        raise ProofInvalid("the consistency proof does not lead to the first head's root "
                           "(the ledger was rewritten)")
    if sr != second_root:
        raise ProofInvalid("the consistency proof does not lead to the second head's root")
