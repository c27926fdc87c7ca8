"""``create_app(settings)``: the FastAPI application.

Errors use one JSON shape, ``{"error": {"code", "message", "details"}}`` (DESIGN §6); request
validation errors are 422 ``validation_failed`` with every problem; only 5xx are logged with a
traceback. A background thread keeps the in-process gate index following the ledger every
``settings.gate_refresh_ms`` and writes decision counters.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcredit.api.authlimit import AuthFailures
from socialcredit.api.clients import TrustedProxies
from socialcredit.api.deps import KeyCache
from socialcredit.api.headers import SecurityHeaders
from socialcredit.api.logs import install_access_log_filter
from socialcredit.api.metrics import GateMetrics
from socialcredit.api.ratelimit import RateLimiter
from socialcredit.api.registry import Registry
from socialcredit.api.roles import check_declared
from socialcredit.api.validation import validation_response
from socialcredit.errors import (
    ConfigError,
    PayloadTooLarge,
    SocialCreditError,
    StoreUnavailable,
)
from socialcredit.settings import Settings
from socialcredit.web import STATIC_DIR, make_environment
from socialcredit.web.docs import install_docs
from socialcredit.web.i18n import LanguageMiddleware

__all__ = ["create_app"]

log = logging.getLogger("socialcredit.api")

#: Largest request body accepted: 10,000 records of ~2 KB.
MAX_BODY_BYTES = 20 * 1024 * 1024


class BodyLimit:
    """Pure ASGI middleware (a plain class, not ``@app.middleware``, which costs a task per
    request): a body over ``limit`` bytes is refused with 413 ``payload_too_large`` — at once
    when ``Content-Length`` declares it, else (chunked transfer) as soon as the bytes read
    pass the limit (``receive`` raises :class:`PayloadTooLarge` into the route, and the
    response the route makes of it is replaced by the 413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"request bodies are limited to {self.limit:,} bytes; send "
                               "records in calls of at most 10,000")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.limit:
                    e = self._error()
                    await JSONResponse(e.to_dict(), status_code=e.status_code)(
                        scope, receive, send)
                    return
                await self.app(scope, receive, send)  # the server enforces the length
                return
        seen, over, replaced = 0, False, False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                over = True
                raise self._error()
            return message

        async def reply(message: Message) -> None:
            # whatever the route made of the interrupted body (FastAPI turns it into a 400
            # "error parsing the body"), the caller is told the real reason
            nonlocal replaced
            if over and message["type"] == "http.response.start":
                replaced = True
                e = self._error()
                await JSONResponse(e.to_dict(), status_code=e.status_code)(
                    scope, receive, send)
            elif not replaced:
                await send(message)

        await self.app(scope, counted, reply)


#: While the database stays unreachable, the follower says so again at most this often (s).
FAILURE_REPEAT_SECONDS = 60.0


def _follow(registry: Registry, stop: threading.Event, keys: KeyCache) -> None:
    """Follow the ledger (revoked API keys leave ``keys``, the gate index takes new entries);
    on a database failure keep serving from the last good index, log the failure once (then
    once a minute) and the recovery once."""
    period = registry.settings.gate_refresh_ms / 1000
    failing_since: float | None = None
    last_said = 0.0
    while not stop.wait(period):
        try:
            keys.evict_revoked(registry.store)
            registry.gate_index.refresh()
            registry.decisions.flush()
        except Exception as e:  # unreachable or unreadable database: never stop following
            now = time.monotonic()
            reason = e.message if isinstance(e, SocialCreditError) else type(e).__name__
            if failing_since is None:
                failing_since = last_said = now
                log.warning("gate refresh failed, answering from the last good index: %s",
                            reason)
            elif now - last_said >= FAILURE_REPEAT_SECONDS:
                last_said = now
                log.warning("gate refresh still failing after %.0f s: %s",
                            now - failing_since, reason)
            continue
        if failing_since is not None:
            log.warning("gate refresh recovered after %.0f s",
                        time.monotonic() - failing_since)
            failing_since = None


def _run_clocks(registry: Registry, stop: threading.Event) -> None:
    """Every ``settings.clocks_every_seconds``: dispute deadlines, notices projected and
    served (:func:`socialcredit.disclosure.clocks.tick`); a failure is logged and retried."""
    from socialcredit.disclosure.clocks import tick
    from socialcredit.disclosure.delivery import adapter_for
    from socialcredit.gate.offline import signing_key

    adapter = adapter_for(registry.settings)
    failing = False
    while not stop.wait(registry.settings.clocks_every_seconds):
        try:  # a tree head is signed at every tick: at least every clocks_every_seconds
            tick(registry.store, registry.policy, adapter, now=dt.datetime.now(dt.UTC),
                 signer=signing_key(registry.settings.keys_dir))
        except Exception as e:  # never stop the clocks; say so once per failure streak
            if not failing:
                log.warning("due-process clocks failed, retrying: %s",
                            e.message if isinstance(e, SocialCreditError) else type(e).__name__)
            failing = True
            continue
        failing = False


