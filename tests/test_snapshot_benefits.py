"""Offline snapshots carry benefits (format version 2, issue #13): what a red-list entry earns
at the gate's services, as the online gate's ``allow`` names it; version-1 snapshots
(refusals only) still read. Real files and keys; the version-1 file is rebuilt here from the
layout the format documents, not by the code under test. The registry half (export, then
``check-snapshot --organisation-id``) runs on a real SQLite file and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from conftest import furnish, make_id
from socialcredit.api.registry import Registry
from socialcredit.gate.snapshot import (
    SnapshotBenefit,
    SnapshotError,
    SnapshotItem,
    SnapshotReader,
    new_gate_key,
    new_signing_key,
    verify_snapshot,
    write_snapshot,
)
from test_organisations import make_uscc

CREATED = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
ON = dt.date(2026, 6, 30)
FIRM = make_uscc(code="MA02K7Q4R")
OTHER = make_uscc(code="MA09P3L8T")
DEBTOR = make_id("110105", "19700101", 21)
BASIS = "Guo Fa [2016] No. 33, Part II(2)"


def _benefit(key: str, service: str, benefit: str, until: str | None,
             entry: int) -> SnapshotBenefit:
    return SnapshotBenefit(key, service, benefit, f"{benefit} text", "a_grade_taxpayers",
                           BASIS, until, entry)


def _write(path: Path, key: Ed25519PrivateKey, gate_key: bytes,
           benefits: list[SnapshotBenefit]) -> Any:
    items = [SnapshotItem(f"national_id:{DEBTOR}", ("permits",), "2027-01-01", (7,))]
    return write_snapshot(path, items, gate="permits-office", gate_key=gate_key,
                          signing_key=key, services=("permits", "credit"), ledger_seq=3,
                          created_at=CREATED, policy_version="sha256:x", benefits=benefits)


def test_a_version_2_snapshot_answers_allow_with_benefits(tmp_path: Path) -> None:
    key, gate_key = new_signing_key(), new_gate_key()
    firm = f"organisation_id:{FIRM}"
    info = _write(tmp_path / "s.snap", key, gate_key, [
        _benefit(firm, "permits", "simplified_approval", "2027-04-16", 41),
        _benefit(firm, "permits", "green_channel", "2027-04-16", 41),
        _benefit(firm, "credit", "deposit_waived", "2026-07-01", 41),
        _benefit(firm, "air", "ignored", None, 41),  # not a service of this gate
        _benefit(f"organisation_id:{OTHER}", "permits", "green_channel", None, 42),
    ])
    assert (info.version, info.benefit_count) == (2, 4)
    reader = SnapshotReader(tmp_path / "s.snap", gate_key=gate_key,
                            public_key=key.public_key())
    assert reader.check(firm, "permits", on=ON) is None
    got = reader.benefits(firm, "permits", on=ON)
    assert sorted((b["benefit"], b["entry_id"], b["until"], b["legal_basis"], b["list"])
                  for b in got) == [
        ("green_channel", 41, "2027-04-16", BASIS, "a_grade_taxpayers"),
        ("simplified_approval", 41, "2027-04-16", BASIS, "a_grade_taxpayers")]
    assert {b["text"] for b in got} == {"green_channel text", "simplified_approval text"}
    # the end is exclusive, and each service has its own benefits
    assert [b["benefit"] for b in reader.benefits(firm, "credit", on=ON)] == ["deposit_waived"]
    assert reader.benefits(firm, "credit", on=dt.date(2026, 7, 1)) == []
    other = reader.benefits(f"organisation_id:{OTHER}", "permits", on=dt.date(2040, 1, 1))
    assert [(b["benefit"], b["until"]) for b in other] == [("green_channel", None)]
    assert reader.benefits(f"national_id:{DEBTOR}", "permits", on=ON) == []
    assert reader.check(f"national_id:{DEBTOR}", "permits", on=ON) is not None
    with pytest.raises(SnapshotError, match="says nothing about 'air'"):
        reader.benefits(firm, "air", on=ON)
    # the catalogue is signed: a changed legal basis fails the signature
    data = (tmp_path / "s.snap").read_bytes()
    (tmp_path / "t.snap").write_bytes(data.replace(b"Part II(2)", b"Part II(9)"))
    with pytest.raises(SnapshotError, match="signature"):
        verify_snapshot(tmp_path / "t.snap", key.public_key())


def _as_version_1(data: bytes, key: Ed25519PrivateKey) -> bytes:
    """The same refusals as a version-1 file: header without the benefit keys, five sections
    (digests, services, until, index, entry ids), each at a multiple of 8, then a signature."""
    (hlen,) = struct.unpack_from("<I", data, 12)
    header = json.loads(data[16:16 + hlen])
    assert header["benefit_count"] == 0
    n, entries, width, ids = (header["count"], header["entries"], header["digest_bytes"],
                              header["entry_id_bytes"])
    sizes = [n * width, n * 2, n * 2, (n + 1) * 4, entries * ids]

    def sections(start: int) -> list[tuple[int, int]]:
        out, pos = [], start
        for size in sizes:
            pos += -pos % 8
            out.append((pos, size))
            pos += size
        return out

    old = sections(16 + hlen)
    del header["benefits"], header["benefit_count"]
    header["version"] = 1
    raw = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    raw += b" " * (-(16 + len(raw)) % 16)
    body = bytearray(b"SCGSNAP\n" + struct.pack("<HHI", 1, 0, len(raw)) + raw)
    for (at, size), (new_at, _) in zip(old, sections(len(body)), strict=True):
        body += bytes(new_at - len(body)) + data[at:at + size]
    return bytes(body) + key.sign(bytes(body))


def test_a_version_1_snapshot_still_reads_with_refusals_only(tmp_path: Path) -> None:
    key, gate_key = new_signing_key(), new_gate_key()
    _write(tmp_path / "v2.snap", key, gate_key, [])
    (tmp_path / "v1.snap").write_bytes(
        _as_version_1((tmp_path / "v2.snap").read_bytes(), key))
    info = verify_snapshot(tmp_path / "v1.snap", key.public_key())
    assert (info.version, info.benefit_count, info.count) == (1, 0, 1)
    reader = SnapshotReader(tmp_path / "v1.snap", gate_key=gate_key,
                            public_key=key.public_key())
    hit = reader.check(f"national_id:{DEBTOR}", "permits", on=ON)
    assert hit is not None and (hit.until, hit.entry_ids) == ("2027-01-01", (7,))
    assert reader.benefits(f"organisation_id:{FIRM}", "permits", on=ON) == []


def _rating(grade: str) -> dict[str, Any]:
    return {"furnisher_record_id": "t1", "kind": "tax_credit_rating",
            "occurred_at": "2026-04-15", "organisation_id": FIRM, "name": "北京示例科技有限公司",
            "rating_year": 2025, "grade": grade}


def test_check_snapshot_answers_allow_with_benefits_like_the_online_gate(
        registry: Registry, db_url: str, tmp_path: Path) -> None:
    from test_cli import run

    furnish(registry, tmp_path, "tax-bj", "regulator", [_rating("A")])
    added = run(tmp_path, "gates", "add", "permits-office", "--services", "permits",
                db=db_url)
    assert added.returncode == 0, added.stderr
    out = run(tmp_path, "gates", "export", "--gate", "permits-office", "--json", db=db_url)
    assert out.returncode == 0, out.stderr
    made = json.loads(out.stdout)
    check = ("gates", "check-snapshot", str(tmp_path / made["snapshot"]), "--gate-key",
             str(tmp_path / made["gate_key_file"]), "--service", "permits")
    online = run(tmp_path, "check", "--service", "permits", "--organisation-id", FIRM,
                 "--json", db=db_url)
    names = [b["benefit"] for b in json.loads(online.stdout)["benefits"]]
    assert names == ["green_channel", "simplified_approval"]
    r = run(tmp_path, *check, "--organisation-id", FIRM.lower(), db=db_url)
    assert r.returncode == 0 and r.stdout.startswith("ALLOW (permits)"), (r.stdout, r.stderr)
    for name in names:
        assert f"benefit {name}:" in r.stdout
    assert "red list a_grade_taxpayers" in r.stdout and BASIS in r.stdout
    r = run(tmp_path, *check, "--organisation-id", OTHER, db=db_url)
    assert r.returncode == 0 and "benefit" not in r.stdout
    r = run(tmp_path, *check, "--organisation-id", FIRM[:-1] + "0", db=db_url)
    assert r.returncode != 0 and "Traceback" not in r.stderr  # a wrong check character
