"""Benchmark: sustained mixed load on one server — ingest, gate decisions and public search at
once — against decisions alone at the same rate.

    python bench/load.py [--seconds 60] [--subjects 20000] [--seed 1] [--database-url URL]
                         [--ingest-rows-per-s 1000] [--batch-rows 100] [--searches-per-s 50]
                         [--decision-share 0.5] [--client-processes 1] [--gate-replica]
                         [--decision-rate N] [--json]

Setup (``http_gate.build_registry``): simulate ``--subjects`` people, ingest, link, evaluate,
register a gate (air, rail_hsr, hotel_star) and, here, a court furnisher. One ``socialcredit
serve`` (role all) runs as a subprocess on 127.0.0.1, its public-search rate limit raised for
this single client (``SOCIALCREDIT_PUBLIC_RATE_PER_MINUTE`` / ``_BURST`` in its environment).

Phases, all against that server (``--gate-replica``: decisions go to a ``serve --role gate``
replica, another process following the ledger):

1. *capacity*: ``http_gate``'s asyncio client, closed loop, 32 connections, after a warm-up:
   decisions/s at full load;
2. *alone* (the baseline): ``POST /v1/decisions`` for ``--seconds`` at ``--decision-share`` of
   that capacity, nothing else;
3. *mixed*: for ``--seconds``, three open-loop streams at fixed rates from one asyncio client
   process (``--client-processes 3``: one process each): the same decisions; ingest —
   ``POST /v1/records`` of ``--batch-rows`` fresh records every ``batch_rows / rows_per_s``
   seconds (new people; 10 % ``dishonesty_finding``, which lists them, 3 % the full
   ``judgment_performance`` of a finding sent 2 s earlier, which delists, the rest
   ``court_judgment``); public searches — ``GET /v1/public/entries?q=`` a listed person's name
   or ID, a known unlisted ID or an unknown ID, Poisson arrivals;
4. *after*: the ledger head (``/healthz``) against the gate's lag gauges (``/metrics``, sampled
   every second during the mixed run too); once the head stops moving (the server has
   finished requests the clients gave up on), every person of the ingest stream the database
   knows is decided with ``POST /v1/decisions:batch`` until each answer matches the
   database's active list entries (the time that takes is the catch-up time; a wrong answer
   left after 30 s is a *lost* update); the people whose entries differ from what the records
   sent call for are counted; every accepted record is counted in the database;
5. *timing*: ~200 public searches each of a known but unlisted ID and of an unknown ID,
   interleaved, one at a time on the idle server: medians and their ratio (response time must
   not tell whether an unlisted ID exists).

``--flood N`` measures instead what an unauthenticated client can force (issue #20): after
*capacity* and *alone*, the same decisions run while another client process sends ``N``
requests a second with made-up, well-formed API keys (each a different key id); the figure is
the decision p99 under the flood against alone. The mixed, after and timing phases are skipped.
``--flood-addresses N`` sends the flood from N addresses through a proxy the server trusts, so
that the per-client limit of key checks does not stop it (only the per-key-id limit and the
argon2 slots, :data:`socialcredit.api.keys.VERIFY_SLOTS`, are left).

Latency is measured from each request's *scheduled* send time (no coordinated omission): a
request that waits for a free connection or a late client counts its wait. Errors: any
non-200 status (429 included), connection error or timeout (30 s); target 0.
Default store: SQLite in a temporary directory; ``--database-url postgresql://...`` runs in a
fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from freshness import (
    Server,
    database,
    free_port,
    national_id,
    percentile,
    say,
    serve_argv,
    start_server,
    stop_servers,
)
from http_gate import build_registry, run_asyncio
from sqlalchemy import and_, func, select

CAPACITY_CONCURRENCY = 32
WARMUP_S = 3.0
REQUEST_TIMEOUT_S = 30.0
CATCH_UP_TIMEOUT_S = 30.0
#: Regions of the people the ingest stream creates and of the never-seen IDs searched for;
#: neither is among the simulator's regions, so no ID collides with the simulated population.
INGEST_REGION, UNKNOWN_REGION = "650102", "650103"
FINDING_SHARE, PERFORMANCE_SHARE = 0.10, 0.03
PERFORMANCE_DELAY_S = 2.0
#: A decision stream whose requests wait longer than this for a connection is overloaded.
OVERLOAD_LAG_MS = 100.0


# ----------------------------------------------------------------------------- raw HTTP/1.1
def raw_request(method: str, target: str, host: str, headers: dict[str, str] | None = None,
                body: str | None = None) -> str:
    """One HTTP/1.1 request (keep-alive) as text; encode as UTF-8 to send."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + (body or "")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response with a ``Content-Length`` (what uvicorn sends here)."""
    status = int((await reader.readuntil(b"\r\n")).split(b" ", 2)[1])
    length = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


