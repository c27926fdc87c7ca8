"""Identity decisions end to end (issue #3): the review queue, accept / reject, unlink, merge and
split — through the HTTP API on a real server and the console script in a subprocess.

The state is built through ingest, as furnishers would send it:

* ``twins``: a court record makes subject A (张伟, valid ID, phone); a lender's ``loan_default``
  carries A's ID with one wrong digit (checksum fails) and A's phone; a twin B (same name, birth
  date and address, a different valid ID) arrives; then a court's ``dishonesty_finding`` whose
  ID has one typo *from each twin* (A's body with B's check character), with the name and birth
  date: it cannot be told apart and waits in the review queue, its list entry
  ``pending_review``.
* ``pair``: two subjects with valid IDs only (no probabilistic linkage): S listed on the
  dishonest-debtors list (air and hotels refused), T on the unruly-passengers list (air only),
  to be merged and split.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from conftest import TODAY, make_id, write_csv
from servers import running
from socialcredit.api.keys import add_furnisher, add_gate, add_operator, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.store.tables import events, identifiers, links, list_entries, records, subjects

NAME, BIRTH, ADDRESS = "张伟", "1985-03-17", "北京市朝阳区建国路88号"
TWIN_A = make_id(region="110105", birth="19850317", seq=57)
TWIN_B = make_id(region="110105", birth="19850317", seq=59)  # differs from A at 2 places
PHONE_A, PHONE_B = "+8613800138001", "+8613800138002"
#: A's ID with one wrong digit (the first sequence digit): fails the check, near A only.
LOAN_ID = TWIN_A[:14] + str((int(TWIN_A[14]) + 1) % 10) + TWIN_A[15:]
#: A's body with B's check character: one edit from A and one edit from B.
AMBIGUOUS_ID = TWIN_A[:17] + TWIN_B[17]
SERVICES = ["air", "hotel_star"]
AS_OF = TODAY.isoformat()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ingest(reg: Registry, furnisher: str, path: Path, rows: list[dict[str, Any]]) -> Any:
    return ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, furnisher),
                       path=write_csv(path, rows), as_of=TODAY)


def _court_judgment(frid: str, nid: str, phone: str) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "court_judgment", "occurred_at": "2026-02-01",
            "national_id": nid, "phone": phone, "name": NAME, "birth_date": BIRTH,
            "address": ADDRESS, "case_number": f"(2026)京0105民{frid}号",
            "amount_minor": 80_000_00, "currency": "CNY"}


def _subject_id(reg: Registry, nid: str) -> int:
    with reg.store.read() as conn:
        return int(conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid)
                                ).scalar_one())


def _record(reg: Registry, furnisher: str, frid: str) -> Any:
    with reg.store.read() as conn:
        return conn.execute(select(records).where(
            records.c.furnisher_id == furnisher_id(reg.store, furnisher),
            records.c.furnisher_record_id == frid)).one()


def _subject_of(reg: Registry, record_id: int) -> int | None:
    with reg.store.read() as conn:
        sid = conn.execute(select(records.c.subject_id).where(records.c.id == record_id)
                           ).scalar_one()
    return None if sid is None else int(sid)


def _live_entries(reg: Registry, record_id: int) -> list[tuple[int, str]]:
    """(subject id, status) of the record's entries that are active or pending review."""
    with reg.store.read() as conn:
        return sorted((int(e.subject_id), e.status) for e in conn.execute(
            select(list_entries).where(list_entries.c.record_id == record_id,
                                       list_entries.c.status.in_(["active", "pending_review"]))))


