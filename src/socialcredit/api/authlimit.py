"""Limits on failed API-key checks, per client address and per key id (issue #20, finding 4).

Each check of an unknown key counts as a failure against the client and the key id it named
from the moment it starts (checks in flight count too), and is taken back if it passes. A
client with ``per_client`` failures in the last ``window_s`` seconds, or a key id with
``per_key_id``, is refused with 429 *before* any argon2 work, until the oldest of those
failures leaves the window: a flood of made-up keys costs the server a dict lookup per
request, not 20 ms of argon2 each. A valid key already verified by this process is served from
the cache and never reaches this limit. State is in process memory, bounded to ``max_keys``
counters (the oldest forgotten first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from socialcredit.errors import RateLimited

__all__ = ["AuthFailures"]


class AuthFailures:
    def __init__(self, *, per_client: int = 20, per_key_id: int = 10, window_s: float = 60.0,
                 max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = {"client": per_client, "key": per_key_id}
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> deque[float]:
        times = self._seen.get(name) or deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        return times

    def check(self, *names: str) -> None:
        """Refuse if any of ``names`` (``client:<addr>``, ``key:<key id>``) is over its limit.

        Raises:
            RateLimited: 429 with ``retry_after_seconds`` (the same message for every name).
        """
        now = self.clock()
        with self._lock:
            for name in names:
                times = self._recent(name, now)
                if len(times) >= self.limits[name.split(":", 1)[0]]:
                    wait = max(1, math.ceil(self.window_s - (now - times[0])))
                    raise RateLimited(
                        f"too many failed API key checks; retry in {wait} s",
                        details={"retry_after_seconds": wait})

    def failed(self, *names: str) -> None:
        """Count one failure against each of ``names``."""
        now = self.clock()
        with self._lock:
            for name in names:
                times = self._recent(name, now)
                times.append(now)
                self._seen[name] = times
                self._seen.move_to_end(name)
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)

    def forgive(self, *names: str) -> None:
        """Take back the last failure of each of ``names`` (the check it stood for passed)."""
        with self._lock:
            for name in names:
                times = self._seen.get(name)
                if times:
                    times.pop()
