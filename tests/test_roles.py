"""The role matrix: every route × every kind of caller → the status its declaration implies.

The declaration is ``socialcredit.api.roles.ROUTE_ROLES``; the routes are whatever the app
serves (walked from the app itself, in both server roles). A route added later without a
declared role makes ``create_app`` refuse to build; one without a sample request here fails
:func:`test_every_route_has_a_sample_request`. Callers: no key, a malformed key, a well-formed
unknown key, a revoked key, a furnisher, a gate registered for the service asked, a gate that
is not, an operator. (Subjects get their role with the due-process sign-in.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from conftest import TODAY, make_id
from servers import running
from socialcredit.access import add_furnisher, add_gate, add_operator, revoke_key
from socialcredit.api import create_app
from socialcredit.api.roles import PUBLIC, ROUTE_ROLES, check_declared, routes_of
from socialcredit.errors import ConfigError
from socialcredit.registry import Registry
from socialcredit.settings import Settings

PERSON = make_id(region="110105", birth="19791212", seq=31)
RECORD = {"furnisher_record_id": "R-1", "kind": "dishonesty_finding",
          "occurred_at": "2026-03-01", "national_id": PERSON, "name": "王芳",
          "case_number": "(2026)京0105执1号", "ground": 1, "amount_minor": 100_00,
          "currency": "CNY"}

#: One request per route that its allowed callers answer with 200.
SAMPLES: dict[str, dict[str, Any]] = {
    "POST /v1/records": {"json": {"records": [RECORD]}},
    "GET /v1/furnisher/rejects": {},
    "POST /v1/decisions": {"json": {"service": "air", "national_id": PERSON}},
    "POST /v1/decisions:batch": {"json": {"service": "air",
                                          "people": [{"national_id": PERSON}]}},
    "GET /v1/report": {},
    "GET /v1/audit/verify": {},
    "GET /v1/public/entries": {"params": {"q": "王芳"}},
    "GET /": {"params": {"q": "王芳"}},
    "GET /healthz": {},
    "GET /metrics": {},
    "GET /static": {"path": "/static/style.css"},
    "GET /openapi.json": {},
    "GET /docs": {},
    "GET /docs/oauth2-redirect": {},
    "GET /redoc": {},
}

CALLERS = ("none", "malformed", "unknown", "revoked", "furnisher", "gate", "gate_elsewhere",
           "operator")


def expected(route: str, caller: str) -> int:
    roles = ROUTE_ROLES[route]
    if roles == PUBLIC:
        return 200
    if caller in ("none", "malformed", "unknown", "revoked"):
        return 401
    role = "gate" if caller.startswith("gate") else caller
    if role not in roles:
        return 403
    # a gate key is refused for a service it is not registered for
    return 403 if caller == "gate_elsewhere" else 200


@pytest.fixture
def keys(sqlite_url: str) -> Iterator[tuple[Registry, dict[str, str | None]]]:
    settings = Settings(database_url=sqlite_url, public_rate_burst=1000)
    reg = Registry(settings, today=TODAY)
    reg.ensure_schema()
    revoked = add_furnisher(reg.store, name="old-court", kind="court")
    revoke_key(reg.store, name="old-court", role="furnisher")
    keys: dict[str, str | None] = {
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
    yield reg, keys
    reg.close()


@pytest.mark.parametrize("server_role", ["all", "gate"])
def test_every_route_answers_every_caller_as_declared(
        keys: tuple[Registry, dict[str, str | None]], server_role: str) -> None:
    reg, key_of = keys
    app = create_app(registry=reg, role=server_role)
    routes = sorted({route for route, _ in routes_of(app)})
    assert routes, "the app serves no route"
    failures = []
    with running(reg, app=app) as base, httpx.Client(base_url=base, timeout=20) as client:
        for route in routes:
            method, path = route.split(" ", 1)
            sample = dict(SAMPLES[route])
            path = sample.pop("path", path)
            for caller in CALLERS:
                key = key_of[caller]
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                r = client.request(method, path, headers=headers, **sample)
                want = expected(route, caller)
                if r.status_code != want:
                    failures.append(f"{route} as {caller}: {r.status_code}, expected {want}: "
                                    f"{r.text[:120]}")
                elif want in (401, 403):
                    error = r.json()["error"]
                    assert error["code"] == {401: "unauthenticated", 403: "forbidden"}[want]
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
