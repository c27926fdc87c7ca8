"""Schemathesis over the whole OpenAPI document, once with each kind of caller.

Every operation of ``/openapi.json`` is called with generated requests (valid ones, then
invalid ones) with no key, a furnisher key, a gate key and an operator key, against an app on a
real SQLite file seeded with records and a listed person. Each response must:

* not be a 5xx (``not_a_server_error``);
* have a status the document declares for the operation (``status_code_conformance``; every
  error status is declared with the one error shape, ``ErrorOut``);
* match the declared schema and content type of that status (``response_schema_conformance``,
  ``content_type_conformance``, ``response_headers_conformance``).

Beyond schemathesis' checks: a caller whose role is not in the operation's ``x-roles`` never
gets a 2xx; each role reaches the handler (a 2xx) of every operation it may call, except the
operations of :data:`NEEDS_STATE`, whose 2xx needs something random input cannot make (an open
dispute, a pending review, a subject signed in with a code sent out of band); a 200 of
``POST /v1/records`` accounts for every record sent (accepted + rejected + duplicates).

Generated strings rarely name a real service, ID or name, so a drawn fraction of the cases has
a field replaced by a seeded value (:data:`HINTS`); such a case is still valid for the schema.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import TODAY, make_id
from socialcredit.api import create_app
from socialcredit.api.keys import add_furnisher, add_gate, add_operator
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_rows
from socialcredit.ingest.readers import RawRow
from socialcredit.reports import summarise
from socialcredit.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          content_type_conformance, response_headers_conformance]
#: Examples per operation and generation mode (valid, invalid) for a role the operation
#: accepts, and for one it refuses (a quick 401/403): ~20 operations × 4 roles keep the file
#: near 30 s of CPU on two cores.
MAX_EXAMPLES, REFUSED_EXAMPLES = 20, 6
ROLES = ("none", "furnisher", "gate", "operator")

DEBTOR = make_id(region="440103", birth="19850317", seq=57)
DEBTOR_NAME = "陈静"
OTHER = make_id(region="110101", birth="19700101", seq=11)
PHONE = "+8613800138000"


def _finding(frid: str, nid: str, name: str, case: str, **extra: Any) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding",
            "occurred_at": "2026-02-01", "national_id": nid, "name": name,
            "case_number": case, "ground": 2, "amount_minor": 999_900, "currency": "CNY",
            **extra}


SEED = [
    _finding("S-1", DEBTOR, DEBTOR_NAME, "(2026)粤0103执77号"),
    _finding("S-2", OTHER, "王伟", "(2026)京0101执1号"),
    {"furnisher_record_id": "S-3", "kind": "court_judgment", "occurred_at": "2025-12-01",
     "phone": PHONE, "case_number": "(2025)京0101民1号", "amount_minor": 100,
     "currency": "CNY"},
    _finding("S-4", "not-an-id", "bad", "(2026)x", ground=9),  # quarantined: rejects has data
]

#: Seeded values that a generated case may carry in place of a random string.
HINTS: dict[str, list[Any]] = {
    "service": ["air", "rail_hsr", "hotel_star", "ride_hail", "credit"],
    # with digits that str.isdigit() takes but int() or NumPy do not (once a 500)
    "national_id": [DEBTOR, OTHER, make_id(seq=5), "110101198001011²34", "１" * 18],
    "phone": [PHONE, "13800138000"],
    "name": [DEBTOR_NAME, "王伟"],
    "q": [DEBTOR_NAME, DEBTOR, "王伟", "Wang"],
    "platform": [None],  # a gate decides for its own platform only
}
IDENTIFIERS = ("national_id", "phone", "document", "passport")


@pytest.fixture(scope="module")
def fuzz_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str],
                                                                          Registry]]:
    """(schema of the whole app, role → Authorization header value or "", the registry)."""
    path: Path = tmp_path_factory.mktemp("fuzz_api") / "registry.db"
    # the public rate limit is tested elsewhere; here it must not hide the search handler
    reg = Registry(Settings(database_url=f"sqlite:///{path}", public_rate_per_minute=10**6,
                            public_rate_burst=10**6, auth_failures_per_client=10**6,
                            auth_failures_per_key_id=10**6, keys_dir=path.parent / "keys"),
                   today=TODAY)
    reg.ensure_schema()
    keys = {"none": "",
            "furnisher": add_furnisher(reg.store, name="court-fuzz", kind="court"),
            "gate": add_gate(reg.store, reg.policy, name="airline-fuzz",
                             services=["air", "rail_hsr"]),
            "operator": add_operator(reg.store, name="ops-fuzz")}
    from socialcredit.api.keys import furnisher_id

    result = ingest_rows(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store,
                                                                         "court-fuzz"),
                         rows=[RawRow(i, r) for i, r in enumerate(SEED, start=1)],
                         source="seed", as_of=TODAY)
    assert (result.accepted, result.rejected) == (3, 1)
    # a tree head signed by the registry's own key (the gate follows only heads it signed), so
    # that the public transparency routes have a tree to prove against
    from socialcredit.gate.offline import signing_key
    from socialcredit.store.tree_head import sign_latest

    head = sign_latest(reg.store, signing_key(reg.settings.keys_dir))
    assert head is not None and head["tree_size"] >= 2
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(registry=reg))
    yield schema, keys, reg
    reg.close()


def _hinted(case: Any, data: st.DataObject) -> None:
    """Maybe replace the case's body or query fields by seeded values (in place): each hinted
    field gets a value of :data:`HINTS` (``None`` removes it), and a person keeps exactly one
    identifier, as the decision routes require."""
    targets: list[dict[str, Any]] = []
    if isinstance(case.body, dict):
        targets.append(case.body)
        people = case.body.get("people")
        if isinstance(people, list):
            targets += [p for p in people if isinstance(p, dict)]
    if isinstance(case.query, dict):
        targets.append(case.query)
    for target in targets:
        if not data.draw(st.booleans(), label="hint"):
            continue
        for key, values in HINTS.items():
            if key in target:
                target[key] = data.draw(st.sampled_from(values), label=key)
                if target[key] is None:
                    del target[key]
        if any(k in target for k in IDENTIFIERS):
            keep = data.draw(st.sampled_from(["national_id", "phone"]), label="identifier")
            for k in IDENTIFIERS:
                target.pop(k, None)
            target[keep] = data.draw(st.sampled_from(HINTS[keep]), label=keep)


def _accounted(case: Any, response: Any) -> None:
    """A 200 of POST /v1/records counts every record sent exactly once."""
    if case.operation.path == "/v1/records" and response.status_code == 200:
        body = response.json()
        sent = len(case.body["records"])
        assert body["accepted"] + body["rejected"] + body["duplicates"] == sent, body


#: Operations whose handler random input cannot reach (a 2xx needs an object or a session the
#: fuzzer cannot create), with the tests that reach them; every other operation a role may call
#: must give that role a 2xx here.
NEEDS_STATE: dict[str, str] = {
    **{f"{m} /v1/me/{p}": "a subject's session (sign-in code): test_due_process_http.py"
       for m, p in (("POST", "session"), ("DELETE", "session"), ("GET", "file"),
                    ("POST", "disputes"), ("POST", "disputes/{dispute_id}/appeal"),
                    ("POST", "reviews"), ("POST", "repairs"))},
    "POST /v1/furnisher/disputes/{dispute_id}": "an open dispute: test_due_process_http.py",
    "POST /v1/operator/appeals/{dispute_id}": "an appealed dispute: test_due_process_http.py",
    "POST /v1/operator/reviews/{review_id}": "a requested review: test_due_process_http.py",
    "POST /v1/operator/repairs/{repair_id}": "a repair application: test_due_process_http.py",
    "POST /v1/operator/links/{candidate_id}/accept": "an open pair: test_link_review.py",
    "POST /v1/operator/links/{candidate_id}/reject": "an open pair: test_link_review.py",
    "POST /v1/operator/records/{record_id}/unlink": "a linked record id: test_link_review.py",
    "POST /v1/operator/merges": "two subjects' ids: test_link_review.py",
    "POST /v1/operator/merges/{merge_id}/split": "a merge id: test_link_review.py",
    "POST /v1/operator/screen/clearances": "an imported sanctions entry: test_screening.py",
}


#: One seeded request per operation (beside the generated ones), so that the answers with the
#: most to check (a deny with reasons, a masked public entry, quarantined rows) are validated.
SEEDED: dict[str, dict[str, Any]] = {
    "POST /v1/records": {"body": {"records": [
        _finding("F-new", make_id(birth="19910101", seq=77), "李娜", "(2026)京0101执9号"),
        _finding("F-bad", make_id(seq=77)[:-1] + "0", "李娜", "(2026)京0101执9号")]}},
    "GET /v1/furnisher/rejects": {"query": {"limit": 10}},
    "GET /v1/furnisher/kept-dates": {"query": {"limit": 10}},
    "GET /v1/furnisher/unmatched-transfers": {"query": {"limit": 10}},
    "POST /v1/decisions": {"body": {"service": "air", "national_id": DEBTOR}},
    "POST /v1/decisions:batch": {"body": {"service": "air", "people": [
        {"national_id": DEBTOR}, {"national_id": "bad"}, {"phone": PHONE, "name": "王伟"}]}},
    "GET /v1/public/entries": {"query": {"q": DEBTOR_NAME}},
    "GET /v1/report": {},
    "GET /v1/audit/verify": {},
    "GET /v1/transparency/proofs/inclusion": {"query": {"seq": 1, "size": 2}},
    "GET /v1/transparency/proofs/consistency": {"query": {"first": 1, "second": 2}},
    # subject 1 is the seed's first person; an operator confirms a phone after an ID check
    "POST /v1/operator/subjects/{subject_id}/channel": {
        "path_parameters": {"subject_id": 1},
        "body": {"phone": PHONE, "evidence": "ID card seen at the counter, ticket 2026-118"}},
}


def _seeded(operation: Any, label: str, headers: dict[str, str]) -> tuple[int, Any]:
    """Call the seeded request of ``label``; (status, JSON body)."""
    case = operation.Case(**SEEDED[label])
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    _accounted(case, response)
    return response.status_code, response.json()


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str],
          statuses: Counter[int], examples: int, **fixed: Any) -> None:
    """Call ``operation`` with ``examples`` generated cases (``fixed``: parts given, e.g.
    ``path_parameters``); count the statuses."""

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, **fixed), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:
            _hinted(case, data)
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        _accounted(case, response)
        statuses[response.status_code] += 1

    run()


@pytest.mark.parametrize("role", ROLES)
def test_every_route_with_every_key(fuzz_api: tuple[Any, dict[str, str], Registry],
                                    role: str) -> None:
    schema, keys, reg = fuzz_api
    headers = {"Authorization": f"Bearer {keys[role]}"} if keys[role] else {}
    operations = [op.ok() for op in schema.get_all_operations()]
    document = schema.raw_schema["paths"]
    # every route of the document is fuzzed (the document lists them all)
    assert {(op.method.upper(), op.path) for op in operations} == {
        (method.upper(), path) for path, ops in document.items() for method in ops}
    seen: dict[str, Counter[int]] = defaultdict(Counter)
    answers: dict[str, Any] = {}
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        reg.gate_index.refresh()  # no follower thread here: the index must not go stale
        if label in SEEDED:
            status, answers[label] = _seeded(operation, label, headers)
            seen[label][status] += 1
        spec = document[operation.path][operation.method.lower()]
        allowed = set(spec.get("x-roles", ["public"]))
        examples = MAX_EXAMPLES if allowed & {role, "public"} else REFUSED_EXAMPLES
        # an operation without parameters or body has no invalid request to generate
        invalid = "parameters" in spec or "requestBody" in spec
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)[:2 if invalid else 1]:
            _fuzz(operation, mode, headers, seen[label], examples)
        # ids past 64 bits, beside valid bodies (random ids seldom go there; once a 500)
        ids = {p["name"]: 2**63 for p in spec.get("parameters", [])
               if p["in"] == "path" and p.get("schema", {}).get("type") == "integer"}
        if ids:
            _fuzz(operation, GenerationMode.POSITIVE, headers, seen[label], 3,
                  path_parameters=ids)
    assert set(NEEDS_STATE) <= set(seen), set(NEEDS_STATE) - set(seen)  # no stale exemption
    for label, statuses in seen.items():
        method, path = label.split(" ", 1)
        allowed = set(document[path][method.lower()].get("x-roles", ["public"]))
        reached = sum(n for status, n in statuses.items() if 200 <= status < 300)
        if role in allowed or "public" in allowed:
            # generated or seeded requests reach every handler but those needing state
            assert reached or label in NEEDS_STATE, (
                f"{role} never reached the handler of {label}: {dict(statuses)}")
        else:
            assert not reached, f"{role} got a 2xx from {label}: {dict(statuses)}"
    # the seeded requests reached the answers worth checking against the schema
    if role in ("gate", "operator"):
        assert answers["POST /v1/decisions"]["decision"] == "deny"
        assert answers["POST /v1/decisions"]["reasons"][0]["list"] == "dishonest_judgment_debtors"
        assert answers["POST /v1/decisions:batch"]["outcomes"]["deny"] == 1
        assert answers["POST /v1/decisions:batch"]["outcomes"]["error"] == 1
    if role in ("furnisher", "operator"):
        assert answers["GET /v1/furnisher/rejects"]["count"] >= 1
    if role == "operator":  # the response model drops no figure of the report
        assert set(answers["GET /v1/report"]) == set(summarise(reg.store, reg.policy))
    assert answers["GET /v1/public/entries"]["count"] >= 1


#: Requests that were 500s before fuzzing found them: (operation, role, request, status).
ONCE_500: list[tuple[str, str, dict[str, Any], int]] = [
    # a JSON "\ud800" escape: the request digest could not be encoded; now quarantined
    ("POST /v1/records", "furnisher",
     {"body": {"records": [{"furnisher_record_id": "s-1", "kind": "court_judgment",
                            "name": "\ud800", "x\udfff": 1}]}}, 200),
    # digits that str.isdigit() takes but int() does not: ValueError in the ID parser
    ("POST /v1/decisions", "gate",
     {"body": {"service": "air", "national_id": "110101198001011²34"}}, 400),
    # non-ASCII 18-character IDs: UnicodeEncodeError in the vectorised batch encoder
    ("POST /v1/decisions:batch", "gate", {"body": {"service": "air", "people": [
        {"national_id": "１" * 18}, {"national_id": "11010119800101123²"},
        {"national_id": DEBTOR}]}}, 200),
    # a path id over 64 bits: OverflowError from the SQLite driver
    ("POST /v1/operator/appeals/{dispute_id}", "operator",
     {"path_parameters": {"dispute_id": 2**63}, "body": {"outcome": "upheld"}}, 422),
]


@pytest.mark.parametrize("label, role, request_, status", ONCE_500)
def test_requests_that_once_were_server_errors(fuzz_api: tuple[Any, dict[str, str], Registry],
                                               label: str, role: str, request_: dict[str, Any],
                                               status: int) -> None:
    schema, keys, reg = fuzz_api
    method, path = label.split(" ", 1)
    reg.gate_index.refresh()
    case = schema[path][method].Case(**request_)
    response = case.call_and_validate(headers={"Authorization": f"Bearer {keys[role]}"},
                                      checks=CHECKS)
    assert response.status_code == status, response.text
    answer = response.json()
    if path == "/v1/records":
        assert answer["rejected"] == 1
        assert {p["field"] for p in answer["problems"]} >= {"name", "x\\udfff"}
    if path == "/v1/decisions:batch":
        assert answer["outcomes"] == {"allow": 0, "deny": 1, "review": 0, "error": 2}
