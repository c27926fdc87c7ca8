"""Who may call what: one declaration per route, checked when the app is built.

``ROUTE_ROLES`` maps ``"METHOD /path"`` to the roles whose key the route accepts, or to
``PUBLIC`` (no key needed). :func:`check_declared` refuses to build an app with a route that is
not declared here, so a route cannot be added without deciding who may call it; the
declaration is published in the OpenAPI document as ``x-roles`` on each operation; and
``tests/test_roles.py`` calls every route with every kind of caller to prove the dependencies
enforce exactly this table.

Roles: ``furnisher`` (submits records, answers disputes), ``gate`` (asks for decisions,
only for its own services), ``subject`` (a person signed in with a one-time code: a session
cookie, not a key), ``operator`` (runs the registry). A gate key is refused for a service it is not
registered for, even on a route that accepts gates.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from socialcredit.errors import ConfigError

__all__ = ["PUBLIC", "ROUTE_ROLES", "check_declared", "routes_of"]

#: Anyone, with or without a key.
PUBLIC: frozenset[str] = frozenset({"public"})

ROUTE_ROLES: dict[str, frozenset[str]] = {
    "POST /v1/records": frozenset({"furnisher"}),
    "GET /v1/furnisher/rejects": frozenset({"furnisher", "operator"}),
    "GET /v1/furnisher/kept-dates": frozenset({"furnisher", "operator"}),
    "GET /v1/furnisher/unmatched-transfers": frozenset({"furnisher", "operator"}),
    "POST /v1/decisions": frozenset({"gate", "operator"}),
    "POST /v1/decisions:batch": frozenset({"gate", "operator"}),
    "GET /v1/report": frozenset({"operator"}),
    "GET /v1/audit/verify": frozenset({"operator"}),
    "POST /v1/me/sign-in": PUBLIC,
    "POST /v1/me/session": PUBLIC,
    "DELETE /v1/me/session": frozenset({"subject"}),
    "GET /v1/me/file": frozenset({"subject"}),
    "POST /v1/me/disputes": frozenset({"subject"}),
    "POST /v1/me/disputes/{dispute_id}/appeal": frozenset({"subject"}),
    "POST /v1/me/disputes/{dispute_id}/information": frozenset({"subject"}),
    "POST /v1/me/reviews": frozenset({"subject"}),
    "POST /v1/me/repairs": frozenset({"subject"}),
    "GET /v1/furnisher/disputes": frozenset({"furnisher"}),
    "POST /v1/furnisher/disputes/{dispute_id}": frozenset({"furnisher"}),
    "GET /v1/operator/appeals": frozenset({"operator"}),
    "POST /v1/operator/appeals/{dispute_id}": frozenset({"operator"}),
    "GET /v1/operator/reviews": frozenset({"operator"}),
    "POST /v1/operator/reviews/{review_id}": frozenset({"operator"}),
    "GET /v1/operator/repairs": frozenset({"operator"}),
    "POST /v1/operator/repairs/{repair_id}": frozenset({"operator"}),
    # identity (api/links.py): the link review queue, unlinking, merge and split
    "GET /v1/operator/links": frozenset({"operator"}),
    "POST /v1/operator/links/{candidate_id}/accept": frozenset({"operator"}),
    "POST /v1/operator/links/{candidate_id}/reject": frozenset({"operator"}),
    "POST /v1/operator/records/{record_id}/unlink": frozenset({"operator"}),
    "POST /v1/operator/merges": frozenset({"operator"}),
    "POST /v1/operator/merges/{merge_id}/split": frozenset({"operator"}),
    # the trusted contact channel (api/contact.py): furnishers never move it
    "POST /v1/me/channel": frozenset({"subject"}),
    "POST /v1/me/channel/confirm": frozenset({"subject"}),
    "GET /v1/operator/channels/flagged": frozenset({"operator"}),
    "POST /v1/operator/subjects/{subject_id}/channel": frozenset({"operator"}),
    # screening (api/screen.py): persons and organisations against the external lists
    "POST /v1/screen": frozenset({"gate", "operator"}),
    "POST /v1/screen:batch": frozenset({"gate", "operator"}),
    "POST /v1/operator/screen/clearances": frozenset({"operator"}),
    # web pages of the subject: the forms check the session and CSRF themselves
    "GET /me": PUBLIC,
    "GET /me/sign-in": PUBLIC,
    "GET /me/receipts": PUBLIC,  # anyone checks a receipt; a signed-in person sees theirs
    "POST /me/sign-in": PUBLIC,
    "POST /me/verify": PUBLIC,
    "POST /me/disputes": frozenset({"subject"}),
    "POST /me/appeals": frozenset({"subject"}),
    "POST /me/reviews": frozenset({"subject"}),
    "POST /me/repairs": frozenset({"subject"}),
    "POST /me/sign-out": frozenset({"subject"}),
    # the operator console (web/admin): pages check the operator session and CSRF themselves
    "GET /admin/sign-in": PUBLIC,
    "POST /admin/sign-in": PUBLIC,
    "GET /admin": frozenset({"operator"}),
    "POST /admin/decide": frozenset({"operator"}),
    "POST /admin/sign-out": frozenset({"operator"}),
    "GET /admin/subjects": frozenset({"operator"}),
    "GET /admin/subjects/{subject_id}": frozenset({"operator"}),
    "GET /admin/report": frozenset({"operator"}),
    "GET /admin/policy": frozenset({"operator"}),
    "GET /admin/policy/diff": frozenset({"operator"}),
    "POST /admin/policy/what-if": frozenset({"operator"}),
    "GET /admin/policy/what-if": frozenset({"operator"}),
    "GET /admin/policy/what-if/{run_id}": frozenset({"operator"}),
    "GET /v1/public/entries": PUBLIC,
    # transparency (api/transparency.py): signed tree heads and proofs, for anyone
    "GET /v1/transparency/key": PUBLIC,
    "GET /v1/transparency/heads/latest": PUBLIC,
    "GET /v1/transparency/proofs/inclusion": PUBLIC,
    "GET /v1/transparency/proofs/consistency": PUBLIC,
    "GET /v1/me/receipts": frozenset({"subject"}),
    "GET /v1/audit/replay": frozenset({"operator"}),
    "GET /": PUBLIC,
    "GET /healthz": PUBLIC,
    # no key, but served to settings.operator_networks only (api/clients.py); /healthz tells
    # the ledger head to that network only
    "GET /metrics": PUBLIC,
    "GET /static": PUBLIC,
    "GET /openapi.json": PUBLIC,
    "GET /docs": PUBLIC,
    "GET /favicon.ico": PUBLIC,
    "GET /docs/assets": PUBLIC,  # Swagger UI and ReDoc files (web/docs.py), no CDN
    "GET /redoc": PUBLIC,
}


def routes_of(app: FastAPI) -> Iterator[tuple[str, Route | Mount]]:
    """Every ``("METHOD /path", route)`` the app serves (``HEAD`` is left out: it follows
    ``GET``); a mount counts as ``GET /prefix``. Routers included with
    ``app.include_router`` are walked too (FastAPI ≥ 0.160 keeps them as one lazy entry)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, Route | Mount]]:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:  # fastapi.routing._IncludedRouter
                context = getattr(route, "include_context", None)
                yield from walk(included.routes, prefix + getattr(context, "prefix", ""))
            elif isinstance(route, Mount):
                yield f"GET {prefix}{route.path}", route
            elif isinstance(route, Route):
                for method in sorted(route.methods or ()):
                    if method != "HEAD":
                        yield f"{method} {prefix}{route.path}", route

    yield from walk(list(app.router.routes), "")


def check_declared(app: FastAPI) -> None:
    """Publish each route's roles as ``x-roles`` in the OpenAPI document.

    Raises:
        ConfigError: a route of ``app`` is missing from :data:`ROUTE_ROLES`.
    """
    missing = sorted({key for key, _ in routes_of(app)} - set(ROUTE_ROLES))
    if missing:
        raise ConfigError(f"route(s) without a declared role in api/roles.py: "
                          f"{', '.join(missing)}")
    for key, route in routes_of(app):
        if isinstance(route, APIRoute):
            extra = dict(route.openapi_extra or {})
            extra["x-roles"] = sorted(ROUTE_ROLES[key])
            route.openapi_extra = extra
