"""Token buckets keyed by client (the API's public limits and the key checks of
:mod:`socialcredit.api.keys` both use it, issue #18).

A token bucket per client: ``burst`` tokens at once, then ``per_minute`` a minute. Past it the
caller gets :class:`~socialcredit.errors.RateLimited` (429 ``rate_limited``, with
``Retry-After`` in whole seconds). State lives in the process: several server processes each
allow the rate. Memory is bounded by ``max_clients`` (buckets of idle clients are dropped
first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from socialcredit.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    """Token buckets keyed by client address.

    Args:
        per_minute: sustained rate (tokens added per minute), > 0.
        burst: bucket size (searches allowed at once), ≥ 1.
        max_clients: buckets kept; the least recently seen client is forgotten first (a
            forgotten client starts again with a full bucket).
        clock: seconds, monotonic (tests pass a fake clock).
        what: what is counted, for the message ("searches from your address").
    """

    def __init__(self, per_minute: float, burst: int, *, max_clients: int = 100_000,
                 clock: Callable[[], float] = time.monotonic, what: str = "searches") -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError("per_minute must be positive and burst at least 1")
        self.what = what
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def _rate_text(self) -> str:
        per_minute = self.rate * 60
        if per_minute >= 1:
            return f"{round(per_minute)} a minute"
        return f"{round(per_minute * 60)} an hour"

    def take(self, client: str) -> None:
        """Spend one token of ``client``'s bucket.

        Raises:
            RateLimited: the bucket is empty; ``details.retry_after_seconds`` is when one
                token will be back (rounded up to whole seconds, at least 1).
        """
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self.rate))
                raise RateLimited(
                    f"too many {self.what}: at most {self._rate_text()}; retry in {wait} s",
                    details={"retry_after_seconds": wait})
            self._buckets[client] = (tokens - 1.0, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
