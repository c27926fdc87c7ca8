"""Due process end to end over HTTP on a real server: sign-in by one-time code, the file,
a dispute answered by the furnisher, an appeal decided by an operator, a human review — and
the abuse cases (wrong, replayed and locked codes, forged CSRF, another subject's dispute,
another furnisher's answer), each a clear 4xx and an ``access.refused`` ledger event."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import TODAY, last_code, make_id, trust_channel, write_csv
from servers import running
from socialcredit.api.due_process import COOKIE
from socialcredit.api.keys import add_furnisher, add_gate, add_operator, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.store.tables import events

DEBTOR = make_id(region="440103", birth="19850317", seq=57)
PHONE = "+8613800138000"
NEIGHBOUR = make_id(region="440103", birth="19700101", seq=33)
NEIGHBOUR_PHONE = "+8613700137000"


def _finding(frid: str, nid: str, phone: str, case: str) -> dict[str, object]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding",
            "occurred_at": "2026-05-01", "national_id": nid, "phone": phone, "name": "陈静",
            "case_number": case, "ground": 1, "amount_minor": 50_000_00, "currency": "CNY"}


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[str, Registry, dict[str, str]]]:
    settings = Settings(database_url=db_url, notices_dir=tmp_path / "notices",
                        clocks_every_seconds=0.2)
    reg = Registry(settings, today=TODAY)
    reg.ensure_schema()
    keys = {"court": add_furnisher(reg.store, name="court", kind="court"),
            "other": add_furnisher(reg.store, name="other-court", kind="court"),
            "gate": add_gate(reg.store, reg.policy, name="airline", services=["air"]),
            "ops": add_operator(reg.store, name="ops")}
    rows = [_finding("A-1", DEBTOR, PHONE, "(2026)粤01执1号"),
            _finding("A-2", NEIGHBOUR, NEIGHBOUR_PHONE, "(2026)粤01执2号")]
    ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court"),
                path=write_csv(tmp_path / "court.csv", rows), as_of=TODAY)
    for nid, phone in ((DEBTOR, PHONE), (NEIGHBOUR, NEIGHBOUR_PHONE)):
        trust_channel(reg, nid, phone)  # one furnisher's phone gives no channel (#20)
    with running(reg) as base:
        yield base, reg, keys


def _refusals(reg: Registry) -> list[dict[str, Any]]:
    with reg.store.read() as conn:
        return [json.loads(p) for p in conn.execute(
            select(events.c.payload).where(events.c.type == "access.refused")).scalars()]


def _sign_in(c: httpx.Client, reg: Registry, nid: str, phone: str) -> str:
    r = c.post("/v1/me/sign-in", json={"national_id": nid, "phone": phone})
    assert r.status_code == 202, r.text
    r = c.post("/v1/me/session", json={"national_id": nid, "phone": phone,
                                       "code": last_code(reg.settings.notices_dir)})
    assert r.status_code == 200, r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    return str(r.json()["csrf"])


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_dispute_from_sign_in_to_appeal_over_http(
        served: tuple[str, Registry, dict[str, str]]) -> None:
    base, reg, keys = served
    with httpx.Client(base_url=base, timeout=20) as c:
        before = len(_refusals(reg))
        unknown = c.post("/v1/me/sign-in", json={"national_id": NEIGHBOUR, "phone": PHONE})
        assert unknown.status_code == 202  # same answer: the phone is not the neighbour's
        deadline = time.monotonic() + 20  # the lookup and its refusal run in the background
        while len(_refusals(reg)) < before + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(_refusals(reg)) == before + 1
        csrf = _sign_in(c, reg, DEBTOR, PHONE)
        file = c.get("/v1/me/file").json()
        assert [e["status"] for e in file["entries"]] == ["active"]
        entry = file["entries"][0]
        assert entry["sanctions"]["air"] and entry["ends_when"]
        assert "national ID" in file["records"][0]["linked_because"]
        # the decision a gate made is in the file and can be reviewed by a person
        deny = httpx.post(base + "/v1/decisions", json={"service": "air",
                                                        "national_id": DEBTOR},
                          headers=_bearer(keys["gate"])).json()
        assert deny["decision"] == "deny"
        # a dispute needs the CSRF token of the session
        r = c.post("/v1/me/disputes", json={"entry_id": entry["id"], "reason": "paid"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        r = c.post("/v1/me/disputes", json={"entry_id": entry["id"], "reason": "paid"},
                   headers={"X-CSRF-Token": "forged"})
        assert r.status_code == 403
        assert len([x for x in _refusals(reg) if "CSRF" in x["reason"]]) == 2
        r = c.post("/v1/me/disputes", json={"entry_id": 999_999, "reason": "x"},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 404
        r = c.post("/v1/me/disputes", json={"entry_id": entry["id"], "reason": "I paid"},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        dispute = r.json()
        assert dispute["status"] == "open" and dispute["due_on"] > TODAY.isoformat()

        # the furnisher sees it; another furnisher cannot answer it
        mine = httpx.get(base + "/v1/furnisher/disputes", headers=_bearer(keys["court"]))
        assert [d["id"] for d in mine.json()["data"]] == [dispute["id"]]
        theirs = httpx.get(base + "/v1/furnisher/disputes", headers=_bearer(keys["other"]))
        assert theirs.json()["count"] == 0
        r = httpx.post(base + f"/v1/furnisher/disputes/{dispute['id']}",
                       json={"answer": "delete"}, headers=_bearer(keys["other"]))
        assert r.status_code == 403
        assert any(x["reason"] == "another furnisher's dispute" for x in _refusals(reg))
        r = httpx.post(base + f"/v1/furnisher/disputes/{dispute['id']}",
                       json={"answer": "verify", "note": "the debt stands"},
                       headers=_bearer(keys["court"]))
        assert r.status_code == 200 and r.json()["status"] == "verified"

        # the subject appeals; the operator overturns; gates follow
        r = c.post(f"/v1/me/disputes/{dispute['id']}/appeal",
                   json={"reason": "receipt attached"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200 and r.json()["status"] == "appealed"
        queue = httpx.get(base + "/v1/operator/appeals", headers=_bearer(keys["ops"])).json()
        assert [d["id"] for d in queue["data"]] == [dispute["id"]]
        r = httpx.post(base + f"/v1/operator/appeals/{dispute['id']}",
                       json={"outcome": "overturned", "note": "receipt is genuine"},
                       headers=_bearer(keys["ops"]))
        assert r.status_code == 200 and r.json()["status"] == "overturned"
        allow = httpx.post(base + "/v1/decisions", json={"service": "air",
                                                         "national_id": DEBTOR},
                           headers=_bearer(keys["gate"])).json()
        assert allow["decision"] == "allow"

        # a human review of the earlier refusal
        r = c.post("/v1/me/reviews", json={"decision_id": deny["decision_id"],
                                           "reason": "I had paid"},
                   headers={"X-CSRF-Token": csrf})
        # the refusal reaches the decisions log within a follower tick
        for _ in range(50):
            if r.status_code != 404:
                break
            time.sleep(0.1)
            r = c.post("/v1/me/reviews", json={"decision_id": deny["decision_id"],
                                               "reason": "I had paid"},
                       headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        review = r.json()
        queue = httpx.get(base + "/v1/operator/reviews", headers=_bearer(keys["ops"])).json()
        assert [q["id"] for q in queue["data"]] == [review["id"]]
        r = httpx.post(base + f"/v1/operator/reviews/{review['id']}",
                       json={"outcome": "upheld", "note": "it was right at the time"},
                       headers=_bearer(keys["ops"]))
        assert r.status_code == 200 and r.json()["status"] == "upheld"

        # the clocks thread serves the notices; the file shows them
        for _ in range(100):
            kinds = {n["kind"] for n in c.get("/v1/me/file").json()["notices"]
                     if n["served_at"]}
            if {"listing", "dispute_answered", "dispute_outcome", "refusal",
                    "review_outcome", "removal"} <= kinds:
                break
            time.sleep(0.1)
        assert {"listing", "dispute_answered", "dispute_outcome", "refusal",
                "review_outcome", "removal"} <= kinds
        # sign out: the session cookie no longer works
        assert c.delete("/v1/me/session", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert c.get("/v1/me/file").status_code == 401  # the ended session
    with httpx.Client(base_url=base, timeout=20, cookies={COOKIE: "forged"}) as forged:
        assert forged.get("/v1/me/file").status_code == 401


def test_sign_in_abuse_is_refused_and_audited(
        served: tuple[str, Registry, dict[str, str]]) -> None:
    base, reg, keys = served
    # another subject's file and dispute are out of reach
    with httpx.Client(base_url=base, timeout=20) as neighbour:
        csrf = _sign_in(neighbour, reg, NEIGHBOUR, NEIGHBOUR_PHONE)
        file = neighbour.get("/v1/me/file").json()
        assert DEBTOR[-4:] not in json.dumps(file)
    with httpx.Client(base_url=base, timeout=20) as debtor:
        debtor_csrf = _sign_in(debtor, reg, DEBTOR, PHONE)
        entry = debtor.get("/v1/me/file").json()["entries"][0]["id"]
        d = debtor.post("/v1/me/disputes", json={"entry_id": entry, "reason": "x"},
                        headers={"X-CSRF-Token": debtor_csrf}).json()
        # the neighbour's session with the debtor's CSRF token, and the other way round
        assert neighbour_post(base, csrf, reg, d["id"]) == 404
        forged = debtor.post(f"/v1/me/disputes/{d['id']}/appeal", json={"reason": "x"},
                             headers={"X-CSRF-Token": csrf})
        assert forged.status_code == 403
    with reg.store.read() as conn:
        n = conn.execute(select(func.count()).select_from(events).where(
            events.c.type == "access.refused")).scalar_one()
    # the neighbour's try at the debtor's dispute, the forged CSRF token, each on the ledger
    assert n == 2
    # last (the debtor stays locked a while): wrong codes, then locked
    with httpx.Client(base_url=base, timeout=20) as c:
        ids = {"national_id": DEBTOR, "phone": PHONE}
        assert c.post("/v1/me/sign-in", json=ids).status_code == 202
        code = last_code(reg.settings.notices_dir)
        wrong = "000000" if code != "000000" else "111111"
        before = len(_refusals(reg))
        statuses = [c.post("/v1/me/session", json={**ids, "code": wrong}).status_code
                    for _ in range(reg.policy.due_process.sign_in_max_attempts + 1)]
        assert statuses[:-2] == [401] * (len(statuses) - 2)
        assert statuses[-2:] == [429, 429]  # locked: even the right code is refused now
        locked = c.post("/v1/me/session", json={**ids, "code": code})
        assert locked.status_code == 429 and "wrong codes" in locked.json()["error"]["message"]
        assert len(_refusals(reg)) >= before + len(statuses) + 1
        # a new code does not unlock (issue #20: wrong codes count across codes)
        assert c.post("/v1/me/sign-in", json=ids).status_code == 202
        code = last_code(reg.settings.notices_dir)
        assert c.post("/v1/me/session", json={**ids, "code": code}).status_code == 429
        bad = c.post("/v1/me/session", json={**ids, "code": "x" * 13})
        assert bad.status_code == 422


def neighbour_post(base: str, csrf: str, reg: Registry, dispute_id: int) -> int:
    """The neighbour appeals the debtor's dispute with their own valid session."""
    with httpx.Client(base_url=base, timeout=20) as c:
        token = _sign_in_token(c, reg)
        r = c.post(f"/v1/me/disputes/{dispute_id}/appeal", json={"reason": "x"},
                   headers={"X-CSRF-Token": token})
        return r.status_code


def _sign_in_token(c: httpx.Client, reg: Registry) -> str:
    return _sign_in(c, reg, NEIGHBOUR, NEIGHBOUR_PHONE)
