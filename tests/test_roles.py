"""The role matrix: every route × every kind of caller → the status its declaration implies.

The declaration is ``socialcredit.api.roles.ROUTE_ROLES``; the routes are whatever the app
serves (walked from the app itself, in both server roles). A route added later without a
declared role makes ``create_app`` refuse to build; one without a sample request here fails
:func:`test_every_route_has_a_sample_request`. Callers: no key, a malformed key, a well-formed
unknown key, a revoked key, a furnisher, a gate registered for the service asked, a gate that
is not, an operator, a signed-in subject (a session cookie and its CSRF token).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from conftest import TODAY, make_id, subject_session, trust_channel, write_csv
from servers import running
from socialcredit.api import create_app
from socialcredit.api.due_process import COOKIE
from socialcredit.api.keys import (
    add_furnisher,
    add_gate,
    add_operator,
    authenticate,
    furnisher_id,
    revoke_key,
)
from socialcredit.api.registry import Registry
from socialcredit.api.roles import PUBLIC, ROUTE_ROLES, check_declared, routes_of
from socialcredit.disclosure.disputes import answer_dispute, appeal_dispute, open_dispute
from socialcredit.disclosure.repairs import apply_for_repair
from socialcredit.disclosure.reviews import request_review
from socialcredit.errors import ConfigError
from socialcredit.gate.offline import signing_key
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.store.tables import list_entries, records, subjects
from socialcredit.store.tree_head import sign_latest

PERSON = make_id(region="110105", birth="19791212", seq=31)
PHONE = "+8613900139000"


def _finding(n: int) -> dict[str, Any]:
    return {"furnisher_record_id": f"R-{n}", "kind": "dishonesty_finding",
            "occurred_at": "2026-03-01", "national_id": PERSON, "phone": PHONE,
            "name": "王芳", "case_number": f"(2026)京0105执{n}号", "ground": 1,
            "amount_minor": 100_00, "currency": "CNY"}


#: One request per route, and the status its allowed callers get (200 unless ``ok``); ``{x}``
#: in a path or body is filled from the fixture's ids. Web forms (under /me) answer 303 (a
#: redirect to the file, or to the sign-in page for a caller without a session).
SAMPLES: dict[str, dict[str, Any]] = {
    "POST /v1/records": {"json": {"records": [_finding(9)]}},
    "GET /v1/furnisher/rejects": {},
    "GET /v1/furnisher/kept-dates": {},
    "GET /v1/furnisher/unmatched-transfers": {},
    "POST /v1/decisions": {"json": {"service": "air", "national_id": PERSON}},
    "POST /v1/decisions:batch": {"json": {"service": "air",
                                          "people": [{"national_id": PERSON}]}},
    # a screen is not a sale of a service: any gate may screen
    "POST /v1/screen": {"json": {"kind": "person", "name": "王芳"}, "any_gate": True},
    "POST /v1/screen:batch": {"json": {"queries": {"q1": {"kind": "person", "name": "王芳"}}},
                              "any_gate": True},
    "POST /v1/operator/screen/clearances": {"json": {
        "query": {"name": "王芳"}, "id": "ofac_sdn:987654", "reason": "x"}, "ok": 404},
    "GET /v1/report": {},
    "GET /v1/audit/verify": {},
    "GET /v1/public/entries": {"params": {"q": "王芳"}},
    "GET /": {"params": {"q": "王芳"}},
    "GET /healthz": {},
    "GET /metrics": {},
    "GET /static": {"path": "/static/style.css"},
    "GET /openapi.json": {},
    "GET /docs": {},
    "GET /docs/assets": {"path": "/docs/assets/swagger-init.js"},
    "GET /favicon.ico": {},
    "GET /redoc": {},
    # the subject (a session cookie and its CSRF token)
    # the same answer whoever asks, and whether or not the pair exists (a made-up person
    # per call here: five codes an hour is the limit for one ID number and phone)
    "POST /v1/me/sign-in": {"json": {"national_id": "{stranger}", "phone": PHONE},
                            "ok": 202},
    # public, and the same for everyone: a wrong code for an unknown person is 401
    "POST /v1/me/session": {"json": {"national_id": "{stranger}", "phone": PHONE,
                                     "code": "123456"}, "ok": 401},
    "DELETE /v1/me/session": {"ok": 204, "session": "spare"},
    "GET /v1/me/file": {},
    "POST /v1/me/disputes": {"json": {"entry_id": "{entry_1}", "reason": "not mine"},
                             "ok": 201},
    "POST /v1/me/disputes/{dispute_id}/appeal": {
        "path": "/v1/me/disputes/{verified}/appeal", "json": {"reason": "receipt ignored"}},
    "POST /v1/me/disputes/{dispute_id}/information": {
        "path": "/v1/me/disputes/{open_info}/information", "json": {"text": "a receipt"}},
    "POST /v1/me/reviews": {"json": {"decision_id": "{refusal_2}", "reason": "wrong"},
                            "ok": 201},
    "POST /v1/me/repairs": {"json": {"entry_id": "{entry_1}", "condition": "consent",
                                     "evidence": "letter"}, "ok": 201},
    "GET /v1/furnisher/disputes": {},
    "POST /v1/furnisher/disputes/{dispute_id}": {"path": "/v1/furnisher/disputes/{open}",
                                                 "json": {"answer": "verify"}},
    "GET /v1/operator/appeals": {},
    "POST /v1/operator/appeals/{dispute_id}": {"path": "/v1/operator/appeals/{appealed}",
                                               "json": {"outcome": "upheld"}},
    "GET /v1/operator/reviews": {},
    "POST /v1/operator/reviews/{review_id}": {"path": "/v1/operator/reviews/{review}",
                                              "json": {"outcome": "upheld"}},
    "GET /v1/operator/repairs": {},
    "POST /v1/operator/repairs/{repair_id}": {"path": "/v1/operator/repairs/{repair}",
                                              "json": {"outcome": "refused"}},
    # identity (api/links.py): this world has no review candidate, merge or second subject,
    # and its records carry their subject's valid ID, so the operator reaches the handler and
    # gets its 404 / 409 (tests/test_link_review.py decides real pairs and merges)
    "GET /v1/operator/links": {},
    "POST /v1/operator/links/{candidate_id}/accept": {
        "path": "/v1/operator/links/987654/accept", "json": {}, "ok": 404},
    "POST /v1/operator/links/{candidate_id}/reject": {
        "path": "/v1/operator/links/987654/reject", "json": {"note": "x"}, "ok": 404},
    "POST /v1/operator/records/{record_id}/unlink": {
        "path": "/v1/operator/records/{record_2}/unlink", "json": {"reason": "x"}, "ok": 409},
    "POST /v1/operator/merges": {"json": {"survivor_id": 987654, "absorbed_id": 987655,
                                          "reason": "x"}, "ok": 404},
    "POST /v1/operator/merges/{merge_id}/split": {
        "path": "/v1/operator/merges/987654/split", "json": {"reason": "x"}, "ok": 404},
    # the trusted contact channel (api/contact.py): a code to a new phone; a wrong code is 401;
    # the operator's change of a subject that does not exist is 404
    "POST /v1/me/channel": {"json": {"phone": "+8615912345678"}, "ok": 202},
    "POST /v1/me/channel/confirm": {"json": {"phone": "+8615912345678", "code": "12345"},
                                    "ok": 401},
    "GET /v1/operator/channels/flagged": {},
    "POST /v1/operator/subjects/{subject_id}/channel": {
        "path": "/v1/operator/subjects/987654/channel",
        "json": {"phone": "+8615912345678", "evidence": "ID card seen"}, "ok": 404},
    "GET /me": {"others": 303},  # the file for the subject, else a redirect to sign in
    "GET /me/sign-in": {},
    "GET /me/receipts": {},  # the check form for anyone; the person's receipts when signed in
    # without the sign-in page's form token (login CSRF): refused with the page again
    "POST /me/sign-in": {"data": {"national_id": "{stranger}", "phone": PHONE}, "ok": 403},
    "POST /me/verify": {"data": {"national_id": "{stranger}", "phone": PHONE,
                                 "code": "123456"}, "ok": 403},
    "POST /me/disputes": {"data": {"csrf": "{csrf}", "target": "record:{record_2}",
                                   "reason": "x"}},
    "POST /me/appeals": {"data": {"csrf": "{csrf}", "dispute_id": "{open}",
                                  "reason": "x"}},
    "POST /me/reviews": {"data": {"csrf": "{csrf}", "decision_id": "{refusal_1}",
                                  "reason": "x"}},
    "POST /me/repairs": {"data": {"csrf": "{csrf}", "entry_id": "{entry_2}",
                                  "condition": "performance", "evidence": "receipt"}},
    "POST /me/sign-out": {"data": {"csrf": "{csrf}"}, "session": "spare2"},
    # the operator console: a key is no session, so every caller is sent to its sign-in page
    # (tests/test_browser_admin.py signs in and decides); a wrong key at sign-in is a 401 page
    "GET /admin/sign-in": {},
    "POST /admin/sign-in": {"data": {"key": "not-a-key"}, "ok": 401},
    "GET /admin": {},
    "POST /admin/decide": {"data": {"csrf": "x", "queue": "appeals", "item": "1",
                                    "outcome": "upheld"}},
    "POST /admin/sign-out": {"data": {"csrf": "x"}},
    "GET /admin/subjects": {"params": {"find": "1"}},
    "GET /admin/subjects/{subject_id}": {"path": "/admin/subjects/1"},
    "GET /admin/report": {},
    "GET /admin/policy": {},
    "GET /admin/policy/diff": {"params": {"a": "current", "b": "current"}},
    "POST /admin/policy/what-if": {"data": {"csrf": "x", "candidate": "current"}},
    "GET /admin/policy/what-if": {},
    "GET /admin/policy/what-if/{run_id}": {"path": "/admin/policy/what-if/none"},
    # transparency (api/transparency.py): a head is signed at the end of the world
    "GET /v1/transparency/key": {},
    "GET /v1/transparency/heads/latest": {},
    "GET /v1/transparency/proofs/inclusion": {"params": {"seq": 1, "size": "{tree_size}"}},
    "GET /v1/transparency/proofs/consistency": {"params": {"first": 1,
                                                           "second": "{tree_size}"}},
    "GET /v1/me/receipts": {},
    "GET /v1/audit/replay": {},
}

CALLERS = ("none", "malformed", "unknown", "revoked", "furnisher", "gate", "gate_elsewhere",
           "operator", "subject")


def expected(route: str, caller: str) -> int:
    roles, sample = ROUTE_ROLES[route], SAMPLES[route]
    web = route.split(" ", 1)[1].startswith(("/me", "/admin"))
    if roles == PUBLIC:
        return sample["others"] if "others" in sample and caller != "subject" else \
            sample.get("ok", 200)
    role = "gate" if caller.startswith("gate") else caller
    if role in roles and (caller != "gate_elsewhere" or sample.get("any_gate")):
        return 303 if web else sample.get("ok", 200)
    if web:
        return 303  # a form without a session sends the caller to the sign-in page
    if caller in ("none", "malformed", "unknown", "revoked") or "subject" in (role, *roles):
        return 401  # no credential this route accepts (a key, or a subject's session)
    return 403  # the wrong role, or a gate asking for a service it is not registered for


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Registry, dict[str, Any]]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'registry.db'}",
                        public_rate_burst=1000, notices_dir=tmp_path / "notices",
                        keys_dir=tmp_path / "keys",
                        # each route meets unknown and revoked keys: the failed-check limit
                        # (tests/security/test_key_flood.py) must not answer for the handler
                        auth_failures_per_client=10**6, auth_failures_per_key_id=10**6)
    reg = Registry(settings, today=TODAY)
    reg.ensure_schema()
    revoked = add_furnisher(reg.store, name="old-court", kind="court")
    revoke_key(reg.store, name="old-court", role="furnisher")
    keys: dict[str, Any] = {
        "none": None,
        "malformed": "not-a-key",
        "unknown": "sc_f_0123456789ab_" + "x" * 43,
        "revoked": revoked,
        "furnisher": add_furnisher(reg.store, name="court", kind="court"),
        "gate": add_gate(reg.store, reg.policy, name="airline", services=["air"]),
        "gate_elsewhere": add_gate(reg.store, reg.policy, name="hotel",
                                   services=["hotel_star"]),
        "operator": add_operator(reg.store, name="ops"),
    }
    court = furnisher_id(reg.store, "court")
    result = ingest_file(reg.store, reg.policy, furnisher_id=court, as_of=TODAY,
                         path=write_csv(tmp_path / "court.csv", [_finding(n) for n in (1, 2, 3)]))
    assert result.accepted == 3
    trust_channel(reg, PERSON, PHONE)  # one furnisher's phone gives no channel (#20)
    with reg.store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(subjects.c.national_id == PERSON)
                           ).scalar_one()
        rec = list(conn.execute(select(records.c.id).where(records.c.subject_id == sid)
                                .order_by(records.c.id)).scalars())
        ent = {e.record_id: e.id for e in conn.execute(select(list_entries).where(
            list_entries.c.subject_id == sid))}
    now = dt.datetime.now(dt.UTC)
    ids: dict[str, Any] = {"entry_1": ent[rec[0]], "entry_2": ent[rec[1]],
                           "record_2": rec[1]}
    verified = open_dispute(reg.store, reg.policy, subject_id=sid, record_id=rec[0],
                            reason="x", now=now)["id"]
    answer_dispute(reg.store, reg.policy, furnisher_id=court, dispute_id=verified,
                   answer="verify", now=now)
    appealed = open_dispute(reg.store, reg.policy, subject_id=sid, record_id=rec[2],
                            reason="x", now=now)["id"]
    answer_dispute(reg.store, reg.policy, furnisher_id=court, dispute_id=appealed,
                   answer="verify", now=now)
    appeal_dispute(reg.store, subject_id=sid, dispute_id=appealed, reason="x", now=now)
    ids["open"] = open_dispute(reg.store, reg.policy, subject_id=sid, entry_id=ent[rec[1]],
                               reason="x", now=now)["id"]
    ids |= {"verified": verified, "appealed": appealed}
    # a dispute no other route closes, for the subject's further information (FCRA 611(a)(1)(B))
    ingest_file(reg.store, reg.policy, furnisher_id=court, as_of=TODAY,
                path=write_csv(tmp_path / "court-4.csv", [_finding(4)]))
    with reg.store.read() as conn:
        fourth = conn.execute(select(func.max(records.c.id)).where(
            records.c.subject_id == sid)).scalar_one()
    ids["open_info"] = open_dispute(reg.store, reg.policy, subject_id=sid, record_id=fourth,
                                    reason="x", now=now)["id"]
    ids["repair"] = apply_for_repair(reg.store, subject_id=sid, entry_id=ent[rec[2]],
                                     condition="settlement", evidence="x", now=now)["id"]
    reg.gate_index.refresh()
    gate = authenticate(reg.store, keys["gate"])
    refusals = [reg.decisions.decide(service="air", national_id=PERSON, gate=gate).decision_id
                for _ in range(3)]
    reg.decisions.flush()
    ids |= {"refusal_1": refusals[0], "refusal_2": refusals[1]}
    ids["review"] = request_review(reg.store, subject_id=sid, decision_id=refusals[2],
                                   reason="x", now=now)["id"]
    for name in ("subject", "spare", "spare2"):
        keys[name] = subject_session(reg, PERSON, PHONE)
    head = sign_latest(reg.store, signing_key(settings.keys_dir))
    assert head is not None
    ids["tree_size"] = head["tree_size"]
    yield reg, {"keys": keys, "ids": ids}
    reg.close()


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") \
            and value[1:-1] in ids:
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


@pytest.mark.parametrize("server_role", ["all", "gate"])
def test_every_route_answers_every_caller_as_declared(
        world: tuple[Registry, dict[str, Any]], server_role: str) -> None:
    reg, state = world
    app = create_app(registry=reg, role=server_role)
    routes = sorted({route for route, _ in routes_of(app)})
    assert routes, "the app serves no route"
    failures = []
    strangers = 0 if server_role == "all" else 500
    with running(reg, app=app) as base:
        for route in routes:
            method, path = route.split(" ", 1)
            for caller in CALLERS:
                sample = dict(SAMPLES[route])
                credential = state["keys"][caller]
                cookies: dict[str, str] = {}
                headers: dict[str, str] = {}
                csrf = ""
                if caller == "subject":
                    session = state["keys"][sample.get("session", "subject")]
                    cookies, csrf = {COOKIE: session.token}, session.csrf
                    headers["X-CSRF-Token"] = csrf
                elif credential:
                    headers["Authorization"] = f"Bearer {credential}"
                strangers += 1  # a new made-up person each time: sign-in limits are per pair
                ids = {**state["ids"], "csrf": csrf, "stranger": make_id(seq=strangers % 1000)}
                target = _fill(sample.get("path", path), ids)
                kwargs = {k: _fill(sample[k], ids) for k in ("json", "params", "data")
                          if k in sample}
                with httpx.Client(base_url=base, timeout=20, cookies=cookies) as client:
                    r = client.request(method, target, headers=headers, **kwargs)
                want = expected(route, caller)
                if r.status_code != want:
                    failures.append(f"{route} as {caller}: {r.status_code}, expected {want}: "
                                    f"{r.text[:160]}")
                elif want in (401, 403) and r.headers.get("content-type", "").startswith(
                        "application/json"):
                    error = r.json()["error"]
                    assert error["code"] in ("unauthenticated", "forbidden"), (route, caller)
                    assert error["message"]
    assert not failures, "\n".join(failures)


def test_every_route_has_a_sample_request(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url))
    served = {route for route, _ in routes_of(app)}
    assert served - set(SAMPLES) == set(), "add a sample request for the new route(s)"
    assert set(ROUTE_ROLES) - served == set(), "ROUTE_ROLES declares routes nobody serves"


def test_a_route_without_a_declared_role_is_refused(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url))

    def new_route() -> dict[str, str]:
        return {}

    app.add_api_route("/v1/secret-export", new_route, methods=["GET"])
    with pytest.raises(ConfigError, match="GET /v1/secret-export"):
        check_declared(app)


def test_roles_are_published_in_the_openapi_document(sqlite_url: str) -> None:
    app: FastAPI = create_app(Settings(database_url=sqlite_url))
    paths = app.openapi()["paths"]
    assert paths["/v1/records"]["post"]["x-roles"] == ["furnisher"]
    assert paths["/v1/decisions"]["post"]["x-roles"] == ["gate", "operator"]
    assert paths["/v1/public/entries"]["get"]["x-roles"] == ["public"]
