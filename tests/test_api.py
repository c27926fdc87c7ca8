"""The HTTP API on a real server: roles, records in, decisions out, public search, errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from conftest import TODAY, make_id
from servers import running
from socialcredit.api.keys import add_furnisher, add_gate, add_operator
from socialcredit.api.registry import Registry

DEBTOR = make_id(region="440103", birth="19850317", seq=57)


@pytest.fixture
def api(registry: Registry) -> Iterator[tuple[str, dict[str, str]]]:
    keys = {
        "court": add_furnisher(registry.store, name="court-gz", kind="court"),
        "air": add_gate(registry.store, registry.policy, name="airline", services=["air"]),
        "hotel": add_gate(registry.store, registry.policy, name="hotel",
                          services=["hotel_star"]),
        "operator": add_operator(registry.store, name="ops"),
    }
    with running(registry) as base:
        yield base, keys


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


FINDING = {"furnisher_record_id": "F-1", "kind": "dishonesty_finding",
           "occurred_at": "2026-02-01", "national_id": DEBTOR, "name": "陈静",
           "case_number": "(2026)粤0103执77号", "ground": 2, "amount_minor": 9_999_00,
           "currency": "CNY"}


def test_records_to_decision_to_public_search(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    with httpx.Client(base_url=base, timeout=10) as c:
        bad = dict(FINDING, furnisher_record_id="F-2", ground=9)
        r = c.post("/v1/records", json={"records": [FINDING, bad]}, headers=_h(keys["court"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["accepted"], body["rejected"]) == (1, 1)
        assert body["problems"][0]["line"] == 2 and body["problems"][0]["field"] == "ground"
        r = c.post("/v1/decisions", json={"service": "air", "national_id": DEBTOR},
                   headers=_h(keys["air"]))
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["decision"] == "deny" and d["reasons"][0]["ground"] == 2
        assert d["reasons"][0]["furnisher"] == "court-gz"
        assert d["reasons"][0]["since"] == "2026-02-01"
        r = c.post("/v1/decisions", json={"service": "air", "national_id": make_id(seq=1)},
                   headers=_h(keys["air"]))
        # an allow reveals nothing: no reasons, and no benefits for a person on no red list
        assert r.json() == {"decision": "allow", "decision_id": r.json()["decision_id"],
                            "service": "air", "reasons": [], "benefits": []}
        r = c.get("/v1/public/entries", params={"q": "陈静"})
        assert r.status_code == 200
        (hit,) = r.json()["data"]
        assert hit["masked_id"] == DEBTOR[:6] + "*" * 12
        assert DEBTOR not in r.text and hit["case_number"] == FINDING["case_number"]
        assert c.get("/v1/public/entries", params={"q": DEBTOR}).json()["count"] == 1
        page = c.get("/", params={"q": "陈静"})
        assert page.status_code == 200 and "陈静" in page.text and DEBTOR not in page.text
        # full performance through the API reaches the gate (index follows the ledger)
        perf = {"furnisher_record_id": "P-1", "kind": "judgment_performance",
                "occurred_at": "2026-03-01", "national_id": DEBTOR,
                "case_number": FINDING["case_number"], "amount_minor": 9_999_00,
                "currency": "CNY", "full": True}
        assert c.post("/v1/records", json={"records": [perf]},
                      headers=_h(keys["court"])).json()["accepted"] == 1
        start = time.monotonic()
        while True:
            d = c.post("/v1/decisions", json={"service": "air", "national_id": DEBTOR},
                       headers=_h(keys["air"])).json()
            if d["decision"] == "allow" or time.monotonic() - start > 2:
                break
        assert d["decision"] == "allow"
        assert c.get("/v1/public/entries", params={"q": "陈静"}).json()["count"] == 0
        report = c.get("/v1/report", headers=_h(keys["operator"])).json()
        assert report["decisions"]["air"]["deny"] == 1
        assert report["entries"]["dishonest_judgment_debtors"]["removed"] == 1
        verify = c.get("/v1/audit/verify", headers=_h(keys["operator"])).json()
        assert verify["ok"] is True and verify["events"] > 0


@pytest.mark.parametrize(("method", "path", "key", "body", "status"), [
    ("post", "/v1/decisions", None, {"service": "air", "national_id": DEBTOR}, 401),
    ("post", "/v1/decisions", "court", {"service": "air", "national_id": DEBTOR}, 403),
    ("post", "/v1/decisions", "hotel", {"service": "air", "national_id": DEBTOR}, 403),
    ("post", "/v1/records", "air", {"records": [FINDING]}, 403),
    ("post", "/v1/records", "operator", {"records": [FINDING]}, 403),
    ("get", "/v1/report", "court", None, 403),
    ("get", "/v1/report", "air", None, 403),
    ("get", "/v1/audit/verify", None, None, 401),
    ("get", "/v1/furnisher/rejects", "air", None, 403),
    ("post", "/v1/decisions", "bogus", {"service": "air", "national_id": DEBTOR}, 401),
])
def test_roles(api: tuple[str, dict[str, str]], method: str, path: str, key: str | None,
               body: object, status: int) -> None:
    base, keys = api
    headers = {} if key is None else _h(keys.get(key, "sc_f_000000000000_" + "x" * 43))
    r = httpx.request(method, base + path, json=body, headers=headers, timeout=10)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"code", "message", "details"} and err["message"]


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"service": "air", "national_id": "110101198001011230"}, 400, "invalid_identifier"),
    ({"service": "air", "national_id": "abc"}, 400, "invalid_identifier"),
    ({"service": "teleport", "national_id": DEBTOR}, 400, "unknown_service"),
    ({"service": "air"}, 400, "invalid_input"),
    ({"service": "air", "national_id": DEBTOR, "phone": "+8613812345678"}, 400,
     "invalid_input"),
    ({"national_id": DEBTOR}, 422, "validation_failed"),
    ({"service": "air", "national_id": DEBTOR, "colour": "red"}, 422, "validation_failed"),
    ({"service": "air", "phone": "12"}, 400, "invalid_identifier"),
])
def test_bad_decision_requests_get_clear_errors(api: tuple[str, dict[str, str]],
                                                body: dict[str, object], status: int,
                                                code: str) -> None:
    base, keys = api
    r = httpx.post(base + "/v1/decisions", json=body, headers=_h(keys["air"]), timeout=10)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text


def test_record_submission_errors(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    court = _h(keys["court"])
    r = httpx.post(base + "/v1/records", json={"records": [FINDING], "extra": 1}, headers=court)
    assert r.status_code == 422 and r.json()["error"]["details"]["problems"][0]["field"] == \
        "extra"
    r = httpx.post(base + "/v1/records", content=b'{"records": [', headers={
        **court, "content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["details"]["problems"][0]["field"] == "body"
    r = httpx.post(base + "/v1/records", content=b"x" * (21 * 1024 * 1024), headers={
        **court, "content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    long_id = dict(FINDING, furnisher_record_id="y" * 121)
    r = httpx.post(base + "/v1/records", json={"records": [long_id, FINDING]}, headers=court)
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["rejected"]) == (1, 1)
    again = httpx.post(base + "/v1/records", json={"records": [long_id, FINDING]}, headers=court)
    assert (again.json()["duplicates"], again.json()["rejected"]) == (1, 1)
    mine = httpx.get(base + "/v1/furnisher/rejects", headers=court).json()
    everyone = httpx.get(base + "/v1/furnisher/rejects", headers=_h(keys["operator"])).json()
    assert mine["count"] == everyone["count"] == 1
    assert mine["data"][0]["field"] == "furnisher_record_id"


def test_a_chunked_body_over_the_limit_is_refused(api: tuple[str, dict[str, str]]) -> None:
    """No Content-Length (chunked transfer): the limit is counted as the body streams in."""
    base, keys = api

    def chunks() -> Iterator[bytes]:
        yield b'{"records": ['
        for _ in range(21):
            yield b" " * (1024 * 1024)

    for path, key in (("/v1/records", "court"), ("/v1/decisions", "air")):
        r = httpx.post(base + path, content=chunks(), timeout=30,
                       headers={**_h(keys[key]), "content-type": "application/json"})
        assert r.status_code == 413, (path, r.text)
        assert r.json()["error"]["code"] == "payload_too_large"
    record = json.dumps(dict(FINDING, furnisher_record_id="F-chunked")).encode()
    small = httpx.post(base + "/v1/records", content=iter([b'{"records": [', record, b"]}"]),
                       headers={**_h(keys["court"]), "content-type": "application/json"})
    assert small.status_code == 200 and small.json()["accepted"] == 1, small.text


def test_public_search_refuses_enumeration(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    httpx.post(base + "/v1/records", json={"records": [FINDING]}, headers=_h(keys["court"]))
    assert httpx.get(base + "/v1/public/entries", params={"q": "陈静"}).json()["count"] == 1
    for q in ("陈", "%", "__", "*伟", DEBTOR[:6], DEBTOR[:12]):
        r = httpx.get(base + "/v1/public/entries", params={"q": q}, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["code"] in (
            "invalid_input", "invalid_identifier"), q
    page = httpx.get(base + "/", params={"q": "%%"}, timeout=10)
    assert page.status_code == 400 and "wildcards" in page.text
    r = httpx.post(base + "/v1/records", content=b"not json",
                   headers={"Authorization": "Bearer x", "content-type": "application/json"})
    assert r.status_code in (401, 422)
    assert TODAY.year == 2026
