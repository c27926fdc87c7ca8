"""One error root for the whole registry.

Every error a user can hit is a :class:`SocialCreditError` with a stable ``code``, an HTTP
status, a human message and structured ``details``. The API maps each to the JSON shape
``{"error": {"code", "message", "details"}}`` (DESIGN §6); the CLI prints the message and exits
non-zero. Only 5xx errors log a traceback.

Hierarchy::

    SocialCreditError (500 internal)
    ├── ConfigError (500 config_error)            settings or policy file unusable
    │   └── MissingExtra (500 missing_extra)     an optional backend is not installed; also
    │                                            an ImportError; the message names the extra
    ├── InputError (400 invalid_input)            a request or file the registry cannot accept
    │   ├── ValidationFailed (422 validation_failed)   details.problems lists every problem
    │   ├── PayloadTooLarge (413 payload_too_large)
    │   ├── UnknownService (400 unknown_service)
    │   ├── IdentifierError (400 invalid_identifier)
    │   └── RepairTooEarly (400 repair_too_early)  before the tier's shortest publication period
    ├── AuthError (401 unauthenticated)           missing or wrong API key
    ├── PermissionDenied (403 forbidden)          the key's role may not do this
    ├── NotFound (404 not_found)
    ├── Conflict (409 conflict)
    ├── RateLimited (429 rate_limited)            details.retry_after_seconds says when
    ├── LedgerBroken (500 ledger_broken)          details.seq names the first broken event
    ├── ProjectionMismatch (500 projection_mismatch)  a table differs from the ledger's replay
    └── StoreUnavailable (503 unavailable)        the database cannot be reached
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "Conflict",
    "IdentifierError",
    "InputError",
    "LedgerBroken",
    "MissingExtra",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ProjectionMismatch",
    "RateLimited",
    "RepairTooEarly",
    "SocialCreditError",
    "StoreUnavailable",
    "UnknownService",
    "ValidationFailed",
]


class SocialCreditError(Exception):
    """Root of every error the registry raises on purpose."""

    status_code: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The JSON error shape of DESIGN §6: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def headers(self) -> dict[str, str]:
        """HTTP headers that go with the error: ``Retry-After`` (whole seconds) when
        ``details["retry_after_seconds"]`` says when a retry may succeed."""
        wait = self.details.get("retry_after_seconds")
        return {"Retry-After": str(int(wait))} if isinstance(wait, int | float) else {}


class ConfigError(SocialCreditError):
    code = "config_error"


class MissingExtra(ConfigError, ImportError):
    """An optional backend is not installed (psycopg for PostgreSQL). It is an ImportError, as
    STYLE habit 3 asks, and a ConfigError, so the CLI and the API report it as one clear
    message; the message names the extra to install (``pip install 'socialcredit[postgres]'``).
    """

    code = "missing_extra"


class InputError(SocialCreditError):
    status_code = 400
    code = "invalid_input"


class ValidationFailed(InputError):
    """Raised after collecting every problem; ``details["problems"]`` is a list of
    ``{"field", "reason"}`` (plus ``"line"``/``"file"`` for files)."""

    status_code = 422
    code = "validation_failed"


class PayloadTooLarge(InputError):
    """A request body over the server's limit (declared or counted while it streams)."""

    status_code = 413
    code = "payload_too_large"


class UnknownService(InputError):
    code = "unknown_service"


class IdentifierError(InputError):
    code = "invalid_identifier"


class RepairTooEarly(InputError):
    """A repair asked for or granted before the entry's severity tier allows it (NDRC Order
    No. 36: the shortest publication period runs first); ``details`` has ``repair_from``."""

    code = "repair_too_early"


class AuthError(SocialCreditError):
    status_code = 401
    code = "unauthenticated"


class PermissionDenied(SocialCreditError):
    status_code = 403
    code = "forbidden"


class NotFound(SocialCreditError):
    status_code = 404
    code = "not_found"


class Conflict(SocialCreditError):
    status_code = 409
    code = "conflict"


class RateLimited(SocialCreditError):
    """Too many requests from one client; ``details["retry_after_seconds"]`` (an integer)
    is also sent as the ``Retry-After`` header."""

    status_code = 429
    code = "rate_limited"


class LedgerBroken(SocialCreditError):
    code = "ledger_broken"


class ProjectionMismatch(SocialCreditError):
    """A projection table differs from what the ledger implies (``audit replay``);
    ``details`` names the table, the row's key and the column."""

    code = "projection_mismatch"


class StoreUnavailable(SocialCreditError):
    status_code = 503
    code = "unavailable"
