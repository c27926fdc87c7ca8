"""HTTP API (FastAPI): furnisher, gate, public and operator routes under /v1.

The faces' shared wiring lives here too, light to import: :mod:`.registry` (the
:class:`~socialcredit.api.registry.Registry` both entry points build), :mod:`.keys` (principals
and API keys), :mod:`.totp` (operators' second factor) and :mod:`.buckets` (token buckets).
``create_app`` is imported on first use, so those modules load no FastAPI (``socialcredit
check`` and ``--help`` stay quick).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialcredit.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    if name == "create_app":
        from socialcredit.api.app import create_app

        return create_app
    raise AttributeError(f"module 'socialcredit.api' has no attribute {name!r}")
