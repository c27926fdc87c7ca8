"""Who asks the gate: what a decision reads of the calling gate, as a small port.

The API's principals (:class:`socialcredit.api.keys.Principal`, made from a gate's key) have
these attributes; the gate reads them through this protocol, so it imports no face (issue #18,
DESIGN §5). An operator's check passes no caller (None).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["GateCaller"]


class GateCaller(Protocol):
    """``name``: the gate's registered name (logged with each decision); ``services``: the
    services it is registered for (any other is refused, PermissionDenied); ``platform``: the
    platform a ride-hail gate's ratings are scoped to, or None."""

    @property
    def name(self) -> str: ...

    @property
    def services(self) -> frozenset[str]: ...

    @property
    def platform(self) -> str | None: ...