def _decision(base: str, key: str, service: str, nid: str) -> dict[str, Any]:
    r = httpx.post(base + "/v1/decisions", json={"service": service, "national_id": nid},
                   headers=_bearer(key), timeout=20)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _eventually(base: str, key: str, service: str, nid: str, want: str) -> dict[str, Any]:
    """The decision once it is ``want`` (gates follow the ledger; DESIGN §3.5: within 1 s)."""
    deadline = time.monotonic() + 3
    while True:
        d = _decision(base, key, service, nid)
        if d["decision"] == want or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def _cli(db: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=db, COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "socialcredit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# ----------------------------------------------------------------------------- the twins
@pytest.fixture
def twins(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry, dict[str, Any]]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices"),
                   today=TODAY)
    reg.ensure_schema()
    keys = {"court": add_furnisher(reg.store, name="court", kind="court"),
            "bank": add_furnisher(reg.store, name="bank", kind="lender"),
            "gate": add_gate(reg.store, reg.policy, name="airline", services=SERVICES),
            "ops": add_operator(reg.store, name="ops")}
    assert _ingest(reg, "court", tmp_path / "a.csv",
                   [_court_judgment("A1", TWIN_A, PHONE_A)]).accepted == 1
    loan = {"furnisher_record_id": "L-1", "kind": "loan_default", "occurred_at": "2026-03-01",
            "national_id": LOAN_ID, "phone": PHONE_A, "name": NAME, "birth_date": BIRTH,
            "loan_id": "LN-77", "amount_minor": 12_000_00, "currency": "CNY",
            "days_past_due": 95}
    assert _ingest(reg, "bank", tmp_path / "loan.csv", [loan]).accepted == 1
    assert _ingest(reg, "court", tmp_path / "b.csv",
                   [_court_judgment("B1", TWIN_B, PHONE_B)]).accepted == 1
    finding = {"furnisher_record_id": "F-1", "kind": "dishonesty_finding",
               "occurred_at": "2026-04-01", "national_id": AMBIGUOUS_ID, "name": NAME,
               "birth_date": BIRTH, "address": ADDRESS, "case_number": "(2026)京0105执9号",
               "ground": 1, "amount_minor": 80_000_00, "currency": "CNY"}
    assert _ingest(reg, "court", tmp_path / "finding.csv", [finding]).accepted == 1
    ids = {"A": _subject_id(reg, TWIN_A), "B": _subject_id(reg, TWIN_B),
           "loan": int(_record(reg, "bank", "L-1").id),
           "finding": int(_record(reg, "court", "F-1").id),
           "court_a": int(_record(reg, "court", "A1").id)}
    with running(reg) as base:
        yield base, reg, {"keys": keys, "ids": ids}
    reg.close()


def _pairs(base: str, ops: str, record_id: int) -> list[dict[str, Any]]:
    r = httpx.get(base + "/v1/operator/links", headers=_bearer(ops), timeout=20)
    assert r.status_code == 200, r.text
    return [p for p in r.json()["data"] if p["record"]["id"] == record_id]


def test_a_one_digit_typo_links_to_the_right_subject(
        twins: tuple[str, Registry, dict[str, Any]]) -> None:
    _, reg, w = twins
    ids = w["ids"]
    loan = _record(reg, "bank", "L-1")
    assert loan.national_id is None and loan.claimed_id == LOAN_ID  # kept, never trusted
    assert _subject_of(reg, ids["loan"]) == ids["A"]
    with reg.store.read() as conn:
        link = conn.execute(select(links).where(links.c.record_id == ids["loan"])).one()
    assert (link.subject_id, link.rule, link.status) == (ids["A"], "probabilistic",
                                                         "confirmed")
    assert json.loads(link.explanation), "a link stores its per-comparison contributions"


