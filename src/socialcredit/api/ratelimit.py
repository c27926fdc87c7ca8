"""Per-client rate limit of the public search (anti-enumeration, issue #7).

A token bucket per client address: ``burst`` searches at once, then ``per_minute`` a minute.
Past it the caller gets :class:`~socialcredit.errors.RateLimited` (429 ``rate_limited``, with
``Retry-After`` in whole seconds). The client is the TCP peer address, or the address a
trusted proxy forwarded (uvicorn's ``--proxy-headers`` / ``--forwarded-allow-ips`` set it).

State lives in the process: several server processes each allow the rate, so a deployment
behind N processes allows N times the rate per client; put the limit in the proxy when that
matters. Memory is bounded by ``max_clients`` (buckets of idle clients are dropped first).
"""

from __future__ import annotations

from typing import Any

from socialcredit.api.buckets import RateLimiter

__all__ = ["RateLimiter", "limit_client"]  # RateLimiter: socialcredit.api.buckets


def limit_client(request: Any) -> None:
    """Spend one of the caller's public requests (``app.state.public_limiter``, keyed by the
    client address): the public search and the subject's sign-in share it.

    Raises:
        RateLimited: 429 ``rate_limited`` past the limit.
    """
    request.app.state.public_limiter.take(request.client.host if request.client else "?")
