"""HTTP API (FastAPI): furnisher, gate, public and operator routes under /v1."""

from socialcredit.api.app import create_app

__all__ = ["create_app"]
