"""A furnisher client run as its own OS process by ``test_concurrency.py``.

Usage::

    python clients.py PLAN.json OUT.json

``PLAN.json`` holds ``{"bases": [url, ...], "key": str, "batches": [[record, ...], ...],
"ready": path, "go": path, "retry_cap_seconds": float, "deadline_seconds": float}``. The client
touches ``ready``, waits for ``go`` to exist (so that every client starts at once), then posts
each batch to ``POST /v1/records`` of ``bases[i % len(bases)]``. A ``503 unavailable`` or
``409 conflict`` that carries a ``Retry-After`` header is a polite refusal: the client waits
(``Retry-After`` seconds, at most ``retry_cap_seconds``) and sends the same batch again, until
``deadline_seconds`` have passed. Any other answer is recorded as it is and the batch is not
retried.

``OUT.json`` gets one object per batch: ``{"status", "accepted", "duplicates", "rejected",
"problems", "refusals": [{"status", "code", "message", "retry_after"}], "error"}``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    Path(plan["ready"]).touch()
    go = Path(plan["go"])
    start = time.monotonic()
    while not go.exists():
        if time.monotonic() - start > 60:
            raise SystemExit("the test never said go")
        time.sleep(0.005)
    headers = {"Authorization": f"Bearer {plan['key']}"}
    deadline = time.monotonic() + float(plan["deadline_seconds"])
    cap = float(plan["retry_cap_seconds"])
    out: list[dict[str, Any]] = []
    with httpx.Client(timeout=120) as client:
        for i, batch in enumerate(plan["batches"]):
            base = plan["bases"][i % len(plan["bases"])]
            result: dict[str, Any] = {"refusals": [], "size": len(batch)}
            while True:
                r = client.post(f"{base}/v1/records", json={"records": batch}, headers=headers)
                body = r.json()
                retry_after = r.headers.get("Retry-After")
                if (r.status_code in (409, 503) and retry_after is not None
                        and time.monotonic() < deadline):
                    err = body["error"]
                    result["refusals"].append({"status": r.status_code, "code": err["code"],
                                               "message": err["message"],
                                               "retry_after": retry_after})
                    time.sleep(min(float(retry_after), cap) * random.uniform(0.5, 1.0))
                    continue
                result["status"] = r.status_code
                if r.status_code == 200:
                    result.update({k: body[k] for k in ("accepted", "duplicates", "rejected",
                                                        "problems")})
                else:
                    result["error"] = body
                break
            out.append(result)
    return out


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    results = run(plan)
    Path(sys.argv[2]).write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
