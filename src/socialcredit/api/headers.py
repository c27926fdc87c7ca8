"""Security headers on every response (issue #20, finding 6; OWASP ASVS 14.4).

* ``Content-Security-Policy``: scripts, styles, images, fonts and connections from this origin
  only (``'self'``: the Swagger UI assets served locally under ``/static`` or ``/docs`` pass),
  no plugins, no ``<base>``, forms post to this origin, and no framing
  (``frame-ancestors 'none'``). An inline ``<script>`` of the OpenAPI pages (``/docs``,
  ``/redoc``: FastAPI's start-up snippet) is allowed by its SHA-256 hash, computed from the
  page itself; no other page has one. Those pages also allow inline styles (Swagger UI and
  ReDoc set style attributes from their own scripts); no other page does.
* ``X-Frame-Options: DENY`` (for browsers without ``frame-ancestors``),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (no referrer to any
  other site; within this one, browsers then send the page's real ``Origin`` on a form post —
  under ``no-referrer`` they send ``null``, which web/origin.py must refuse: a sandboxed
  frame of another site sends it too),
  ``Cross-Origin-Opener-Policy: same-origin``, ``Permissions-Policy`` denying sensors.
* ``Strict-Transport-Security`` (one year, sub-domains) when the request came over HTTPS —
  directly or through a proxy in ``settings.trusted_proxies`` (api/clients.py).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

__all__ = ["CSP", "SecurityHeaders"]

CSP = ("default-src 'self'; script-src 'self'{hashes}; style-src 'self'{styles}; "
       "img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
_FIXED = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
          (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin"),
          (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
#: Pages whose inline start-up script is allowed by hash (they hold no user data).
_HASHED = ("/docs", "/redoc")
_INLINE = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def _csp(body: bytes = b"", *, docs: bool = False) -> bytes:
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
        for m in _INLINE.findall(body))
    # Swagger UI and ReDoc set style attributes from their scripts: the OpenAPI pages (no user
    # data on them) allow inline styles, never inline scripts
    return CSP.format(hashes=hashes, styles=" 'unsafe-inline'" if docs else "").encode()


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(_FIXED)
        if scope.get("scheme") == "https":
            extra.append(_HSTS)

        def headers_of(message: dict[str, Any], csp: bytes) -> list[tuple[bytes, bytes]]:
            kept = [(k, v) for k, v in message.get("headers", [])
                    if k.lower() not in {b"content-security-policy", *(k for k, _ in extra)}]
            return [*kept, (b"content-security-policy", csp), *extra]

        if not scope["path"].startswith(_HASHED):
            async def send_with(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": headers_of(message, _csp())}
                await send(message)

            await self.app(scope, receive, send_with)
            return
        # an OpenAPI page: hold it (a few kB) to hash its inline script
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def hold(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                await send({**start, "headers": headers_of(start, _csp(body, docs=True))})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, hold)
