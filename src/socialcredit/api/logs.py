"""Logging of the API server without personal data.

Uvicorn's access log line is ``client - "METHOD path?query HTTP/1.1" status``; the query of a
public search (``/?q=<name>``, ``/v1/public/entries?q=<ID>``) would put a person's name or ID
in the log. :class:`DropQueryString` removes the query from every access-log record;
:func:`install_access_log_filter` puts it on the ``uvicorn.access`` logger (it survives
uvicorn's own logging setup), and :func:`log_config` is the ``log_config`` that ``socialcredit
serve`` hands to uvicorn: its formats, the filter on the access handler, and the registry's own
``socialcredit`` loggers at the same level. Request bodies, headers (API keys) and names are
never logged by the registry; only 5xx errors log a traceback (paths only, never queries).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

__all__ = ["ACCESS_LOGGER", "DropQueryString", "install_access_log_filter", "log_config"]

ACCESS_LOGGER = "uvicorn.access"


class DropQueryString(logging.Filter):
    """Cut ``?…`` from the path of uvicorn access-log records (args ``(client, method,
    path, http_version, status)``); other records pass unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) \
                and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def install_access_log_filter() -> None:
    """Put :class:`DropQueryString` on the ``uvicorn.access`` logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, DropQueryString) for f in logger.filters):
        logger.addFilter(DropQueryString())


def log_config(level: str) -> dict[str, Any]:
    """Uvicorn's default ``log_config`` at ``level`` (``debug``, ``info``, ``warning``,
    ``error``), with query strings dropped from the access log and the ``socialcredit``
    loggers writing to stderr beside uvicorn's."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {**config.get("filters", {}),
                         "drop_query": {"()": f"{__name__}.DropQueryString"}}
    config["handlers"]["access"].setdefault("filters", []).append("drop_query")
    upper = level.upper()
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        config["loggers"].setdefault(name, {})["level"] = upper
    config["loggers"]["socialcredit"] = {"handlers": ["default"], "level": upper,
                                         "propagate": False}
    return config
