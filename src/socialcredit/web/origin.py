"""Where a form post comes from, as the browser says it (login CSRF, OWASP ASVS 4.0 §4.2.2):
the subject's and the operator's sign-in forms refuse a post another site made."""

from __future__ import annotations

from starlette.requests import Request

__all__ = ["same_origin"]


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site or from an opaque
    origin: ``Origin`` other than this one — ``null`` included, which a sandboxed frame of any
    site sends (our own pages send their real origin: their referrer policy is
    ``same-origin``, api/headers.py) — or ``Sec-Fetch-Site: cross-site``. True when it says
    nothing (a client that is not a browser)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == f"{request.url.scheme}://{request.url.netloc}"
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