def test_the_queue_lists_both_twins_with_contributions(
        twins: tuple[str, Registry, dict[str, Any]], db_url: str, tmp_path: Path) -> None:
    base, reg, w = twins
    ids, ops = w["ids"], w["keys"]["ops"]
    pairs = _pairs(base, ops, ids["finding"])
    assert {p["subject"]["id"] for p in pairs} == {ids["A"], ids["B"]}
    assert [p["match_weight"] for p in pairs] == sorted(
        (p["match_weight"] for p in pairs), reverse=True)
    for p in pairs:
        assert p["status"] == "open"
        assert reg.policy.identity.linkage.review_probability <= p["match_probability"] <= 1
        assert p["record"]["claimed_id"] == AMBIGUOUS_ID
        assert (p["record"]["furnisher"], p["record"]["kind"]) == ("court",
                                                                  "dishonesty_finding")
        assert p["explanation"] and all(
            isinstance(c["level"], str) and (c["weight"] is None or isinstance(
                c["weight"], float)) for c in p["explanation"].values())
    (tentative,) = [p for p in pairs if p["record"]["tentative"]]
    # the record rests on one twin, pending: its entry sanctions nothing yet
    assert _subject_of(reg, ids["finding"]) == tentative["subject"]["id"]
    assert _live_entries(reg, ids["finding"]) == [(tentative["subject"]["id"],
                                                   "pending_review")]
    nid = tentative["subject"]["national_id"]
    assert _decision(base, w["keys"]["gate"], "air", nid)["decision"] == "allow"
    # pagination
    r = httpx.get(base + "/v1/operator/links", params={"limit": 1, "offset": 1},
                  headers=_bearer(ops))
    assert r.json()["count"] >= 2 and len(r.json()["data"]) == 1
    # the CLI lists the same queue, and a table that fits 100 columns
    out = _cli(db_url, tmp_path, "link", "review", "--json")
    assert out.returncode == 0, out.stderr
    everything = httpx.get(base + "/v1/operator/links", headers=_bearer(ops)).json()
    assert json.loads(out.stdout) == everything
    table = _cli(db_url, tmp_path, "link", "review")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    text = table.stdout
    for p in pairs:
        assert str(p["id"]) in text and p["subject"]["national_id"] in text
        assert f"{p['match_weight']:.2f}" in text
    assert all(name in text for name in tentative["explanation"])


def test_accept_over_http_moves_the_record_and_the_entry_takes_effect(
        twins: tuple[str, Registry, dict[str, Any]]) -> None:
    base, reg, w = twins
    ids, ops, gate = w["ids"], w["keys"]["ops"], w["keys"]["gate"]
    pairs = _pairs(base, ops, ids["finding"])
    (tentative,) = [p for p in pairs if p["record"]["tentative"]]
    (other,) = [p for p in pairs if not p["record"]["tentative"]]
    right, wrong = other["subject"], tentative["subject"]
    r = httpx.post(base + f"/v1/operator/links/{other['id']}/accept",
                   json={"note": "birth certificate seen"}, headers=_bearer(ops))
    assert r.status_code == 200, r.text
    assert r.json() == {"record_id": ids["finding"], "subject_id": right["id"],
                        "moved_from": wrong["id"]}
    assert _subject_of(reg, ids["finding"]) == right["id"]
    assert _live_entries(reg, ids["finding"]) == [(right["id"], "active")]
    assert _pairs(base, ops, ids["finding"]) == []  # both pairs are decided
    assert _eventually(base, gate, "air", right["national_id"], "deny")["decision"] == "deny"
    assert _decision(base, gate, "air", wrong["national_id"])["decision"] == "allow"
    with reg.store.read() as conn:
        linked = [json.loads(p) for p in conn.execute(select(events.c.payload).where(
            events.c.type == "record.linked", events.c.subject_id == right["id"])).scalars()]
    assert any(e.get("by") == "operator:ops" and e["record_id"] == ids["finding"]
               for e in linked)
    # decided pairs cannot be decided again
    for pair in (other, tentative):
        again = httpx.post(base + f"/v1/operator/links/{pair['id']}/accept",
                           headers=_bearer(ops))
        assert again.status_code == 409, again.text
        assert again.json()["error"]["code"] == "conflict"


