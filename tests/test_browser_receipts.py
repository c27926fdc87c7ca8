"""Receipts checked in the browser, offline (issue #15): the page ``/me/receipts`` in Debian's
chromium driven by Playwright, on a real server on 127.0.0.1 over a SQLite file.

A court lists a person and the registry signs a tree head. Signed in, the person sees their
receipts and checks one with a click; the page's script (WebCrypto SHA-256 and Ed25519) says
it is valid and makes no request while checking. Pasted into the page, a receipt with a
tampered inclusion proof, a forged head signature, a receipt of another registry (another
signing key), a key that is not Ed25519 and text that is not JSON each fail with their own
message, and ``socialcredit audit verify-proof`` agrees on every one (valid, or refused for
the same reason). The failures are said in Chinese on ``?lang=zh``; axe-core finds no serious
or critical violation on the page.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from axe import assert_accessible
from conftest import furnish, make_id, subject_session, trust_channel
from servers import running
from socialcredit.api.registry import Registry
from socialcredit.cli import app
from socialcredit.gate.offline import public_key_path, signing_key
from socialcredit.settings import Settings
from socialcredit.store.merkle import ProofInvalid
from socialcredit.store.tree_head import receipt, sign_latest

pytestmark = pytest.mark.browser
DEBTOR = make_id(region="320102", birth="19880412", seq=45)
PHONE = "+8613911112222"


def _finding(frid: str, national_id: str) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding",
            "occurred_at": "2026-05-01", "national_id": national_id, "phone": PHONE,
            "name": "李明", "case_number": f"(2026)苏0102执{frid}号", "ground": 1,
            "amount_minor": 80_000_00, "currency": "CNY"}


def _registry(tmp_path: Path, name: str, national_id: str) -> Registry:
    """A registry with its own database and signing key, one court finding about
    ``national_id`` and a signed tree head over it."""
    folder = tmp_path / name
    folder.mkdir()
    reg = Registry(Settings(database_url=f"sqlite:///{folder / 'registry.db'}",
                            keys_dir=folder / "keys", notices_dir=folder / "notices"))
    reg.ensure_schema()
    furnish(reg, folder, "court-nj", "court", [_finding("1", national_id)])
    assert sign_latest(reg.store, signing_key(reg.settings.keys_dir)) is not None
    return reg


def _pem(reg: Registry) -> str:
    return public_key_path(reg.settings.keys_dir).read_text(encoding="ascii")


def _cli(tmp_path: Path, rec: Any, key_pem: str) -> tuple[bool, str]:
    """``audit verify-proof`` on ``rec`` with ``key_pem``: (valid, output or the reason)."""
    (tmp_path / "receipt.json").write_text(json.dumps(rec), encoding="utf-8")
    (tmp_path / "key.pem").write_text(key_pem, encoding="ascii")
    got = CliRunner().invoke(app, ["audit", "verify-proof", str(tmp_path / "receipt.json"),
                                   "--public-key", str(tmp_path / "key.pem")])
    if got.exit_code == 0:
        return True, got.output
    return False, str(got.exception)


def _check(page: Any, receipt_text: str, key_pem: str) -> tuple[str, str]:
    """Paste, press Check, wait for the outcome: (its data-key, its text)."""
    page.get_by_test_id("receipt-json").fill(receipt_text)
    page.get_by_test_id("receipt-key").fill(key_pem)
    page.get_by_test_id("check-receipt").click()
    page.wait_for_selector("[data-testid=receipt-result][data-state=done]")
    out = page.get_by_test_id("receipt-outcome")
    return str(out.get_attribute("data-key")), out.inner_text()


def test_receipts_check_in_the_browser_offline_and_agree_with_the_cli(
        browser: Any, tmp_path: Path) -> None:
    reg = _registry(tmp_path, "ours", DEBTOR)
    other = _registry(tmp_path, "other", make_id(seq=77))
    try:
        trust_channel(reg, DEBTOR, PHONE)
        session = subject_session(reg, DEBTOR, PHONE)
        key = _pem(reg)
        with reg.store.read() as conn:
            good = receipt(conn, 2)
        with other.store.read() as conn:
            theirs = receipt(conn, 2)
        assert good["inclusion_path"], "the tampering below needs a non-empty proof"
        with running(reg) as base:
            context = browser.new_context()
            context.add_cookies([{"name": "sc_session", "value": session.token,
                                  "url": base}])
            page = context.new_page()
            page.goto(base + "/me")
            page.get_by_test_id("receipts-link").click()
            page.wait_for_url(base + "/me/receipts")
            assert page.locator("h1").count() == 1
            # the person's own receipts, the key filled in; a click checks one, offline
            rows = page.get_by_test_id("receipt-row")
            assert rows.count() >= 2
            assert page.get_by_test_id("receipt-key").input_value() == key
            asked: list[str] = []
            page.on("request", lambda r: asked.append(r.url))
            page.get_by_test_id("check-mine").first.click()
            page.wait_for_selector("[data-testid=receipt-result][data-state=done]")
            outcome = page.get_by_test_id("receipt-outcome")
            assert outcome.get_attribute("data-key") == "valid", outcome.inner_text()
            mine = json.loads(page.get_by_test_id("receipt-json").input_value())
            assert f"event {mine['event']['seq']} " in outcome.inner_text()
            assert _cli(tmp_path, mine, key)[0]

            # pasted: a valid receipt, then each tampering; the CLI agrees on every one
            forged = copy.deepcopy(good)
            sig = bytearray(forged["head"]["signature"].encode())
            sig[0] = ord("B") if sig[0] != ord("B") else ord("C")
            forged["head"]["signature"] = sig.decode()
            bad_path = copy.deepcopy(good)
            first = bytes.fromhex(bad_path["inclusion_path"][0])
            bad_path["inclusion_path"][0] = (bytes([first[0] ^ 1]) + first[1:]).hex()
            rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048) \
                .public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo
                                           ).decode()
            cases = [  # receipt, key, the page's outcome, the CLI's reason (None: valid)
                (good, key, "valid", None),
                ({"receipts": [good, good]}, key, "valid", None),
                (bad_path, key, "bad_proof", "does not lead to the tree head's root"),
                (forged, key, "bad_signature", "signature does not verify"),
                (theirs, key, "other_registry", "another registry"),
                (good, _pem(other), "other_registry", "another registry"),
                (good, rsa_pem, "bad_key", "not Ed25519"),
            ]
            for rec, pem, want, reason in cases:
                got_key, text = _check(page, json.dumps(rec, ensure_ascii=False), pem)
                assert got_key == want, (want, text)
                valid, said = _cli(tmp_path, rec, pem)
                assert valid is (reason is None), said
                if reason is not None:
                    assert reason in said, said
            assert "does not lead to the signed root" in _check(page, json.dumps(bad_path),
                                                               key)[1]
            assert "another registry" in _check(page, json.dumps(theirs), key)[1]
            got_key, text = _check(page, '{"format": "socialcredit-receipt/1",', key)
            assert got_key == "bad_json" and "not JSON" in text
            assert _check(page, "", key)[0] == "empty"
            assert asked == [], f"the check made requests: {asked}"
            _check(page, json.dumps(good), key)
            page.screenshot(path="/tmp/receipts-page.png", full_page=True)
            assert_accessible(page)  # with the person's receipts and an outcome shown

            # the same failures in Chinese
            page.goto(base + "/me/receipts?lang=zh")
            got_key, text = _check(page, json.dumps(bad_path), key)
            assert got_key == "bad_proof" and "包含证明" in text, text
            got_key, text = _check(page, json.dumps(theirs), key)
            assert got_key == "other_registry" and "另一登记机构" in text, text
            page.screenshot(path="/tmp/receipts-page-zh.png", full_page=True)
            context.close()
    finally:
        reg.close()
        other.close()


def test_anyone_can_check_without_signing_in(browser: Any, tmp_path: Path) -> None:
    reg = _registry(tmp_path, "ours", DEBTOR)
    try:
        with reg.store.read() as conn:
            good = receipt(conn, 1)
        with running(reg) as base:
            page = browser.new_page()
            page.goto(base + "/me/receipts")
            assert page.get_by_test_id("receipt-row").count() == 0
            assert page.get_by_role("link", name="Sign in to see your own receipts").count() == 1
            got_key, text = _check(page, json.dumps(good), _pem(reg))
            assert got_key == "valid" and "event 1 " in text, text
            # an event altered in the receipt: its hash no longer matches
            altered = copy.deepcopy(good)
            altered["event"]["type"] = "entry.removed"
            assert _check(page, json.dumps(altered), _pem(reg))[0] == "event_altered"
            assert_accessible(page)
            with pytest.raises(ProofInvalid, match="altered"):
                from socialcredit.store.tree_head import load_public_key, verify_receipt

                verify_receipt(altered, load_public_key(_pem(reg).encode()))
            page.close()
    finally:
        reg.close()
