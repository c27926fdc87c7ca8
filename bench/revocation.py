"""Benchmark: how long a revoked API key keeps working on a running server.

    python bench/revocation.py [--trials 20] [--database-url URL] [--json]

A server (``create_app`` under uvicorn on 127.0.0.1, in this process, its follower reading the
ledger every ``SOCIALCREDIT_GATE_REFRESH_MS``, 200 ms by default) serves a registry (SQLite in
a temporary folder, or the database at ``--database-url``). For each trial: a new furnisher's
key is used until the server has cached it, ``socialcredit furnishers revoke NAME`` runs as its
own process, and from the moment that command exits the key is tried every 5 ms until the
server answers 401. Prints the milliseconds from the command's exit to the first 401 (min,
median, max) beside the follow period, which bounds them (the README's figure). Without the
ledger event a cached key would keep working for the key cache's 30 s.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from socialcredit.api import create_app
from socialcredit.api.deps import KeyCache
from socialcredit.api.keys import add_furnisher
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def trial(client: httpx.Client, cache: KeyCache, reg: Registry, url: str, name: str) -> float:
    """Seconds from the revoking command's exit to the server's first 401 for its key."""
    key = add_furnisher(reg.store, name=name, kind="court")
    headers = {"Authorization": f"Bearer {key}"}
    while cache.get(KeyCache.digest(key)) is None:
        if client.get("/v1/furnisher/rejects", headers=headers).status_code != 200:
            raise RuntimeError("a fresh key was refused")
        time.sleep(0.02)
    env = {**os.environ, "SOCIALCREDIT_DATABASE_URL": url}
    done = subprocess.run([sys.executable, "-m", "socialcredit", "furnishers", "revoke", name,
                           "--json"], env=env, capture_output=True, text=True, check=True)
    exited = time.monotonic()
    if json.loads(done.stdout)["count"] != 1:
        raise RuntimeError(f"revoke did not revoke one key: {done.stdout}")
    while client.get("/v1/furnisher/rejects", headers=headers).status_code == 200:
        if time.monotonic() - exited > 30:
            raise RuntimeError("the revocation never reached the server")
        time.sleep(0.005)
    return time.monotonic() - exited


def run(trials: int, url: str) -> dict[str, float | int]:
    reg = Registry(Settings(database_url=url))
    reg.ensure_schema()
    app = create_app(registry=reg)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as client:
            ms = [trial(client, app.state.key_cache, reg, url, f"court-r{i}") * 1000
                  for i in range(trials)]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        reg.close()
    return {"trials": trials, "follow_ms": reg.settings.gate_refresh_ms,
            "min_ms": round(min(ms)), "median_ms": round(statistics.median(ms)),
            "max_ms": round(max(ms))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--database-url", default=None,
                   help="registry database (default: SQLite in a temporary folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sc-revocation-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'registry.db'}"
        say(f"{args.trials} revocations against a running server on {url.split(':')[0]}")
        r = run(args.trials, url)
    if args.json:
        print(json.dumps(r))
    else:
        print(f"revoked key refused (401) {r['min_ms']}–{r['max_ms']} ms after the revoking "
              f"command exited (median {r['median_ms']} ms, {r['trials']} trials; the server "
              f"follows the ledger every {r['follow_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
