"""Signed offline gate snapshots: real files in tmp_path, real Ed25519 keys, real HMACs.

Expected results come from the items the test writes (or a naive model of them), never from
the code under test; the HMAC is checked against RFC 4231 vectors and :func:`hmac.digest`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import random
import stat
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import make_id
from socialcredit.gate.snapshot import (
    MAGIC,
    SnapshotError,
    SnapshotHit,
    SnapshotItem,
    SnapshotReader,
    keyed_digest,
    load_signing_key,
    new_gate_key,
    new_signing_key,
    public_key_pem,
    save_signing_key,
    verify_snapshot,
    write_snapshot,
)

CREATED = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
ON = dt.date(2026, 6, 30)
AIRLINE = ("air", "rail_hsr")

NID = make_id("110105", "19491231", 2)
PHONE = "+8613812345678"
DOC = "E12345678"
UNLISTED = make_id("310101", "19900101", 17)


@pytest.fixture(scope="module")
def signing_key() -> Ed25519PrivateKey:
    return new_signing_key()


@pytest.fixture(scope="module")
def gate_key() -> bytes:
    return new_gate_key()


def write(path: Path, items: Sequence[SnapshotItem], signing_key: Ed25519PrivateKey,
          gate_key: bytes, *, gate: str = "airline",
          services: Sequence[str] = AIRLINE) -> Path:
    write_snapshot(path, items, gate=gate, gate_key=gate_key, signing_key=signing_key,
                   services=services, ledger_seq=4711, created_at=CREATED,
                   policy_version="sha256:policy")
    return path


def sample_items() -> list[SnapshotItem]:
    return [
        SnapshotItem(f"national_id:{NID}", ("air", "rail_hsr", "hotel_star"), "2027-01-01",
                     (11,)),
        SnapshotItem(f"phone:{PHONE}", ("air",), None, (12, 13)),
        SnapshotItem(f"document:{DOC}", ("rail_hsr",), "2026-12-31", (14,)),
        SnapshotItem(f"national_id:{make_id(seq=5)}", ("hotel_star", "credit"), None, (15,)),
    ]


@pytest.fixture()
def snapshot(tmp_path: Path, signing_key: Ed25519PrivateKey, gate_key: bytes) -> Path:
    return write(tmp_path / "airline.snap", sample_items(), signing_key, gate_key)


def reader(path: Path, signing_key: Ed25519PrivateKey, gate_key: bytes) -> SnapshotReader:
    return SnapshotReader(path, gate_key=gate_key, public_key=signing_key.public_key())


# --- round trip -----------------------------------------------------------------------------


def test_round_trip_listed_unlisted_service_and_until(
        snapshot: Path, signing_key: Ed25519PrivateKey, gate_key: bytes) -> None:
    r = reader(snapshot, signing_key, gate_key)
    nid, phone, doc = f"national_id:{NID}", f"phone:{PHONE}", f"document:{DOC}"

    assert r.check(nid, "air", on=ON) == SnapshotHit(("air", "rail_hsr"), "2027-01-01", (11,))
    assert r.check(nid, "rail_hsr", on=ON) == SnapshotHit(("air", "rail_hsr"), "2027-01-01",
                                                          (11,))
    # until is exclusive: the last restricted day is the day before
    assert r.check(nid, "air", on=dt.date(2026, 12, 31)) is not None
    assert r.check(nid, "air", on=dt.date(2027, 1, 1)) is None
    # open-ended
    assert r.check(phone, "air", on=dt.date(2099, 1, 1)) == SnapshotHit(("air",), None,
                                                                         (12, 13))
    # service not in the item
    assert r.check(phone, "rail_hsr", on=ON) is None
    assert r.check(doc, "air", on=ON) is None
    assert r.check(doc, "rail_hsr", on=ON) == SnapshotHit(("rail_hsr",), "2026-12-31", (14,))
    # unlisted; same value under another kind is another identifier
    assert r.check(f"national_id:{UNLISTED}", "air", on=ON) is None
    assert r.check(f"document:{NID}", "air", on=ON) is None

    keys = [nid, phone, doc, f"national_id:{UNLISTED}", nid]
    for service in AIRLINE:
        for on in (ON, dt.date(2027, 1, 1)):
            assert r.check_many(keys, service, on=on) == [r.check(k, service, on=on)
                                                          for k in keys]


def test_info_is_the_signed_header(snapshot: Path, signing_key: Ed25519PrivateKey,
                                   gate_key: bytes) -> None:
    info = verify_snapshot(snapshot, signing_key.public_key())
    assert (info.gate, info.services, info.ledger_seq, info.created_at,
            info.policy_version) == ("airline", AIRLINE, 4711, CREATED, "sha256:policy")
    assert info.count == 3  # the hotel/credit-only item is not exported
    assert info.entry_count == 4
    data = snapshot.read_bytes()
    assert info.size == len(data)
    assert info.digest == hashlib.sha256(data).hexdigest()
    assert reader(snapshot, signing_key, gate_key).info == info
    # verify accepts the PEM the registry publishes
    assert verify_snapshot(snapshot, public_key_pem(signing_key)) == info


def test_same_identifier_under_several_restrictions(
        tmp_path: Path, signing_key: Ed25519PrivateKey, gate_key: bytes) -> None:
    key = f"national_id:{NID}"
    items = [SnapshotItem(key, ("air",), "2027-01-01", (1,)),
             SnapshotItem(key, ("air", "rail_hsr"), "2026-09-01", (2,)),
             SnapshotItem(f"phone:{PHONE}", ("air",), "2026-09-01", (3,)),
             SnapshotItem(f"phone:{PHONE}", ("rail_hsr",), None, (4,))]
    r = reader(write(tmp_path / "s", items, signing_key, gate_key), signing_key, gate_key)

    assert r.check(key, "air", on=dt.date(2026, 7, 1)) == SnapshotHit(
        ("air", "rail_hsr"), "2027-01-01", (1, 2))
    assert r.check(key, "air", on=dt.date(2026, 10, 1)) == SnapshotHit(
        ("air",), "2027-01-01", (1,))
    assert r.check(key, "rail_hsr", on=dt.date(2026, 10, 1)) is None
    # only records covering the service asked for count
    assert r.check(f"phone:{PHONE}", "air", on=ON) == SnapshotHit(("air",), "2026-09-01", (3,))
    assert r.check(f"phone:{PHONE}", "rail_hsr", on=ON) == SnapshotHit(("rail_hsr",), None,
                                                                        (4,))


def test_only_the_gates_services_are_exported(
        tmp_path: Path, signing_key: Ed25519PrivateKey, gate_key: bytes) -> None:
    hotel_only = f"national_id:{make_id(seq=7)}"
    mixed = f"national_id:{make_id(seq=9)}"
    items = [SnapshotItem(hotel_only, ("hotel_star",), None, (1,)),
             SnapshotItem(mixed, ("hotel_star", "air", "credit"), None, (2,))]
    path = write(tmp_path / "s", items, signing_key, gate_key, services=("air",))
    r = reader(path, signing_key, gate_key)
    assert r.info.count == 1
    assert r.info.services == ("air",)
    assert r.check(mixed, "air", on=ON) == SnapshotHit(("air",), None, (2,))
    assert r.check(hotel_only, "air", on=ON) is None
    data = path.read_bytes()
    assert b"hotel_star" not in data and b'"credit"' not in data  # ("socialcredit" is)
    # the snapshot cannot answer for a service it does not cover: an error, not an allow
    with pytest.raises(SnapshotError, match="hotel_star"):
        r.check(mixed, "hotel_star", on=ON)
    with pytest.raises(SnapshotError, match="hotel_star"):
        r.check_many([mixed], "hotel_star", on=ON)


def test_empty_snapshot(tmp_path: Path, signing_key: Ed25519PrivateKey,
                        gate_key: bytes) -> None:
    path = write(tmp_path / "empty", [], signing_key, gate_key)
    info = verify_snapshot(path, signing_key.public_key())
    assert (info.count, info.entry_count) == (0, 0)
    r = reader(path, signing_key, gate_key)
    assert r.check(f"national_id:{NID}", "air", on=ON) is None
    assert r.check_many([f"national_id:{NID}", f"phone:{PHONE}"], "air", on=ON) == [None, None]
    assert r.check_many([], "air", on=ON) == []


def test_large_entry_ids_and_many_items(tmp_path: Path, signing_key: Ed25519PrivateKey,
                                        gate_key: bytes) -> None:
    rnd = random.Random(7)
    items = [SnapshotItem(f"phone:+86138{i:08d}", ("air",), None,
                          tuple(rnd.randrange(2**40) for _ in range(i % 3)))
             for i in range(3000)]
    r = reader(write(tmp_path / "s", items, signing_key, gate_key), signing_key, gate_key)
    hits = r.check_many([it.key for it in items], "air", on=ON)
    assert [h.entry_ids if h else None for h in hits] == [tuple(sorted(it.entry_ids))
                                                          for it in items]
    assert r.check("phone:+8613900000000", "air", on=ON) is None


def test_size_per_item(tmp_path: Path, signing_key: Ed25519PrivateKey, gate_key: bytes) -> None:
    n = 5000
    items = [SnapshotItem(f"national_id:{make_id(seq=i % 1000, birth=f'19{50 + i // 1000}0101')}",
                          ("air",), "2027-06-30", (i + 1,)) for i in range(n)]
    info = verify_snapshot(write(tmp_path / "s", items, signing_key, gate_key),
                           signing_key.public_key())
    assert info.count == n
    assert info.size <= 28 * n + 1024  # 24-byte record + 4-byte entry id + header/signature


def test_output_is_deterministic(tmp_path: Path, signing_key: Ed25519PrivateKey,
                                 gate_key: bytes) -> None:
    a = write(tmp_path / "a", sample_items(), signing_key, gate_key).read_bytes()
    b = write(tmp_path / "b", sample_items(), signing_key, gate_key).read_bytes()
    assert a == b


# --- integrity ------------------------------------------------------------------------------


def test_a_flipped_byte_anywhere_fails(snapshot: Path, signing_key: Ed25519PrivateKey,
                                       gate_key: bytes) -> None:
    data = snapshot.read_bytes()
    bad = snapshot.with_name("bad")
    for i in range(len(data)):  # preamble, header, every section, padding and signature
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        with pytest.raises(SnapshotError):
            verify_snapshot(bad, signing_key.public_key())
    for i in (20, len(data) // 2, len(data) - 1):  # header, body, signature
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        bad.write_bytes(bytes(flipped))
        with pytest.raises(SnapshotError):
            reader(bad, signing_key, gate_key)


def test_the_gate_name_is_signed(snapshot: Path, signing_key: Ed25519PrivateKey) -> None:
    data = snapshot.read_bytes()
    assert data.count(b'"gate":"airline"') == 1
    renamed = snapshot.with_name("renamed")
    renamed.write_bytes(data.replace(b'"gate":"airline"', b'"gate":"airfine"'))
    with pytest.raises(SnapshotError, match="signature"):
        verify_snapshot(renamed, signing_key.public_key())


def test_truncated_or_extended_file_fails(snapshot: Path,
                                          signing_key: Ed25519PrivateKey) -> None:
    data = snapshot.read_bytes()
    bad = snapshot.with_name("bad")
    for n in range(len(data)):
        bad.write_bytes(data[:n])
        with pytest.raises(SnapshotError):
            verify_snapshot(bad, signing_key.public_key())
    bad.write_bytes(data[:-100])
    with pytest.raises(SnapshotError, match="truncated"):
        verify_snapshot(bad, signing_key.public_key())
    bad.write_bytes(data + b"\0")
    with pytest.raises(SnapshotError):
        verify_snapshot(bad, signing_key.public_key())


def test_wrong_public_key_fails(snapshot: Path, gate_key: bytes) -> None:
    other = new_signing_key()
    with pytest.raises(SnapshotError, match="signature does not verify"):
        verify_snapshot(snapshot, other.public_key())
    with pytest.raises(SnapshotError, match="signature does not verify"):
        verify_snapshot(snapshot, public_key_pem(other))
    with pytest.raises(SnapshotError, match="signature does not verify"):
        SnapshotReader(snapshot, gate_key=gate_key, public_key=other.public_key())
    with pytest.raises(SnapshotError, match="PEM"):
        verify_snapshot(snapshot, b"not a key")


def resign(data: bytes, key: Ed25519PrivateKey) -> bytes:
    body = data[:-64]
    return body + key.sign(body)


def test_format_and_version_are_checked(snapshot: Path, signing_key: Ed25519PrivateKey) -> None:
    data = snapshot.read_bytes()
    assert data[:8] == MAGIC
    assert struct.unpack_from("<H", data, 8) == (2,)
    bad = snapshot.with_name("bad")
    # correctly signed, but another format version or magic: rejected for what it is
    bad.write_bytes(resign(data[:8] + struct.pack("<H", 3) + data[10:], signing_key))
    with pytest.raises(SnapshotError, match="version 3"):
        verify_snapshot(bad, signing_key.public_key())
    bad.write_bytes(resign(b"NOTSNAP\n" + data[8:], signing_key))
    with pytest.raises(SnapshotError, match="magic"):
        verify_snapshot(bad, signing_key.public_key())
    bad.write_bytes(snapshot.read_bytes().replace(b"SCGSNAP", b"PK\x03\x04xxx"))
    with pytest.raises(SnapshotError, match="magic"):
        verify_snapshot(bad, signing_key.public_key())
    with pytest.raises(SnapshotError, match="cannot read"):
        verify_snapshot(snapshot.with_name("missing"), signing_key.public_key())


def test_header_declares_the_crypto(snapshot: Path) -> None:
    data = snapshot.read_bytes()
    (hlen,) = struct.unpack_from("<I", data, 12)
    header: dict[str, Any] = json.loads(data[16:16 + hlen])
    assert header["hmac"] == "HMAC-SHA256"
    assert header["digest_bytes"] == 16
    assert header["signature"] == "Ed25519"
    assert header["gate"] == "airline"
    assert header["services"] == list(AIRLINE)
    assert header["created_at"] == CREATED.isoformat()


# --- confidentiality ------------------------------------------------------------------------


def test_another_gates_key_denies_no_one(tmp_path: Path, signing_key: Ed25519PrivateKey,
                                         gate_key: bytes) -> None:
    items = sample_items() + [SnapshotItem(f"national_id:{make_id('440300', seq=i)}", AIRLINE,
                                           None, (i,))
                              for i in range(200)]
    path = write(tmp_path / "gate-a", items, signing_key, gate_key, gate="airline-a")
    listed = [it.key for it in items]
    a = reader(path, signing_key, gate_key)
    assert sum(h is not None for h in a.check_many(listed, "air", on=ON)) == 202

    # another gate's key cannot read it: refused loudly (a silent "no one listed" would allow)
    with pytest.raises(SnapshotError, match="another key"):
        SnapshotReader(path, gate_key=new_gate_key(), public_key=signing_key.public_key())
    # and even a reader that skipped the key check would find no one with that key
    other = new_gate_key()
    assert all(keyed_digest(other, k) != keyed_digest(gate_key, k) for k in listed)


def test_no_identifier_in_clear(snapshot: Path) -> None:
    data = snapshot.read_bytes()
    for needle in (NID, PHONE, PHONE.lstrip("+"), PHONE[-11:], DOC, DOC[1:], "national_id",
                   "phone:", "document:"):
        assert needle.encode() not in data, needle
        assert needle.encode("utf-16-le") not in data, needle
    # nor unkeyed hashes of them (a dictionary attack needs no key)
    for key in (f"national_id:{NID}", f"phone:{PHONE}", f"document:{DOC}"):
        assert hashlib.sha256(key.encode()).digest()[:16] not in data


# --- keyed hash -----------------------------------------------------------------------------


def test_keyed_digest_is_rfc2104_hmac_sha256() -> None:
    # RFC 4231 test cases 1 and 6 (key longer than the block size is hashed first)
    assert keyed_digest(b"\x0b" * 20, "Hi There", length=32).hex() == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert keyed_digest(b"\xaa" * 131, "Test Using Larger Than Block-Size Key - Hash Key First",
                        length=32).hex() == (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    rnd = random.Random(3)
    for n in (16, 32, 63, 64, 65, 200):
        key = rnd.randbytes(n)
        msg = f"national_id:{make_id(seq=n)}"
        assert keyed_digest(key, msg) == hmac.digest(key, msg.encode(), "sha256")[:16]


def test_the_file_holds_the_truncated_hmac(snapshot: Path, gate_key: bytes) -> None:
    data = snapshot.read_bytes()
    assert keyed_digest(gate_key, f"national_id:{NID}") in data


# --- signing keys ---------------------------------------------------------------------------


def test_signing_key_save_load_round_trip(tmp_path: Path, gate_key: bytes) -> None:
    key = new_signing_key()
    path = tmp_path / "registry.pem"
    save_signing_key(key, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_signing_key(path)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert loaded.public_key().public_bytes(*raw) == key.public_key().public_bytes(*raw)
    # a snapshot signed with the loaded key verifies with the original public key
    snap = write(tmp_path / "s", sample_items(), loaded, gate_key)
    verify_snapshot(snap, public_key_pem(key))

    with pytest.raises(SnapshotError, match="already exists"):
        save_signing_key(new_signing_key(), path)
    assert load_signing_key(path).public_key().public_bytes(*raw) == \
        key.public_key().public_bytes(*raw)
    os.chmod(path, 0o644)
    save_signing_key(new_signing_key(), path, overwrite=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_signing_key_load_errors(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="cannot read"):
        load_signing_key(tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SnapshotError, match="PKCS #8"):
        load_signing_key(garbage)
    public = tmp_path / "public.pem"
    public.write_bytes(public_key_pem(new_signing_key()))
    with pytest.raises(SnapshotError):
        load_signing_key(public)


# --- invalid input --------------------------------------------------------------------------


@pytest.mark.parametrize("changes, message", [
    ({"created_at": dt.datetime(2026, 6, 30)}, "timezone-aware"),
    ({"services": "air"}, "not the string"),
    ({"services": []}, "at least one service"),
    ({"services": [f"s{i}" for i in range(17)]}, "at most 16"),
    ({"gate_key": b"short"}, "at least 16"),
    ({"gate": ""}, "gate"),
    ({"ledger_seq": -1}, "ledger_seq"),
    ({"items": [SnapshotItem("phone:+1555", ("air",), "2027-13-01")]}, "ISO date"),
    ({"items": [SnapshotItem("phone:+1555", ("air",), "2150-01-01")]}, "range"),
    ({"items": [SnapshotItem("phone:+1555", ("air",), None, (-1,))]}, "entry ids"),
])
def test_invalid_arguments(tmp_path: Path, signing_key: Ed25519PrivateKey, gate_key: bytes,
                           changes: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "items": sample_items(), "gate": "airline", "gate_key": gate_key,
        "signing_key": signing_key, "services": AIRLINE, "ledger_seq": 1,
        "created_at": CREATED, "policy_version": "p"} | changes
    with pytest.raises(SnapshotError, match=message):
        write_snapshot(tmp_path / "s", **args)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_malformed_keys_are_rejected(snapshot: Path, signing_key: Ed25519PrivateKey,
                                     gate_key: bytes) -> None:
    for bad in (NID, "passport:E1", "national_id:", ""):
        with pytest.raises(SnapshotError, match="kind"):
            SnapshotItem(bad, ("air",), None)
    with pytest.raises(SnapshotError, match="tuple"):
        SnapshotItem(f"phone:{PHONE}", "air", None)  # type: ignore[arg-type]
    r = reader(snapshot, signing_key, gate_key)
    with pytest.raises(SnapshotError, match="kind"):
        r.check(NID, "air", on=ON)  # a bare value would silently match nothing
    with pytest.raises(SnapshotError, match="kind"):
        r.check_many([f"phone:{PHONE}", NID], "air", on=ON)


# --- model-based ----------------------------------------------------------------------------

POOL = [f"national_id:{make_id(seq=i)}" for i in range(6)] + ["phone:+8613800000000",
                                                             "document:G0000001"]
SERVICES = ("air", "rail_hsr", "hotel_star")
DAYS = [None, "2026-01-01", "2026-06-30", "2026-07-01", "2030-02-28"]

item_strategy = st.builds(
    SnapshotItem, st.sampled_from(POOL),
    st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True).map(tuple),
    st.sampled_from(DAYS), st.lists(st.integers(0, 2**33), max_size=3).map(tuple))


def model(items: list[SnapshotItem], gate_services: tuple[str, ...], key: str, service: str,
          on: dt.date) -> SnapshotHit | None:
    live = [it for it in items if it.key == key and service in it.services
            and (it.until is None or on < dt.date.fromisoformat(it.until))]
    if not live:
        return None
    services = tuple(s for s in gate_services if any(s in it.services for it in live))
    ends = [it.until for it in live]
    until = None if None in ends else max(e for e in ends if e is not None)
    return SnapshotHit(services, until, tuple(sorted({i for it in live for i in it.entry_ids})))


@settings(max_examples=60, deadline=None)
@given(items=st.lists(item_strategy, max_size=25),
       gate_services=st.sampled_from([("air",), ("air", "rail_hsr"), ("rail_hsr", "air")]),
       on=st.sampled_from([dt.date(2025, 12, 31), dt.date(2026, 6, 30), dt.date(2026, 7, 1),
                           dt.date(2031, 1, 1)]))
def test_reader_agrees_with_a_naive_model(
        tmp_path_factory: pytest.TempPathFactory, signing_key: Ed25519PrivateKey,
        gate_key: bytes, items: list[SnapshotItem], gate_services: tuple[str, ...],
        on: dt.date) -> None:
    path = write(tmp_path_factory.mktemp("model") / "s", items, signing_key, gate_key,
                 services=gate_services)
    r = reader(path, signing_key, gate_key)
    for service in gate_services:
        expected = [model(items, gate_services, k, service, on) for k in POOL]
        assert [r.check(k, service, on=on) for k in POOL] == expected
        assert r.check_many(POOL, service, on=on) == expected