def test_reject_moves_to_the_next_candidate_then_unlinks(
        twins: tuple[str, Registry, dict[str, Any]]) -> None:
    base, reg, w = twins
    ids, ops, gate = w["ids"], w["keys"]["ops"], w["keys"]["gate"]
    pairs = _pairs(base, ops, ids["finding"])
    (tentative,) = [p for p in pairs if p["record"]["tentative"]]
    (other,) = [p for p in pairs if not p["record"]["tentative"]]
    r = httpx.post(base + f"/v1/operator/links/{tentative['id']}/reject", json={},
                   headers=_bearer(ops))
    assert r.status_code == 200, r.text
    assert r.json()["subject_id"] == other["subject"]["id"]
    assert _subject_of(reg, ids["finding"]) == other["subject"]["id"]
    # still only a probabilistic link: pending, refused nowhere
    assert _live_entries(reg, ids["finding"]) == [(other["subject"]["id"], "pending_review")]
    assert _decision(base, gate, "air", other["subject"]["national_id"])["decision"] == "allow"
    (left,) = _pairs(base, ops, ids["finding"])
    assert left["id"] == other["id"] and left["record"]["tentative"]
    r = httpx.post(base + f"/v1/operator/links/{other['id']}/reject",
                   json={"note": "neither twin"}, headers=_bearer(ops))
    assert r.status_code == 200 and r.json()["subject_id"] is None
    assert _subject_of(reg, ids["finding"]) is None
    assert _live_entries(reg, ids["finding"]) == []
    assert _pairs(base, ops, ids["finding"]) == []


def test_unlink_over_http(twins: tuple[str, Registry, dict[str, Any]]) -> None:
    base, reg, w = twins
    ids, ops = w["ids"], w["keys"]["ops"]
    url = base + f"/v1/operator/records/{ids['loan']}/unlink"
    r = httpx.post(url, json={"reason": "   "}, headers=_bearer(ops))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"
    assert _subject_of(reg, ids["loan"]) == ids["A"]  # nothing changed
    r = httpx.post(url, json={"reason": "the subject disputed it: not her loan"},
                   headers=_bearer(ops))
    assert r.status_code == 200, r.text
    assert r.json() == {"record_id": ids["loan"], "subject_id": None, "was": ids["A"]}
    assert _subject_of(reg, ids["loan"]) is None
    assert httpx.post(url, json={"reason": "again"}, headers=_bearer(ops)).status_code == 409
    # a record carrying the subject's own checksum-valid ID is corrected, not unlinked
    r = httpx.post(base + f"/v1/operator/records/{ids['court_a']}/unlink",
                   json={"reason": "x"}, headers=_bearer(ops))
    assert r.status_code == 409 and _subject_of(reg, ids["court_a"]) == ids["A"]


# ----------------------------------------------------------------------------- merge / split
LISTED = make_id(region="320102", birth="19700505", seq=35)
PASSENGER = make_id(region="320102", birth="19720606", seq=41)


@pytest.fixture
def pair(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry, dict[str, Any]]]:
    reg = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices"),
                   today=TODAY)
    reg.ensure_schema()
    keys = {"court": add_furnisher(reg.store, name="court", kind="court"),
            "carrier": add_furnisher(reg.store, name="carrier", kind="transport"),
            "gate": add_gate(reg.store, reg.policy, name="airline", services=SERVICES),
            "ops": add_operator(reg.store, name="ops")}
    court = [{"furnisher_record_id": "S-1", "kind": "dishonesty_finding",
              "occurred_at": "2026-03-01", "national_id": LISTED, "phone": "+8613900139001",
              "name": "李娜", "case_number": "(2026)苏0102执5号", "ground": 1,
              "amount_minor": 30_000_00, "currency": "CNY"},
             {"furnisher_record_id": "T-1", "kind": "court_judgment",
              "occurred_at": "2026-01-10", "national_id": PASSENGER, "name": "李娜",
              "phone": "+8613900139002", "case_number": "(2026)苏0102民7号",
              "amount_minor": 5_000_00, "currency": "CNY"}]
    assert _ingest(reg, "court", tmp_path / "court.csv", court).accepted == 2
    flight = [{"furnisher_record_id": "U-1", "kind": "unruly_passenger",
               "occurred_at": "2026-05-02", "national_id": PASSENGER,
               "phone": "+8613900139002", "name": "李娜", "service": "air",
               "conduct": "smoking_on_board"}]
    assert _ingest(reg, "carrier", tmp_path / "flight.csv", flight).accepted == 1
    ids = {"S": _subject_id(reg, LISTED), "T": _subject_id(reg, PASSENGER)}
    with running(reg) as base:
        yield base, reg, {"keys": keys, "ids": ids}
    reg.close()