def create_app(settings: Settings | None = None, *, registry: Registry | None = None,
               role: str = "all") -> FastAPI:
    """Build the app; tests pass their own settings (or a ready registry).

    ``role="gate"`` serves only the gate routes (decisions, ``/metrics``, ``/healthz``): a
    stateless replica that follows the ledger; ``"all"`` serves every audience.

    Raises:
        ConfigError: unknown role, a route without a declared role (api/roles.py), and
            whatever :class:`Registry` raises.
    """
    if role not in ("all", "gate"):
        raise ConfigError(f"unknown server role {role!r}: use all or gate")
    reg = registry or Registry(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        reg.ensure_schema()
        reg.gate_index.refresh()
        app.state.key_cache.evict_revoked(reg.store)  # keys are cacheable from the first call
        stop = threading.Event()
        thread = threading.Thread(target=_follow, args=(reg, stop, app.state.key_cache),
                                  daemon=True, name="gate-follower")
        thread.start()
        clocks = threading.Thread(target=_run_clocks, args=(reg, stop), daemon=True,
                                  name="due-process-clocks")
        if role == "all":
            clocks.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)
            if clocks.is_alive():
                clocks.join(timeout=5)
            for t in list(app.state.background):  # sign-in work still writing
                t.join(timeout=10)
            if hasattr(app.state, "what_if_runs"):  # console what-ifs (they only read)
                app.state.what_if_runs.join(timeout_s=10)
            reg.close()

    from socialcredit.api.contact import contact_routers
    from socialcredit.api.dispute_info import dispute_info_router
    from socialcredit.api.due_process import due_process_routers
    from socialcredit.api.links import links_router
    from socialcredit.api.routes import (
        decide_fast,
        furnisher_router,
        gate_router,
        healthz,
        operator_router,
        public_router,
    )
    from socialcredit.api.routes import metrics as metrics_route
    from socialcredit.api.screen import screen_router
    from socialcredit.api.transparency import (
        audit_replay_router,
        me_receipts_router,
        transparency_router,
    )

    app = FastAPI(title="socialcredit", version="0.1.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None,  # served from local assets: web/docs.py
                  description="Social credit registry with due process: furnishers, gates, "
                              "public search, transparency.")
    app.state.registry = reg
    app.state.metrics = GateMetrics()
    app.state.key_cache = KeyCache()
    #: threads doing sign-in work after the answer (api/due_process/signin.py), joined at shutdown
    app.state.background = set()
    app.state.auth_failures = AuthFailures(
        per_client=reg.settings.auth_failures_per_client,
        per_key_id=reg.settings.auth_failures_per_key_id)
    install_access_log_filter()  # no query string (a searched name or ID) in access logs
    app.state.public_limiter = RateLimiter(reg.settings.public_rate_per_minute,
                                           reg.settings.public_rate_burst,
                                           what="requests from your address")

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    # the pages' language: ?lang=, cookie, Accept-Language
    app.add_middleware(LanguageMiddleware, secure=reg.settings.secure_cookies)
    app.add_middleware(SecurityHeaders)  # CSP, no framing, nosniff, HSTS over HTTPS
    # outermost: the client address and scheme, from a trusted proxy only (api/clients.py)
    app.add_middleware(TrustedProxies, proxies=reg.settings.trusted_proxies)

    app.state.templates = make_environment()
    # the hot path first: the same contract as the FastAPI route below it (which documents
    # it in /docs), without the dependency and response-validation layers
    app.router.routes.insert(0, Route("/v1/decisions", decide_fast, methods=["POST"]))
    if role == "gate":
        app.include_router(gate_router)
        app.include_router(screen_router)
        app.add_api_route("/metrics", metrics_route, include_in_schema=False)
        app.add_api_route("/healthz", healthz, include_in_schema=False)
    else:
        from socialcredit.web.admin import admin_router
        from socialcredit.web.admin.whatif_jobs import Runs

        #: what-if runs started from the console's policy page (web/admin/whatif_jobs.py)
        app.state.what_if_runs = Runs()

        for router in (furnisher_router, gate_router, public_router, operator_router,
                       *due_process_routers(), dispute_info_router, links_router,
                       *contact_routers(),
                       admin_router, transparency_router, me_receipts_router,
                       audit_replay_router, screen_router):
            app.include_router(router)
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    install_docs(app)
    check_declared(app)

    def error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message,
                                       "details": details or {}}}, status_code=status)

    @app.exception_handler(SocialCreditError)
    async def _app_error(request: Request, exc: SocialCreditError) -> JSONResponse:
        if isinstance(exc, StoreUnavailable):  # expected under load or an outage: one line
            log.warning("%s %s: %s (%s)", request.method, request.url.path,
                        exc.details.get("reason", "unavailable"), exc.code)
        elif exc.status_code >= 500:
            log.error("error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_response(exc.errors(), skip=1)  # loc starts with "body"

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "invalid_input", 404: "not_found", 405: "method_not_allowed"}
        return error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal", "internal error; the operator has the details")

    return app
