"""socialcredit: an open-source social credit registry with due process.

Public surface (pinned by ``tests/test_public_api.py``): settings, errors, the registry facade,
the app factory and the CLI. Everything else is internal and may change.
"""

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # what the lazy names below are, for type checkers
    from socialcredit.api import create_app
    from socialcredit.api.registry import Registry
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
    """Lazy imports keep ``import socialcredit`` light (the settings pull in pydantic-settings,
    the registry the store, the app FastAPI)."""
    if name == "Settings":
        from socialcredit.settings import Settings

        return Settings
    if name == "Registry":
        from socialcredit.api.registry import Registry

        return Registry
    if name == "create_app":
        from socialcredit.api import create_app

        return create_app
    raise AttributeError(f"module 'socialcredit' has no attribute {name!r}")