# ----------------------------------------------------------------------------- open-loop client
@dataclass
class Stream:
    """An open-loop stream: ``requests`` (raw, cycled) sent at ``rate`` per second — evenly
    spaced, or Poisson if ``poisson`` — over at most ``connections`` keep-alive connections."""

    name: str
    url: str
    requests: list[str]
    rate: float
    connections: int
    poisson: bool = True
    keep_bodies: bool = False

    def schedule(self, seconds: float, seed: int) -> list[float]:
        """Send times, in seconds from the start."""
        if not self.poisson:
            return [i / self.rate for i in range(math.floor(seconds * self.rate + 1e-9))]
        rng, t, out = random.Random(seed), 0.0, []
        while (t := t + rng.expovariate(self.rate)) < seconds:
            out.append(t)
        return out


@dataclass
class StreamResult:
    latencies: list[float] = field(default_factory=list)  # s, scheduled send → response
    send_lag: list[float] = field(default_factory=list)  # s, scheduled send → written
    due: list[float] = field(default_factory=list)  # s from start, per latency
    errors: Counter[str] = field(default_factory=Counter)
    bodies: list[bytes] = field(default_factory=list)
    sent: int = 0


async def run_stream(stream: Stream, start: float, seconds: float, seed: int) -> StreamResult:
    """Send ``stream`` from ``start`` (a ``perf_counter`` time) for ``seconds``; wait for the
    answers (at most ``REQUEST_TIMEOUT_S`` each) and return what happened."""
    u = httpx.URL(stream.url)
    host, port = u.host, u.port or 80
    res = StreamResult()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    requests = [r.encode() for r in stream.requests]

    async def worker() -> None:
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = (
            await asyncio.open_connection(host, port))
        while (item := await queue.get()) is not None:
            due, req = item
            try:
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                sent = time.perf_counter()
                conn[1].write(req)
                status, body = await asyncio.wait_for(read_response(conn[0]),
                                                      REQUEST_TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as e:
                res.errors["timeout" if isinstance(e, TimeoutError) else "connection"] += 1
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            done = time.perf_counter()
            res.latencies.append(done - due)
            res.send_lag.append(sent - due)
            res.due.append(due - start)
            if status != 200:
                res.errors[str(status)] += 1
            if stream.keep_bodies:
                res.bodies.append(body)
        if conn is not None:
            conn[1].close()

    workers = [asyncio.create_task(worker()) for _ in range(stream.connections)]
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    for offset, req in zip(stream.schedule(seconds, seed), itertools.cycle(requests)):
        due = start + offset
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        queue.put_nowait((due, req))
        res.sent += 1
    for _ in workers:
        queue.put_nowait(None)
    _, pending = await asyncio.wait(workers, timeout=REQUEST_TIMEOUT_S + 5)
    for t in pending:
        t.cancel()
    answered = len(res.latencies) + res.errors["connection"] + res.errors["timeout"]
    if res.sent > answered:
        res.errors["unanswered"] += res.sent - answered
    return res


def summarise(stream: Stream, res: StreamResult, seconds: float) -> dict[str, Any]:
    """Counts, achieved rate, latency percentiles (ms) and the p99 per 1 s and 10 s window
    (by scheduled send time)."""
    lat = res.latencies
    per_s: list[list[float]] = [[] for _ in range(math.ceil(seconds))]
    for x, d in zip(lat, res.due, strict=True):
        per_s[min(int(d), len(per_s) - 1)].append(x)
    windows = [sum(per_s[w:w + 10], []) for w in range(0, len(per_s), 10)]
    out: dict[str, Any] = {
        "target_per_s": round(stream.rate, 1), "sent": res.sent, "answered": len(lat),
        "achieved_per_s": round(len(lat) / seconds, 1),
        "errors": dict(res.errors), "error_count": sum(res.errors.values()),
        "p50_ms": round(percentile(lat, 50) * 1000, 2),
        "p99_ms": round(percentile(lat, 99) * 1000, 2),
        "max_ms": round(max(lat, default=math.nan) * 1000, 2),
        "send_lag_p99_ms": round(percentile(res.send_lag, 99) * 1000, 2),
        "p99_ms_per_10s": [round(percentile(w, 99) * 1000, 1) for w in windows if w],
        "p99_ms_per_s": [round(percentile(w, 99) * 1000, 1) for w in per_s],
        "client_cpu_s": None,
    }
    if stream.keep_bodies:
        totals: Counter[str] = Counter()
        for b in res.bodies:
            try:
                d = json.loads(b)
            except ValueError:
                continue
            for k in ("accepted", "rejected", "duplicates"):
                totals[k] += int(d.get(k, 0))
        out["rows"] = dict(totals)
    return out


async def run_client(streams: list[Stream], start_wall: float, seconds: float,
                     seed: int) -> dict[str, dict[str, Any]]:
    """Run ``streams`` together in this process, starting at wall-clock ``start_wall``."""
    start = time.perf_counter() + (start_wall - time.time())
    results = await asyncio.gather(*(run_stream(s, start, seconds, seed + i)
                                     for i, s in enumerate(streams)))
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    out = {s.name: summarise(s, r, seconds) for s, r in zip(streams, results, strict=True)}
    for o in out.values():  # the process's, shared by its streams
        o["client_cpu_s"] = round(cpu.ru_utime + cpu.ru_stime, 2)
        o["client_streams"] = [s.name for s in streams]
    return out


def run_clients(groups: list[list[Stream]], seconds: float, seed: int,
                work: Path) -> dict[str, dict[str, Any]]:
    """Each group of streams in its own process (this script with ``--client``), all starting
    at the same moment; the merged summaries by stream name."""
    start_wall = time.time() + 2.0
    procs = []
    for i, group in enumerate(groups):
        spec = work / f"client-{i}.json"
        spec.write_text(json.dumps({"start_wall": start_wall, "seconds": seconds,
                                    "seed": seed + 100 * i,
                                    "streams": [s.__dict__ for s in group]}))
        procs.append(subprocess.Popen([sys.executable, __file__, "--client", str(spec)],
                                      stdout=subprocess.PIPE, text=True))
    out: dict[str, dict[str, Any]] = {}
    for proc in procs:
        stdout, _ = proc.communicate(timeout=seconds + REQUEST_TIMEOUT_S + 60)
        if proc.returncode:
            raise RuntimeError(f"a load client exited with {proc.returncode}")
        out.update(json.loads(stdout))
    return out


# ----------------------------------------------------------------------------- workload
@dataclass
class IngestPlan:
    """The ingest stream's request bodies and what each person's records call for."""

    bodies: list[str]
    expected: dict[str, str]  # national ID → "deny" | "allow" for air
    rows: int


def plan_ingest(batches: int, batch_rows: int, period_s: float, seed: int,
                delay_s: float = PERFORMANCE_DELAY_S) -> IngestPlan:
    """``batches`` bodies of ``batch_rows`` records about new people (see the module doc)."""
    rng = random.Random(seed)
    today = dt.datetime.now(dt.UTC).date()
    found, judged, paid = (today - dt.timedelta(days=d) for d in (30, 60, 1))
    lag_batches = max(1, round(delay_s / period_s))
    findings: list[list[tuple[str, str, int]]] = []  # per batch: (id, case, amount)
    expected: dict[str, str] = {}
    bodies, k = [], 0
    for b in range(batches):
        records: list[dict[str, Any]] = []
        due = findings[b - lag_batches] if b >= lag_batches else []
        rng.shuffle(due)
        n_perf = min(len(due), round(batch_rows * PERFORMANCE_SHARE))
        for nid, case, amount in due[:n_perf]:
            records.append({"furnisher_record_id": f"L-P-{nid}", "kind": "judgment_performance",
                            "occurred_at": paid.isoformat(), "national_id": nid,
                            "case_number": case, "amount_minor": amount, "currency": "CNY",
                            "full": True})
            expected[nid] = "allow"
        batch_findings = []
        while len(records) < batch_rows:
            k += 1
            nid = national_id(k, INGEST_REGION)
            case = f"(2026)新0102执{k:06d}号"
            amount = rng.randrange(1_000_00, 5_000_000_00)
            rec = {"furnisher_record_id": f"L-{k}", "occurred_at": judged.isoformat(),
                   "national_id": nid, "name": f"负载{k}", "case_number": case,
                   "amount_minor": amount, "currency": "CNY"}
            if rng.random() < FINDING_SHARE:
                rec.update(kind="dishonesty_finding", occurred_at=found.isoformat(),
                           ground=rng.randint(1, 6))
                batch_findings.append((nid, case, amount))
                expected[nid] = "deny"
            else:
                rec["kind"] = "court_judgment"
                if rng.random() < 0.1:
                    expected[nid] = "allow"
            records.append(rec)
        findings.append(batch_findings)
        bodies.append(json.dumps({"records": records}, ensure_ascii=False,
                                 separators=(",", ":")))
    return IngestPlan(bodies, expected, batches * batch_rows)


def search_targets(url: str, n: int, seed: int) -> dict[str, list[str]]:
    """From the database: names and IDs of people on a public list, IDs of known people on
    none; and ``n`` valid IDs nobody has."""
    from socialcredit.api.registry import Registry
    from socialcredit.settings import Settings
    from socialcredit.store.tables import list_entries, subjects

    reg = Registry(Settings(database_url=url))
    listed_q = (select(subjects.c.name, subjects.c.national_id)
                .join(list_entries, list_entries.c.subject_id == subjects.c.id)
                .where(and_(list_entries.c.status == "active", list_entries.c.public.is_(True),
                            subjects.c.national_id.is_not(None)))
                .distinct().limit(n))
    on_list = select(list_entries.c.subject_id).where(list_entries.c.status == "active")
    unlisted_q = (select(subjects.c.national_id)
                  .where(subjects.c.national_id.is_not(None), subjects.c.id.not_in(on_list))
                  .order_by(subjects.c.id).limit(n))
    with reg.store.read() as conn:
        listed = conn.execute(listed_q).all()
        unlisted = [r[0] for r in conn.execute(unlisted_q)]
        unknown = [national_id(1_000_000 + i, UNKNOWN_REGION) for i in range(n)]
        taken = conn.execute(select(func.count()).select_from(subjects).where(
            subjects.c.national_id.in_(unknown))).scalar_one()
    reg.close()
    if taken:
        raise RuntimeError(f"{taken} of the 'unknown' IDs are in the registry")
    rng = random.Random(seed)
    rng.shuffle(unlisted)
    return {"listed_name": [r.name for r in listed if r.name],
            "listed_id": [r.national_id for r in listed], "unlisted_id": unlisted,
            "unknown_id": unknown}


def search_requests(targets: dict[str, list[str]], host: str, n: int, seed: int) -> list[str]:
    """``n`` searches: 40 % listed names, 30 % listed IDs, 15 % known unlisted IDs, 15 %
    unknown IDs."""
    rng = random.Random(seed)
    kinds = rng.choices(["listed_name", "listed_id", "unlisted_id", "unknown_id"],
                        weights=[40, 30, 15, 15], k=n)
    return [raw_request("GET", "/v1/public/entries?q=" + quote(rng.choice(targets[kind])), host)
            for kind in kinds if targets[kind]]


# ----------------------------------------------------------------------------- measurements
def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU used by the server processes from now, in cores (CPU seconds per second), by name."""

    def __init__(self, servers: list[Server]) -> None:
        self.servers, self.t0 = servers, time.perf_counter()
        self.cpu0 = [cpu_seconds(s.proc.pid) for s in servers]

    def cores(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.t0
        return {s.name: round((cpu_seconds(s.proc.pid) - c0) / elapsed, 2)
                for s, c0 in zip(self.servers, self.cpu0, strict=True)}


def gauges(client: httpx.Client, url: str) -> dict[str, float]:
    """The ledger head (``/healthz``) and the gate's lag gauges (``/metrics``)."""
    out = {"head_seq": float(client.get(url + "/healthz").json()["ledger_seq"])}
    for line in client.get(url + "/metrics").text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("socialcredit_ledger_lag_events", "socialcredit_ledger_lag_seconds",
                    "socialcredit_gate_staleness_seconds"):
            out[name.removeprefix("socialcredit_")] = float(value)
    return out


class Monitor(threading.Thread):
    """Samples :func:`gauges` every second until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.samples: list[dict[str, float]] = []

    def run(self) -> None:
        with httpx.Client(timeout=10, trust_env=False) as client:
            while not self.stop.wait(1.0):
                try:
                    self.samples.append(gauges(client, self.url))
                except (httpx.HTTPError, ValueError, KeyError):
                    self.samples.append({"failed": 1.0})


def wrong_answers(client: httpx.Client, url: str, gate_key: str,
                  expected: dict[str, str]) -> dict[str, tuple[str, str]]:
    """National ID → (expected, answered) for every person whose air decision is wrong."""
    wrong: dict[str, tuple[str, str]] = {}
    ids = list(expected)
    for i in range(0, len(ids), 10_000):
        chunk = ids[i:i + 10_000]
        r = client.post(url + "/v1/decisions:batch", headers={
            "Authorization": f"Bearer {gate_key}"}, json={
            "service": "air", "people": [{"national_id": n} for n in chunk]})
        r.raise_for_status()
        for nid, d in zip(chunk, r.json()["data"], strict=True):
            got = d.get("decision", "error")
            if got != expected[nid]:
                wrong[nid] = (expected[nid], got)
    return wrong


def catch_up(url: str, gate_key: str, expected: dict[str, str]) -> dict[str, Any]:
    """Decide every ingested person until all answers are right (or ``CATCH_UP_TIMEOUT_S``)."""
    t0 = time.perf_counter()
    with httpx.Client(timeout=60, trust_env=False) as client:
        at_end = gauges(client, url)
        first = wrong = wrong_answers(client, url, gate_key, expected)
        first_s = time.perf_counter() - t0
        while wrong and time.perf_counter() - t0 < CATCH_UP_TIMEOUT_S:
            time.sleep(0.05)
            wrong = wrong_answers(client, url, gate_key, expected)
        after = gauges(client, url)
    return {"at_end": at_end, "after_check": after, "checked_people": len(expected),
            "wrong_at_first_check": len(first), "first_check_s": round(first_s, 3),
            "catch_up_s": round(time.perf_counter() - t0, 3) if not wrong else None,
            "lost": [{"national_id": n, "expected": e, "answered": a}
                     for n, (e, a) in list(wrong.items())[:20]], "lost_count": len(wrong)}


def drain(url: str, quiet_s: float = 2.0, timeout_s: float = 300.0) -> float:
    """Wait until the ledger head (``/healthz``) has not moved for ``quiet_s`` (the server has
    finished requests the clients gave up on); seconds waited."""
    t0 = last_change = time.perf_counter()
    with httpx.Client(timeout=30, trust_env=False) as client:
        head = client.get(url + "/healthz").json()["ledger_seq"]
        while time.perf_counter() - last_change < quiet_s:
            if time.perf_counter() - t0 > timeout_s:
                raise RuntimeError(f"the ledger head still moves {timeout_s:g} s after the load")
            time.sleep(0.25)
            now = client.get(url + "/healthz").json()["ledger_seq"]
            if now != head:
                head, last_change = now, time.perf_counter()
    return round(last_change - t0, 2)


def expected_from_db(url: str, plan: dict[str, str]) -> tuple[dict[str, str], int]:
    """The air decision the database's projections call for, for each person of ``plan``
    that the database knows (deny: an active list entry); and how many of them differ from
    ``plan`` (what the records sent call for, if every batch arrived in order)."""
    from socialcredit.api.registry import Registry
    from socialcredit.settings import Settings
    from socialcredit.store.tables import list_entries, subjects

    reg = Registry(Settings(database_url=url))
    ids = list(plan)
    known: set[str] = set()
    listed: set[str] = set()
    with reg.store.read() as conn:
        for i in range(0, len(ids), 1000):
            chunk = ids[i:i + 1000]
            known.update(r[0] for r in conn.execute(select(subjects.c.national_id).where(
                subjects.c.national_id.in_(chunk))))
            listed.update(r[0] for r in conn.execute(
                select(subjects.c.national_id).join(
                    list_entries, list_entries.c.subject_id == subjects.c.id).where(
                    subjects.c.national_id.in_(chunk), list_entries.c.status == "active")))
    reg.close()
    expected = {n: "deny" if n in listed else "allow" for n in ids if n in known}
    return expected, sum(1 for n, e in expected.items() if plan[n] != e)


def records_stored(url: str, furnisher: str) -> int:
    from socialcredit.api.registry import Registry
    from socialcredit.settings import Settings
    from socialcredit.store.tables import furnishers, records

    reg = Registry(Settings(database_url=url))
    with reg.store.read() as conn:
        n = conn.execute(select(func.count()).select_from(records).join(
            furnishers, furnishers.c.id == records.c.furnisher_id).where(
            furnishers.c.name == furnisher)).scalar_one()
    reg.close()
    return int(n)


async def _timing(url: str, targets: dict[str, list[str]], n: int, seed: int
                  ) -> dict[str, list[float]]:
    u = httpx.URL(url)
    host = f"{u.host}:{u.port}"
    reader, writer = await asyncio.open_connection(u.host, u.port)
    rng = random.Random(seed)
    trials = [(k, q) for k in ("unlisted_id", "unknown_id") for q in targets[k][:n]]
    rng.shuffle(trials)
    warm = [("warm", q) for q in targets["unknown_id"][-20:]]
    out: dict[str, list[float]] = {"unlisted_id": [], "unknown_id": []}
    for kind, q in warm + trials:
        req = raw_request("GET", "/v1/public/entries?q=" + quote(q), host).encode()
        t0 = time.perf_counter()
        writer.write(req)
        status, _ = await read_response(reader)
        if status != 200:
            raise RuntimeError(f"public search answered {status} during the timing probe")
        if kind != "warm":
            out[kind].append(time.perf_counter() - t0)
    writer.close()
    return out


def search_timing(url: str, targets: dict[str, list[str]], n: int, seed: int) -> dict[str, Any]:
    """Median (and p90) response time of ``n`` searches of known unlisted IDs and of ``n``
    unknown IDs, interleaved at random, one at a time."""
    t = asyncio.run(_timing(url, targets, n, seed))
    med = {k: statistics.median(v) * 1000 for k, v in t.items()}
    return {"n": {k: len(v) for k, v in t.items()},
            "median_ms": {k: round(v, 3) for k, v in med.items()},
            "p90_ms": {k: round(percentile(v, 90) * 1000, 3) for k, v in t.items()},
            "ratio_unlisted_unknown": round(med["unlisted_id"] / med["unknown_id"], 3)}


# ----------------------------------------------------------------------------- main
def flood_figure(args: argparse.Namespace, gate: Server, gate_host: str, decisions: Stream,
                 alone: dict[str, dict[str, Any]], dialect: str, work: Path) -> int:
    """Decisions again while a second client process floods the gate with invalid keys;
    print (or ``--json``) decision p99 flooded vs alone."""
    import secrets

    def spoofed(i: int) -> dict[str, str]:  # one of N client addresses behind the proxy
        if args.flood_addresses <= 1:
            return {}
        n = i % args.flood_addresses
        return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}

    fakes = [raw_request("POST", "/v1/decisions", gate_host, {
        "Authorization": f"Bearer sc_g_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}",
        "Content-Type": "application/json", **spoofed(i)}, '{"service":"air","national_id":"x"}')
        for i in range(5000)]
    flood = Stream("flood", gate.url, fakes, args.flood, CAPACITY_CONCURRENCY)
    say(f"flood: decisions at {decisions.rate:,.0f}/s + {args.flood:,.0f} invalid keys/s for "
        f"{args.seconds:g} s")
    under = run_clients([[decisions], [flood]], args.seconds, args.seed, work)
    a, f, fl = alone["decisions"], under["decisions"], under["flood"]
    out = {"database": dialect, "decision_rate": round(decisions.rate, 1),
           "flood_per_s": args.flood, "flood_addresses": args.flood_addresses,
           "alone": a, "flooded": f,
           "flood_answers": fl["errors"], "flood_p99_ms": fl["p99_ms"],
           "ratio_p99_flooded_alone": round(f["p99_ms"] / a["p99_ms"], 2)}
    ok = a["error_count"] == 0 and f["error_count"] == 0
    if args.json:
        print(json.dumps({**out, "ok": ok}, indent=2))
    else:
        print("\n".join([
            f"Invalid-key flood on {dialect}: decisions at {decisions.rate:,.0f}/s, alone and "
            f"with {args.flood:,.0f} requests/s of made-up API keys from another process"
            + (f", from {args.flood_addresses:,} addresses behind a trusted proxy"
               if args.flood_addresses > 1 else ""),
            f"  {'stream':22}{'sent':>7}{'achieved':>13}{'':12}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'max ms':>9}",
            _row("decisions, alone", a), _row("decisions, flooded", f),
            f"Decision p99 flooded / alone: {f['p99_ms']:.2f} / {a['p99_ms']:.2f} ms = "
            f"{out['ratio_p99_flooded_alone']:.2f}×; flood answers: {fl['errors']} "
            f"(p99 {fl['p99_ms']} ms); decision errors (target 0): "
            f"{a['error_count'] + f['error_count']}"]))
    return 0 if ok else 1


def _row(name: str, r: dict[str, Any]) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
    return (f"  {name:22}{r['sent']:>7,}{r['achieved_per_s']:>9,.1f}/s "
            f"(of {r['target_per_s']:,.1f}){r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
            f"{r['max_ms']:>9.1f}   errors {errors}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="Per measured run (alone, mixed).")
    p.add_argument("--subjects", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", default=None,
                   help="Default: SQLite in a temporary directory. PostgreSQL: a fresh schema.")
    p.add_argument("--ingest-rows-per-s", type=float, default=1000.0)
    p.add_argument("--batch-rows", type=int, default=100, help="Records per POST /v1/records.")
    p.add_argument("--performance-delay-s", type=float, default=PERFORMANCE_DELAY_S,
                   help="A performance follows its finding by this much (≥ one batch).")
    p.add_argument("--searches-per-s", type=float, default=50.0)
    p.add_argument("--decision-share", type=float, default=0.5,
                   help="Decision rate as a share of the measured full-load capacity.")
    p.add_argument("--decision-rate", type=float, default=None,
                   help="Decisions/s (default: --decision-share of the measured capacity).")
    p.add_argument("--capacity-seconds", type=float, default=5.0)
    p.add_argument("--client-processes", type=int, choices=(1, 3), default=1,
                   help="1: all streams in one client process (it needs ~0.2 core; fewer "
                        "processes leave the server more of a shared machine); 3: one each.")
    p.add_argument("--gate-replica", action="store_true",
                   help="Send decisions to a `serve --role gate` replica (another process "
                        "following the ledger) instead of the role-all server.")
    p.add_argument("--timing-samples", type=int, default=200)
    p.add_argument("--flood", type=float, default=0.0, metavar="N",
                   help="Only measure decisions alone vs under N invalid-key requests/s.")
    p.add_argument("--flood-addresses", type=int, default=1, metavar="N",
                   help="With --flood: the made-up keys come from N client addresses "
                        "(X-Forwarded-For, the server trusting 127.0.0.1 as its proxy), so "
                        "the per-client limit of key checks does not stop them.")
    p.add_argument("--json", action="store_true", help="Print one JSON object.")
    p.add_argument("--client", type=Path, metavar="SPEC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.client:
        spec = json.loads(args.client.read_text())
        streams = [Stream(**s) for s in spec.pop("streams")]
        print(json.dumps(asyncio.run(run_client(streams=streams, **spec))))
        return 0

    env = dict(os.environ)
    env.pop("SOCIALCREDIT_DATABASE_URL", None)
    env["SOCIALCREDIT_PUBLIC_RATE_PER_MINUTE"] = str(max(60, round(args.searches_per_s * 600)))
    env["SOCIALCREDIT_PUBLIC_RATE_BURST"] = "10000"
    if args.flood_addresses > 1:
        env["SOCIALCREDIT_TRUSTED_PROXIES"] = '["127.0.0.1"]'
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sc-load-") as tmp, \
            database(args.database_url, Path(tmp)) as url:
        work = Path(tmp)
        say(f"simulating and ingesting {args.subjects:,} people")
        gate_key, decision_bodies, facts = build_registry(url, args.subjects, args.seed, work)
        from socialcredit.api.keys import add_furnisher
        from socialcredit.api.registry import Registry
        from socialcredit.settings import Settings

        reg = Registry(Settings(database_url=url))
        court_key = add_furnisher(reg.store, name="bench-load-court", kind="court")
        dialect = reg.store.dialect
        reg.close()
        targets = search_targets(url, 1000, args.seed)
        ingest_per_s = args.ingest_rows_per_s / args.batch_rows
        plan = plan_ingest(math.floor(args.seconds * ingest_per_s + 1e-9), args.batch_rows,
                           1 / ingest_per_s if ingest_per_s else 1.0, args.seed,
                           args.performance_delay_s)
        servers: list[Server] = []
        try:
            port = free_port()
            server = start_server("api", serve_argv(url, port, "all"), port, work, env)
            servers.append(server)
            gate = server
            if args.gate_replica:
                port = free_port()
                gate = start_server("gate", serve_argv(url, port, "gate"), port, work, env)
                servers.append(gate)
            host, gate_host = server.url.removeprefix("http://"), gate.url.removeprefix("http://")
            say(f"{dialect}: capacity of {gate.name}, {WARMUP_S:g} s warm-up + "
                f"{args.capacity_seconds:g} s closed loop ({CAPACITY_CONCURRENCY} connections)")
            run_asyncio(gate.url, gate_key, decision_bodies, WARMUP_S, CAPACITY_CONCURRENCY,
                        None, work)
            capacity = run_asyncio(gate.url, gate_key, decision_bodies,
                                   args.capacity_seconds, CAPACITY_CONCURRENCY, None, work)
            rate = args.decision_rate or capacity["rps"] * args.decision_share
            decisions = Stream("decisions", gate.url, [raw_request(
                "POST", "/v1/decisions", gate_host, {"Authorization": f"Bearer {gate_key}",
                                                     "Content-Type": "application/json"}, b)
                for b in decision_bodies], rate, CAPACITY_CONCURRENCY)
            ingest = Stream("ingest", server.url, [raw_request(
                "POST", "/v1/records", host, {"Authorization": f"Bearer {court_key}",
                                              "Content-Type": "application/json"}, b)
                for b in plan.bodies], ingest_per_s, 8, poisson=False, keep_bodies=True)
            search = Stream("search", server.url, search_requests(
                targets, host, max(1, round(args.searches_per_s * args.seconds)), args.seed),
                args.searches_per_s, 8)

            say(f"alone: decisions at {rate:,.0f}/s for {args.seconds:g} s")
            cpu = ServerCpu(servers)
            alone = run_clients([[decisions]], args.seconds, args.seed, work)
            server_cpu_alone = cpu.cores()
            load_alone = os.getloadavg()

            if args.flood:
                return flood_figure(args, gate, gate_host, decisions, alone, dialect, work)
            say(f"mixed: + ingest {args.ingest_rows_per_s:,.0f} rows/s, search "
                f"{args.searches_per_s:g}/s, for {args.seconds:g} s")
            active = [s for s in (decisions, ingest, search) if s.rate > 0]
            groups = [[s] for s in active] if args.client_processes == 3 else [active]
            monitor = Monitor(gate.url)
            monitor.start()
            cpu = ServerCpu(servers)
            mixed = run_clients(groups, args.seconds, args.seed, work)
            server_cpu_mixed = cpu.cores()
            monitor.stop.set()
            monitor.join()
            load_mixed = os.getloadavg()

            with httpx.Client(timeout=30, trust_env=False) as client:
                load_end = gauges(client, gate.url)
            say("after: waiting until the ledger head stops moving")
            drain_s = drain(server.url)
            expected, off_plan = expected_from_db(url, plan.expected)
            say(f"after: deciding the {len(expected):,} people of the ingest stream")
            lag = catch_up(gate.url, gate_key, expected)
            lag.update(at_load_end=load_end, drain_s=drain_s, off_plan=off_plan)
            stored = records_stored(url, "bench-load-court")
            say(f"timing: {args.timing_samples} searches each of known unlisted and unknown IDs")
            timing = search_timing(server.url, targets, args.timing_samples, args.seed)
            for s in servers:
                if s.proc.poll() is not None:
                    raise RuntimeError(f"{s.name} died during the run:\n{s.tail()}")
        finally:
            stop_servers(servers)

    samples = [s for s in monitor.samples if "failed" not in s]
    accepted = mixed.get("ingest", {}).get("rows", {}).get("accepted", 0)
    errors = sum(r["error_count"] for r in (*alone.values(), *mixed.values()))
    ratio = mixed["decisions"]["p99_ms"] / alone["decisions"]["p99_ms"]
    out: dict[str, Any] = {
        "database": dialect, "subjects": args.subjects, "seconds": args.seconds,
        "cpus": os.cpu_count(), "client_processes": args.client_processes, **facts,
        "loadavg": {"before": load0, "after_alone": load_alone, "after_mixed": load_mixed},
        "capacity": {k: round(v, 3) if isinstance(v, float) else v
                     for k, v in capacity.items()},
        "decision_rate": round(rate, 1),
        "alone": alone, "mixed": mixed,
        "gate_replica": args.gate_replica,
        "server_cpu_cores": {"alone": server_cpu_alone, "mixed": server_cpu_mixed},
        "ratio_p99_mixed_alone": round(ratio, 2),
        "ingest_rows": {"planned": plan.rows, "accepted": accepted, "stored": stored},
        "lag_during_run": {
            "max_lag_events": max((s["ledger_lag_events"] for s in samples), default=None),
            "max_lag_seconds": max((s["ledger_lag_seconds"] for s in samples), default=None),
            "max_staleness_seconds": max((s["gate_staleness_seconds"] for s in samples),
                                         default=None),
            "monitor_failures": len(monitor.samples) - len(samples)},
        "lag_after": lag, "search_timing": timing, "errors": errors,
    }
    ok = (errors == 0 and lag["lost_count"] == 0 and stored == accepted == plan.rows)
    out["ok"] = ok
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0 if ok else 1
    md, ma, ing = mixed["decisions"], alone["decisions"], out["ingest_rows"]
    end, dl = lag["at_end"], out["lag_during_run"]
    tm = timing
    lines = [
        f"Mixed load on {dialect}: one `serve` (role all)"
        + (" for ingest and search, decisions on a `serve --role gate` replica"
           if args.gate_replica else "") + f", {args.subjects:,} simulated people "
        f"({facts['active_entries']:,} active entries), {args.seconds:g} s per run",
        f"Load generators: {args.client_processes} asyncio client process(es), open loop, "
        "latency from the scheduled send time; the server, clients and database share "
        f"{os.cpu_count()} cores. Load average (1/5/15 min) before "
        f"{'/'.join(f'{x:.2f}' for x in load0)}, after the mixed run "
        f"{'/'.join(f'{x:.2f}' for x in load_mixed)}.",
        f"Capacity (closed loop, {CAPACITY_CONCURRENCY} connections, {args.capacity_seconds:g} "
        f"s): {capacity['rps']:,.0f} decisions/s; decisions run at "
        + (f"{args.decision_share:.0%} = " if not args.decision_rate else "")
        + f"{rate:,.0f}/s.",
        "",
        f"  {'stream':22}{'sent':>7}{'achieved':>13}{'':12}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'max ms':>9}",
        _row("decisions, alone", ma),
        _row("decisions, mixed", md),
        *(_row(label, mixed[k]) for k, label in (
            ("ingest", f"ingest ({args.batch_rows} rows/req)"), ("search", "public search"))
          if k in mixed),
        "",
        f"Decision p99 mixed / alone: {md['p99_ms']:.2f} / {ma['p99_ms']:.2f} ms = "
        f"{ratio:.2f}×; p99 per 10 s, mixed: {md['p99_ms_per_10s']}",
        *(f"Worst seconds, decisions {name} (second: p99 ms): " + ", ".join(
            f"{i}: {v:,.0f}" for i, v in sorted(
                ((i, v) for i, v in enumerate(r["p99_ms_per_s"]) if not math.isnan(v)),
                key=lambda t: -t[1])[:6])
          for name, r in (("alone", ma), ("mixed", md))),
        "Client send lag p99 (scheduled → written; more than a few ms: a starved client or "
        "no free connection): "
        + ", ".join(f"{k} {v['send_lag_p99_ms']} ms" for k, v in mixed.items()),
        f"Server CPU (cores): alone {server_cpu_alone}, mixed {server_cpu_mixed}; "
        "client CPU s per process: " + ", ".join(sorted({
            f"{'+'.join(v['client_streams'])} {v['client_cpu_s']}" for v in mixed.values()})),
        f"Ingest rows: planned {ing['planned']:,}, accepted {ing['accepted']:,}, stored in "
        f"the database {ing['stored']:,}",
        f"Ledger lag during the run (sampled each second): max {dl['max_lag_events']} events, "
        f"max {dl['max_lag_seconds']} s; gate staleness max {dl['max_staleness_seconds']} s",
        f"When the load stopped: ledger head seq {lag['at_load_end']['head_seq']:.0f}; gate "
        f"lag at its last refresh {lag['at_load_end']['ledger_lag_events']:.0f} events, "
        f"{lag['at_load_end']['ledger_lag_seconds']:.3f} s; staleness "
        f"{lag['at_load_end']['gate_staleness_seconds']:.3f} s.",
        f"After the load the ledger head kept moving for {lag['drain_s']:.1f} s (requests "
        "the clients had given up on); then, per person of the ingest stream, the database's "
        f"list entries were compared with the gate: {lag['off_plan']} differ from what the "
        "records sent call for (batches lost, unanswered or out of order).",
        f"Then: ledger head seq {end['head_seq']:.0f}; gate lag at its last refresh "
        f"{end['ledger_lag_events']:.0f} events, {end['ledger_lag_seconds']:.3f} s; "
        f"{lag['wrong_at_first_check']} of {lag['checked_people']:,} ingested people answered "
        f"wrongly at the first check (which took {lag['first_check_s']:.2f} s); all right "
        + ("at the first check" if not lag["wrong_at_first_check"]
           else f"after {lag['catch_up_s']:.2f} s" if lag["catch_up_s"] is not None
           else f"NEVER ({lag['lost_count']} still wrong after {CATCH_UP_TIMEOUT_S:g} s: "
                f"{lag['lost'][:3]})"),
        f"Public search, known unlisted vs unknown ID ({tm['n']['unlisted_id']} each, "
        f"interleaved, idle server): median {tm['median_ms']['unlisted_id']:.3f} vs "
        f"{tm['median_ms']['unknown_id']:.3f} ms (ratio {tm['ratio_unlisted_unknown']:.3f}), "
        f"p90 {tm['p90_ms']['unlisted_id']:.3f} vs {tm['p90_ms']['unknown_id']:.3f} ms",
        *([f"Warning: decisions alone did not keep up with {rate:,.0f}/s (send lag p99 "
           f"{ma['send_lag_p99_ms']:,.0f} ms): the server lacked CPU (load average "
           f"{load_alone[0]:.1f} on {os.cpu_count()} cores); the latencies measure the "
           "machine's contention more than the server"]
          if ma["send_lag_p99_ms"] > OVERLOAD_LAG_MS else []),
        f"Errors (target 0): {errors}; lost gate updates: {lag['lost_count']}; "
        + ("OK" if ok else "NOT OK"),
    ]
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
