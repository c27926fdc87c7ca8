"""The registry's answer to a request that does not validate: 422 ``validation_failed``, with
every problem named by field (request bodies, query and path parameters alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["validation_response"]


def validation_response(errors: Sequence[Any], *, skip: int = 0) -> JSONResponse:
    """422 ``validation_failed`` with every problem as ``{"field", "reason"}``."""
    problems = []
    for e in errors:
        loc = [str(p) for p in e["loc"][skip:]]
        if e.get("type") == "json_invalid":  # loc holds a byte offset, not a field
            problems.append({"field": "body", "reason": f"{e['msg']} at byte {loc[0]}"
                             if loc else e["msg"]})
        else:
            problems.append({"field": ".".join(loc) or "body", "reason": e["msg"]})
    message = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
    return JSONResponse({"error": {"code": "validation_failed", "message": message,
                                   "details": {"problems": problems}}}, status_code=422)
