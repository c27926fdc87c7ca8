"""Signed tree heads, receipts and the monitor (issue #15), on a real registry (SQLite file and
PostgreSQL) and over a real HTTP server on 127.0.0.1: the stored tree equals one recomputed
from the events, receipts verify offline with only the public key, forged heads, heads of
another registry and altered events are refused, bad proof requests are 400s, and a rewritten
ledger makes the monitor exit non-zero with both heads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from conftest import furnish, make_id
from servers import running
from socialcredit.api.registry import Registry
from socialcredit.cli import app
from socialcredit.errors import InputError
from socialcredit.gate.offline import public_key_path, signing_key
from socialcredit.settings import Settings
from socialcredit.store.merkle import ProofInvalid, leaf_hash, root_of_leaves
from socialcredit.store.monitor import LedgerForked
from socialcredit.store.tables import events, tree_heads, tree_nodes
from socialcredit.store.tree_head import (
    check_consistency,
    consistency,
    inclusion,
    receipt,
    sign_latest,
    subject_receipts,
    verify_head,
    verify_receipt,
)

DEBTOR = make_id(birth="19800101", seq=123)


def _finding(frid: str, case: str) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding",
            "occurred_at": "2026-05-01", "national_id": DEBTOR, "name": "张伟",
            "case_number": case, "ground": 2, "amount_minor": 1_000_000_00, "currency": "CNY"}


@pytest.fixture
def reg(db_url: str, tmp_path: Path) -> Any:
    r = Registry(Settings(database_url=db_url, keys_dir=tmp_path / "keys",
                          notices_dir=tmp_path / "notices"))
    r.ensure_schema()
    furnish(r, tmp_path, "court-bj", "court", [_finding("c1", "(2026)京01执1号")])
    yield r
    r.close()


def _key(r: Registry) -> Ed25519PrivateKey:
    return signing_key(r.settings.keys_dir)


def test_heads_receipts_and_consistency_on_the_store(reg: Registry, tmp_path: Path) -> None:
    key = _key(reg)
    first = sign_latest(reg.store, key)
    assert first is not None and first["tree_size"] == reg.store.head()[0]
    verify_head(first, key.public_key())
    # the stored root is the root recomputed from the events alone
    with reg.store.read() as conn:
        hashes = list(conn.execute(select(events.c.hash).order_by(events.c.seq)).scalars())
    assert root_of_leaves([leaf_hash(h) for h in hashes]).hex() == first["root_hash"]
    # more events, extended incrementally, still equal a full recomputation
    furnish(reg, tmp_path, "court-bj", "court", [_finding("c2", "(2026)京01执2号")])
    second = sign_latest(reg.store, key)
    assert second is not None and second["tree_size"] > first["tree_size"]
    with reg.store.read() as conn:
        hashes = list(conn.execute(select(events.c.hash).order_by(events.c.seq)).scalars())
        assert root_of_leaves([leaf_hash(h) for h in hashes]).hex() == second["root_hash"]
        proof = consistency(conn, first["tree_size"], second["tree_size"])
        listed = conn.execute(select(events.c.seq).where(events.c.type == "entry.listed")
                              ).scalars().first()
        r = receipt(conn, listed)
        mine = subject_receipts(conn, r["event"]["subject_id"])
        # bad requests: a seq past the tree, a size of zero, first past second
        for bad in (lambda: inclusion(conn, second["tree_size"] + 1, second["tree_size"]),
                    lambda: inclusion(conn, 1, 0),
                    lambda: inclusion(conn, 1, second["tree_size"] + 5),
                    lambda: consistency(conn, 3, 2), lambda: receipt(conn, 10**9)):
            with pytest.raises(InputError):
                bad()
    check_consistency(first, second, proof["proof"])
    assert verify_receipt(r, key.public_key())["type"] == "entry.listed"
    assert [x["event"]["seq"] for x in mine["receipts"]] == sorted(
        x["event"]["seq"] for x in mine["receipts"])
    for x in mine["receipts"]:
        verify_receipt(x, key.public_key())
    # an altered event, a forged head, a head of another registry
    altered = copy.deepcopy(r)
    altered["event"]["payload"] = altered["event"]["payload"].replace("active", "removed")
    with pytest.raises(ProofInvalid, match="altered"):
        verify_receipt(altered, key.public_key())
    forged = copy.deepcopy(r)
    forged["head"]["root_hash"] = "00" * 32
    with pytest.raises(ProofInvalid, match="signature"):
        verify_receipt(forged, key.public_key())
    with pytest.raises(ProofInvalid, match="another registry"):
        verify_receipt(r, Ed25519PrivateKey.generate().public_key())
    # a rewritten history does not extend the first head
    with pytest.raises(ProofInvalid):
        check_consistency({**first, "root_hash": "11" * 32}, second, proof["proof"])


def test_http_routes_cli_verify_proof_and_the_monitor_sees_a_fork(
        db_url: str, tmp_path: Path) -> None:
    r = Registry(Settings(database_url=db_url, keys_dir=tmp_path / "keys",
                          notices_dir=tmp_path / "notices"))
    r.ensure_schema()
    try:
        furnish(r, tmp_path, "court-bj", "court", [_finding("c1", "(2026)京01执1号")])
        runner = CliRunner()
        cli = ["--database-url", db_url]
        env = {"SOCIALCREDIT_KEYS_DIR": str(tmp_path / "keys"),
               "SOCIALCREDIT_NOTICES_DIR": str(tmp_path / "notices")}
        ok = runner.invoke(app, [*cli, "clocks", "run", "--json"], env=env)
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.stdout)["tree_size"] == r.store.head()[0]
        state = tmp_path / "monitor.json"
        with running(r) as base:
            head = httpx.get(f"{base}/v1/transparency/heads/latest").json()
            size = head["tree_size"]
            got = httpx.get(f"{base}/v1/transparency/proofs/inclusion",
                            params={"seq": 1, "size": size})
            assert got.status_code == 200 and got.json()["head"] == head
            for params in ({"seq": size + 1, "size": size}, {"seq": 1, "size": 0}):
                bad = httpx.get(f"{base}/v1/transparency/proofs/inclusion", params=params)
                assert bad.status_code == 400, bad.text
                assert bad.json()["error"]["code"] == "invalid_input"
            bad = httpx.get(f"{base}/v1/transparency/proofs/consistency",
                            params={"first": size, "second": size + 9})
            assert bad.status_code == 400
            mon = runner.invoke(app, ["audit", "monitor", "--url", base, "--state", str(state),
                                      "--json"])
            assert mon.exit_code == 0, mon.output
            # a refusal carries its receipt: the entry's ledger event and a head covering it
            from socialcredit.api.keys import add_operator
            from socialcredit.store.tables import list_entries

            ops = {"Authorization": f"Bearer {add_operator(r.store, name='ops')}"}
            refusal = httpx.post(f"{base}/v1/decisions", headers=ops,
                                 json={"service": "air", "national_id": DEBTOR}).json()
            assert refusal["decision"] == "deny", refusal
            got_receipt = refusal["receipt"]
            assert [e["entry_id"] for e in got_receipt["entries"]] == [
                x["entry_id"] for x in refusal["reasons"]]
            assert got_receipt["head"] == head  # the one head signed so far covers it
            verify_head(got_receipt["head"], _key(r).public_key())
            with r.store.read() as conn:
                kind = conn.execute(select(events.c.type).where(
                    events.c.seq == got_receipt["entries"][0]["seq"])).scalar_one()
            assert kind == "entry.listed"
            with r.store.engine.begin() as conn:
                conn.execute(update(list_entries).values(until="2027-01-01"))
            found = httpx.get(f"{base}/v1/audit/replay", headers=ops, timeout=60)
            assert found.status_code == 200, found.text
            diff = found.json()["first_difference"]
            assert found.json()["ok"] is False and diff["table"] == "list_entries"
            assert diff["column"] == "until" and diff["live"] == "2027-01-01"
            # the registry grows: the next head is consistent with the first
            furnish(r, tmp_path, "court-bj", "court", [_finding("c2", "(2026)京01执2号")])
            sign_latest(r.store, _key(r))
            mon = runner.invoke(app, ["audit", "monitor", "--url", base, "--state", str(state)])
            assert mon.exit_code == 0, mon.output
            assert "consistent with the head of" in mon.output
            # a receipt checked offline with only the public key
            with r.store.read() as conn:
                rec = receipt(conn, 2)
            (tmp_path / "receipt.json").write_text(json.dumps(rec), encoding="utf-8")
            vp = runner.invoke(app, ["audit", "verify-proof", str(tmp_path / "receipt.json"),
                                     "--public-key", str(public_key_path(tmp_path / "keys"))])
            assert vp.exit_code == 0 and "valid: event 2" in vp.output, vp.output
            rec["event"]["type"] = "entry.removed"
            (tmp_path / "receipt.json").write_text(json.dumps(rec), encoding="utf-8")
            vp = runner.invoke(app, ["audit", "verify-proof", str(tmp_path / "receipt.json"),
                                     "--public-key", str(public_key_path(tmp_path / "keys"))])
            assert vp.exit_code != 0 and isinstance(vp.exception, ProofInvalid)
            assert "altered" in str(vp.exception)
            # someone with database access rewrites event 1 and rebuilds the tree and heads
            with r.store.engine.begin() as conn:
                conn.execute(update(events).where(events.c.seq == 1).values(hash="ab" * 32))
                conn.execute(delete(tree_nodes))
                conn.execute(delete(tree_heads))
            furnish(r, tmp_path, "court-bj", "court", [_finding("c3", "(2026)京01执3号")])
            sign_latest(r.store, _key(r))
            mon = runner.invoke(app, ["audit", "monitor", "--url", base, "--state", str(state)])
        assert mon.exit_code == 1 and isinstance(mon.exception, LedgerForked), mon.output
        assert "does not extend" in str(mon.exception)
        evidence = json.loads(mon.stdout)
        assert evidence["ok"] is False
        assert evidence["older"]["tree_size"] < evidence["newer"]["tree_size"]
        for h in (evidence["older"], evidence["newer"]):  # both signed: evidence for anyone
            verify_head(h, _key(r).public_key())
    finally:
        r.close()


def test_retention_tombstones_keep_receipts_and_proofs_valid(reg: Registry) -> None:
    import datetime as dt

    from socialcredit.disclosure.retention import run_retention

    key = _key(reg)
    sign_latest(reg.store, key)
    with reg.store.read() as conn:
        accepted = conn.execute(select(events.c.seq).where(
            events.c.type == "record.accepted")).scalar_one()
        before = receipt(conn, accepted)
    assert run_retention(reg.store, reg.policy, today=dt.date(2045, 1, 1)) == 1
    head = sign_latest(reg.store, key)
    assert head is not None
    with reg.store.read() as conn:
        after = receipt(conn, accepted, size=head["tree_size"])
        proof = consistency(conn, before["head"]["tree_size"], head["tree_size"])
    # the erased payload is gone from the registry, yet the old receipt (which keeps it) and
    # a new one (which holds only the tombstone) both verify, and the heads stay consistent
    assert "_tombstone" in after["event"]["payload"]
    assert "_tombstone" not in before["event"]["payload"]
    verify_receipt(before, key.public_key())
    verify_receipt(after, key.public_key())
    check_consistency(before["head"], head, proof["proof"])