def _state(reg: Registry, sid: int) -> dict[str, Any]:
    """What a subject holds: records, identifiers, list entries (id, list, status), and
    whether it is merged into another."""
    with reg.store.read() as conn:
        return {
            "records": sorted(conn.execute(select(records.c.id).where(
                records.c.subject_id == sid)).scalars()),
            "identifiers": sorted((i.kind, i.value) for i in conn.execute(select(
                identifiers.c.kind, identifiers.c.value).where(
                identifiers.c.subject_id == sid))),
            "entries": sorted((e.id, e.list, e.status) for e in conn.execute(select(
                list_entries.c.id, list_entries.c.list, list_entries.c.status).where(
                list_entries.c.subject_id == sid))),
            "merged_into": conn.execute(select(subjects.c.merged_into).where(
                subjects.c.id == sid)).scalar_one(),
        }


def test_merge_and_split_from_the_cli_and_gates_follow(
        pair: tuple[str, Registry, dict[str, Any]], db_url: str, tmp_path: Path) -> None:
    base, reg, w = pair
    s, t, gate = w["ids"]["S"], w["ids"]["T"], w["keys"]["gate"]
    before = {s: _state(reg, s), t: _state(reg, t)}
    assert [e[1] for e in before[t]["entries"]] == ["unruly_passengers"]
    assert len(before[t]["records"]) == 2 and before[t]["identifiers"]
    assert _decision(base, gate, "hotel_star", PASSENGER)["decision"] == "allow"
    assert _decision(base, gate, "air", PASSENGER)["decision"] == "deny"

    r = _cli(db_url, tmp_path, "link", "merge", str(s), str(t), "--reason",
             "one person: the second ID was re-issued", "--as-of", AS_OF, "--json")
    assert r.returncode == 0, r.stderr
    merged = json.loads(r.stdout)
    assert (merged["records"], merged["identifiers"], merged["entries"]) == (
        len(before[t]["records"]), len(before[t]["identifiers"]), len(before[t]["entries"]))
    after = {s: _state(reg, s), t: _state(reg, t)}
    assert set(after[s]["records"]) == set(before[s]["records"]) | set(before[t]["records"])
    assert set(after[s]["identifiers"]) == set(before[s]["identifiers"]) | set(
        before[t]["identifiers"])
    assert {e[0] for e in after[s]["entries"]} == {e[0] for e in before[s]["entries"]} | {
        e[0] for e in before[t]["entries"]}
    assert after[t] == {"records": [], "identifiers": [], "entries": [], "merged_into": s}
    # the absorbed ID now answers with the survivor's listing, on a running server
    deny = _eventually(base, gate, "hotel_star", PASSENGER, "deny")
    assert deny["decision"] == "deny"
    assert {x["list"] for x in deny["reasons"]} >= {"dishonest_judgment_debtors"}
    with reg.store.read() as conn:
        (event,) = [json.loads(p) for p in conn.execute(select(events.c.payload).where(
            events.c.type == "subject.merged")).scalars()]
    assert event["by"] == "cli:" + getpass.getuser() and event["absorbed_id"] == t

    r = _cli(db_url, tmp_path, "link", "split", str(merged["merge_id"]), "--reason",
             "two people after all", "--as-of", AS_OF)
    assert r.returncode == 0, r.stderr
    assert f"Merge {merged['merge_id']} split" in r.stdout
    assert {s: _state(reg, s), t: _state(reg, t)} == before
    allow = _eventually(base, gate, "hotel_star", PASSENGER, "allow")
    assert allow["decision"] == "allow"
    assert _decision(base, gate, "air", PASSENGER)["decision"] == "deny"  # T's own entry

    # errors: one line, the right exit code, no traceback
    again = _cli(db_url, tmp_path, "link", "split", str(merged["merge_id"]), "--reason", "x")
    assert again.returncode == 1 and "already split" in again.stderr
    blank = _cli(db_url, tmp_path, "link", "merge", str(s), str(t), "--reason", " ")
    assert blank.returncode == 2 and "reason" in blank.stderr
    missing = _cli(db_url, tmp_path, "link", "accept", "987654")
    assert missing.returncode == 1 and "no link candidate 987654" in missing.stderr
    for run in (again, blank, missing):
        assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert {s: _state(reg, s), t: _state(reg, t)} == before


