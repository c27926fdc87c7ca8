"""Benchmark: ``POST /v1/decisions`` over HTTP, a gate replica against a bare Starlette app.

    python bench/http_gate.py [--seconds 15] [--concurrency 32] [--subjects 20000]
                              [--seed 1] [--database-url URL] [--client auto|wrk|asyncio] [--json]

Setup: simulate ``--subjects`` people, ingest every furnisher file, link and evaluate (as
``socialcredit demo`` does), register one gate for air, rail_hsr and hotel_star. The requests are
that day's ``tickets.csv`` purchases of those services, by national ID (people with an active
dishonesty finding buy more often, so a realistic few are refused), replayed in a loop.

Servers, each one process on 127.0.0.1 under uvicorn with the same settings (``uvicorn.run``,
log level warning, its default event loop and HTTP parser): ``socialcredit serve --role gate``
(ours), and a bare Starlette app whose one route returns a constant JSON (baseline).

Load generator, another process: ``wrk`` (one thread, HTTP/1.1 keep-alive, ``--concurrency``
connections) if it is installed, else this script's own asyncio client (HTTP/1.1 over asyncio
streams). Per server:
a short warm-up, then ``--seconds`` at full load (closed loop: requests/s, p50/p99), then
``--seconds`` rate-limited to half of *our* full-load throughput (p50/p99 at half load). Targets:
ours ≥ 60 % of the bare app's requests/s; p99 ≤ 5 ms at half load.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from freshness import (
    Server,
    database,
    free_port,
    percentile,
    say,
    serve_argv,
    start_server,
    stop_servers,
)
from sqlalchemy import func, select

TARGET_RATIO = 0.60
TARGET_HALF_P99_MS = 5.0
SERVICES = ("air", "rail_hsr", "hotel_star")
WARMUP_S = 3.0


# ----------------------------------------------------------------------------- servers
def serve_bare(port: int) -> None:
    """The baseline: one process, one route, a constant JSON body."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    body = {"decision": "allow", "decision_id": "0" * 29, "service": "air", "reasons": []}

    async def decide(request: Request) -> JSONResponse:
        return JSONResponse(body)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/v1/decisions", decide, methods=["POST"]),
                            Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# ----------------------------------------------------------------------------- setup
def build_registry(url: str, subjects: int, seed: int, work: Path) -> tuple[str, list[str],
                                                                             dict[str, Any]]:
    """Simulate, ingest, link, evaluate; return a gate key, the request bodies and facts."""
    from socialcredit.api.keys import add_furnisher, add_gate, furnisher_id
    from socialcredit.api.registry import Registry
    from socialcredit.identity.relink import relink_unlinked
    from socialcredit.ingest.pipeline import ingest_file
    from socialcredit.policy.sweeps import evaluate_all
    from socialcredit.settings import Settings
    from socialcredit.simulate import simulate
    from socialcredit.store.tables import list_entries

    today = dt.datetime.now(dt.UTC).date()
    reg = Registry(Settings(database_url=url))
    reg.ensure_schema()
    t0 = time.perf_counter()
    manifest = simulate(work / "sim", subjects=subjects, seed=seed, as_of=today)
    for f in manifest.furnishers:
        add_furnisher(reg.store, name=f.name, kind=f.kind)
    rows = 0
    for f in manifest.furnishers:
        ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, f.name),
                    path=work / "sim" / f.file, as_of=today,
                    chunk_rows=reg.settings.ingest_batch_rows)
        rows += f.rows
    reg.store.refresh_statistics("records", "subjects", "identifiers", "list_entries")
    relink_unlinked(reg.store, reg.policy, as_of=today)
    evaluate_all(reg.store, reg.policy, today)
    key = add_gate(reg.store, reg.policy, name="bench-http-gate", services=list(SERVICES))
    with reg.store.read() as conn:
        listed = int(conn.execute(select(func.count()).select_from(list_entries).where(
            list_entries.c.status == "active")).scalar_one())
    with (work / "sim" / manifest.tickets_file).open(encoding="utf-8", newline="") as fh:
        bodies = [json.dumps({"service": r["service"], "national_id": r["national_id"]},
                             separators=(",", ":"))
                  for r in csv.DictReader(fh) if r["service"] in SERVICES and r["national_id"]]
    random.Random(seed).shuffle(bodies)
    reg.close()
    return key, bodies, {"rows_ingested": rows, "setup_s": round(time.perf_counter() - t0, 1),
                         "active_entries": listed}


def decision_mix(url: str, key: str, bodies: list[str]) -> dict[str, int]:
    """Send every distinct request once: how many are allowed, denied, reviewed, failed."""
    mix = {"allow": 0, "deny": 0, "review": 0, "error": 0}
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        for body in bodies:
            r = client.post("/v1/decisions", content=body, headers=headers)
            mix[r.json()["decision"] if r.status_code == 200 else "error"] += 1
    return mix


