"""socialcredit: an open-source social credit registry with due process.

Public surface (pinned by ``tests/test_public_api.py``): settings, errors, the registry facade,
the app factory and the CLI. Everything else is internal and may change.
"""

from socialcredit.errors import (
    AuthError,
    ConfigError,
    Conflict,
    IdentifierError,
    InputError,
    LedgerBroken,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    SocialCreditError,
    StoreUnavailable,
    UnknownService,
    ValidationFailed,
)
from socialcredit.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "ConfigError",
    "Conflict",
    "IdentifierError",
    "InputError",
    "LedgerBroken",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Registry",
    "Settings",
    "SocialCreditError",
    "StoreUnavailable",
    "UnknownService",
    "ValidationFailed",
    "__version__",
    "create_app",
]


def __getattr__(name: str) -> object:
    """Lazy imports keep ``import socialcredit`` light (the app pulls in FastAPI)."""
    if name == "Registry":
        from socialcredit.registry import Registry

        return Registry
    if name == "create_app":
        from socialcredit.api import create_app

        return create_app
    raise AttributeError(f"module 'socialcredit' has no attribute {name!r}")