def test_merge_and_split_over_http_and_the_errors(
        pair: tuple[str, Registry, dict[str, Any]]) -> None:
    base, reg, w = pair
    s, t = w["ids"]["S"], w["ids"]["T"]
    ops, court = _bearer(w["keys"]["ops"]), _bearer(w["keys"]["court"])
    before = {s: _state(reg, s), t: _state(reg, t)}
    body = {"survivor_id": s, "absorbed_id": t, "reason": "same person"}
    with httpx.Client(base_url=base, timeout=20) as c:
        # the role: operators only
        assert c.post("/v1/operator/merges", json=body).status_code == 401
        for method, path, payload in (
                ("GET", "/v1/operator/links", None),
                ("POST", "/v1/operator/merges", body),
                ("POST", "/v1/operator/links/1/accept", {}),
                ("POST", "/v1/operator/records/1/unlink", {"reason": "x"})):
            r = c.request(method, path, json=payload, headers=court)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", path
        assert _state(reg, t) == before[t]
        # bad input
        r = c.post("/v1/operator/merges", json={**body, "reason": ""}, headers=ops)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_input"
        r = c.post("/v1/operator/merges", json={**body, "absorbed_id": s}, headers=ops)
        assert r.status_code == 400
        # unknown ids
        for path, payload in (("/v1/operator/links/987654/accept", {}),
                              ("/v1/operator/links/987654/reject", {"note": "x"}),
                              ("/v1/operator/records/987654/unlink", {"reason": "x"}),
                              ("/v1/operator/merges/987654/split", {"reason": "x"})):
            r = c.post(path, json=payload, headers=ops)
            assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
        r = c.post("/v1/operator/merges", json={**body, "absorbed_id": 987654}, headers=ops)
        assert r.status_code == 404
        assert {s: _state(reg, s), t: _state(reg, t)} == before
        # merge, merge again (409), split, split again (409)
        r = c.post("/v1/operator/merges", json=body, headers=ops)
        assert r.status_code == 201, r.text
        merge_id = r.json()["merge_id"]
        assert _state(reg, t)["merged_into"] == s
        assert set(_state(reg, s)["records"]) > set(before[s]["records"])
        assert c.post("/v1/operator/merges", json=body, headers=ops).status_code == 409
        r = c.post(f"/v1/operator/merges/{merge_id}/split", json={"reason": "two people"},
                   headers=ops)
        assert r.status_code == 200, r.text
        assert r.json()["records"] == len(before[t]["records"])
        assert {s: _state(reg, s), t: _state(reg, t)} == before
        r = c.post(f"/v1/operator/merges/{merge_id}/split", json={"reason": "again"},
                   headers=ops)
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    with reg.store.read() as conn:
        who = {json.loads(p)["by"] for p in conn.execute(select(events.c.payload).where(
            events.c.type.in_(["subject.merged", "subject.split"]))).scalars()}
    assert who == {"operator:ops"}