# ----------------------------------------------------------------------------- load: wrk
WRK_SCRIPT = """
local bodies = {%(bodies)s}
local i = %(start)d
local mean_delay_ms = %(mean_delay_ms)f
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
if mean_delay_ms > 0 then
  -- exponential gaps per connection: arrivals near Poisson at the target rate
  delay = function() return -math.log(1 - math.random()) * mean_delay_ms end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d, ' ..
    '"max_us": %%d, "errors": %%d, "non_2xx": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def run_wrk(url: str, key: str, bodies: list[str], seconds: float, concurrency: int,
            rate: float | None, work: Path) -> dict[str, Any]:
    script = work / "gate.lua"
    mean_delay_ms = concurrency / rate * 1000 if rate else 0.0
    script.write_text(WRK_SCRIPT % {
        "bodies": ",\n".join(f"[[{b}]]" for b in bodies), "key": key,
        "start": random.randrange(len(bodies)), "mean_delay_ms": mean_delay_ms})
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
           "-s", str(script), url + "/v1/decisions"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    return {"rps": r["requests"] / (r["duration_us"] / 1e6), "requests": r["requests"],
            "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
            "max_ms": r["max_us"] / 1000, "errors": r["errors"] + r["non_2xx"]}


# ----------------------------------------------------------------------------- load: asyncio
async def _asyncio_load(url: str, key: str, bodies: list[str], seconds: float,
                        concurrency: int, rate: float | None) -> dict[str, Any]:
    """``concurrency`` workers, each on its own HTTP/1.1 keep-alive connection (asyncio
    streams: httpx's own overhead, ~5 ms a request here, would measure the client). Closed
    loop without ``rate``; with it, each worker sends on its own Poisson schedule and latency
    counts from the scheduled time (no coordinated omission)."""
    host, port = httpx.URL(url).host, httpx.URL(url).port or 80
    head = (f"POST /v1/decisions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n")
    requests = [(head + f"Content-Length: {len(b)}\r\n\r\n{b}").encode() for b in bodies]
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    end = start + seconds

    async def worker(w: int) -> None:
        nonlocal errors
        rng = random.Random(w)
        i = rng.randrange(len(requests))
        due = start
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                if rate:
                    due += rng.expovariate(rate / concurrency)
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    t0 = due
                else:
                    t0 = time.perf_counter()
                if t0 >= end:
                    return
                i = (i + 1) % len(requests)
                writer.write(requests[i])
                status = await reader.readuntil(b"\r\n")
                length = 0
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if status.split(b" ", 2)[1] == b"200":
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"rps": len(latencies) / elapsed, "requests": len(latencies),
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies, default=math.nan) * 1000, "errors": errors}


def run_asyncio(url: str, key: str, bodies: list[str], seconds: float, concurrency: int,
              rate: float | None, work: Path) -> dict[str, Any]:
    """Run :func:`_asyncio_load` in another process (this script with ``--load-client``)."""
    spec = work / "load.json"
    spec.write_text(json.dumps({"url": url, "key": key, "bodies": bodies, "seconds": seconds,
                                "concurrency": concurrency, "rate": rate}))
    out = subprocess.run([sys.executable, __file__, "--load-client", str(spec)],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# ----------------------------------------------------------------------------- main
def fmt(r: dict[str, Any]) -> str:
    return f"{r['rps']:>9,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['errors']:>7}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0, help="Per measured run.")
    p.add_argument("--concurrency", type=int, default=32, help="Connections.")
    p.add_argument("--subjects", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", default=None,
                   help="Default: SQLite in a temporary directory. PostgreSQL: a fresh schema.")
    p.add_argument("--client", choices=("auto", "wrk", "asyncio"), default="auto",
                   help="Load generator (auto: wrk if installed).")
    p.add_argument("--json", action="store_true", help="Print one JSON object.")
    p.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    p.add_argument("--load-client", type=Path, metavar="SPEC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return 0
    if args.load_client:
        spec = json.loads(args.load_client.read_text())
        print(json.dumps(asyncio.run(_asyncio_load(**spec))))
        return 0

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "asyncio"
    elif client == "wrk" and not shutil.which("wrk"):
        p.error("wrk is not installed (apt-get install -y wrk), use --client asyncio")
    load = run_wrk if client == "wrk" else run_asyncio
    env = dict(os.environ)
    env.pop("SOCIALCREDIT_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="sc-http-") as tmp, \
            database(args.database_url, Path(tmp)) as url:
        work = Path(tmp)
        say(f"simulating and ingesting {args.subjects:,} people")
        key, bodies, facts = build_registry(url, args.subjects, args.seed, work)
        dialect = url.split(":", 1)[0].split("+", 1)[0]
        servers: list[Server] = []
        try:
            port = free_port()
            servers.append(start_server("gate", serve_argv(url, port, "gate"), port, work, env))
            port = free_port()
            servers.append(start_server(
                "bare", [sys.executable, __file__, "--serve-bare", str(port)], port, work, env))
            ours, bare = servers
            mix = decision_mix(ours.url, key, bodies)
            say(f"{len(bodies):,} distinct requests: {mix}")
            results: dict[str, dict[str, Any]] = {}
            for name, server in (("ours", ours), ("bare", bare)):
                say(f"{name}: warm-up, then {args.seconds:g} s at full load")
                load(server.url, key, bodies, WARMUP_S, args.concurrency, None, work)
                results[f"{name}_full"] = load(server.url, key, bodies, args.seconds,
                                               args.concurrency, None, work)
            half = results["ours_full"]["rps"] / 2
            for name, server in (("ours", ours), ("bare", bare)):
                say(f"{name}: {args.seconds:g} s at {half:,.0f} requests/s")
                results[f"{name}_half"] = load(server.url, key, bodies, args.seconds,
                                               args.concurrency, half, work)
            for s in servers:
                if s.proc.poll() is not None:
                    raise RuntimeError(f"{s.name} died during the run:\n{s.tail()}")
        finally:
            stop_servers(servers)

    ratio = results["ours_full"]["rps"] / results["bare_full"]["rps"]
    errors = sum(r["errors"] for r in results.values()) + mix["error"]
    out: dict[str, Any] = {
        "database": dialect, "subjects": args.subjects, "client": client,
        "concurrency": args.concurrency, "seconds": args.seconds, "cpus": os.cpu_count(),
        **facts, "distinct_requests": len(bodies), "decision_mix": mix,
        **{k: {m: round(v, 3) if isinstance(v, float) else v for m, v in r.items()}
           for k, r in results.items()},
        "half_load_rps": round(half, 1), "ratio_ours_bare": round(ratio, 3),
        "meets_ratio": ratio >= TARGET_RATIO,
        "meets_half_p99": results["ours_half"]["p99_ms"] <= TARGET_HALF_P99_MS,
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["meets_ratio"] and out["meets_half_p99"] and not errors else 1
    n = len(bodies)
    gen = (f"wrk, 1 thread, {args.concurrency} keep-alive HTTP/1.1 connections" if client == "wrk"
           else f"this script's asyncio client, one process, {args.concurrency} keep-alive "
                "HTTP/1.1 connections (slower than wrk: it takes more of the shared CPU)")
    lines = [
        f"HTTP gate: POST /v1/decisions on {dialect}, {args.subjects:,} simulated people "
        f"({facts['rows_ingested']:,} furnisher rows, {facts['active_entries']:,} active list "
        f"entries), {n:,} distinct ticket requests replayed "
        f"in a loop: {mix['deny']:,} deny ({mix['deny'] / n:.1%}), {mix['allow']:,} allow, "
        f"{mix['review']} review, {mix['error']} errors",
        f"Load generator: {gen}; {args.seconds:g} s per run after a {WARMUP_S:g} s warm-up.",
        f"Note: the client and both servers share {os.cpu_count()} CPU cores (loopback), so "
        "the client's CPU is taken from the server under test; compare the ratio, not the "
        "absolute figures.",
        "",
        f"{'':28}{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}",
        f"{'gate (serve --role gate)':28}{fmt(results['ours_full'])}   full load",
        f"{'bare Starlette':28}{fmt(results['bare_full'])}   full load",
        f"{'gate (serve --role gate)':28}{fmt(results['ours_half'])}   "
        f"rate-limited to {half:,.0f} req/s",
        f"{'bare Starlette':28}{fmt(results['bare_half'])}   "
        f"rate-limited to {half:,.0f} req/s",
        "",
        f"Throughput ours / bare: {ratio:.0%} (target ≥ {TARGET_RATIO:.0%}): "
        + ("MET" if out["meets_ratio"] else "NOT MET"),
        f"p99 at half load: {results['ours_half']['p99_ms']:.2f} ms (target ≤ "
        f"{TARGET_HALF_P99_MS:g} ms): " + ("MET" if out["meets_half_p99"] else "NOT MET"),
    ]
    if errors:
        lines.append(f"Errors (non-200 or transport): {errors} — the figures above are suspect")
    print("\n".join(lines))
    return 0 if out["meets_ratio"] and out["meets_half_p99"] and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
