"""Benchmark: a nation through the front door, stage by stage, beside the database's floors.

    python bench/nation.py [--subjects N] [--seed S] [--database-url URL] [--json]
                           [--engine incremental|duckdb] [--work-dir DIR]

Stages (each: wall seconds, CPU seconds of this process and its threads — the figure that
does not move with other load on the machine —, rows/s, peak RSS of the stage):

1. ``simulate``: the synthetic population's furnisher files (``socialcredit simulate``);
2. ``ingest``: every furnisher file through ``ingest_file`` (validation, deterministic and
   probabilistic linkage, ledger, incremental evaluation), as ``socialcredit ingest`` does;
3. ``link``: ``relink_unlinked`` over what the ingest left unlinked or in review;
4. ``evaluate``: ``evaluate_all`` as of the simulation's day (expiry, scores);
5. ``gate_index``: ``GateIndex.build()`` from the store;
6. ``day``: the simulated day of ticket purchases through ``DecisionService.decide``.

Floors, measured in the same run on the same machine and store:

* ``bulk_load``: the records the ingest wrote, streamed back and written into a bare copy of
  the ``records`` table (no keys, no indexes) with the database's own bulk path (``COPY`` on
  PostgreSQL, one ``executemany`` transaction on SQLite; ``store/bulk.py``), timing the writes
  only. ``ingest ratio`` = floor seconds / ingest seconds (the issue's target: ≥ 0.5).
* ``duckdb_read``: DuckDB reading every furnisher file (``read_csv`` / ``read_json``), counting
  rows.

Peak RSS per stage: the kernel's high-water mark (``VmHWM``), reset before each stage by
writing ``5`` to ``/proc/self/clear_refs`` (Linux); elsewhere the process's lifetime peak.
Default store: SQLite in a temporary directory. ``--database-url postgresql://...`` runs in a
fresh schema, dropped afterwards. Long runs: start in the background, e.g.
``nohup nice python bench/nation.py --subjects 10000000 --json > var/nation.json &``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, Table, select

from socialcredit.api.keys import Principal, add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.cli.demo_run import DEMO_GATES
from socialcredit.identity.relink import relink_unlinked
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.settings import Settings
from socialcredit.simulate import simulate
from socialcredit.store.bulk import bulk_insert
from socialcredit.store.scratch import scratch_database
from socialcredit.store.tables import records

AS_OF = dt.date(2026, 6, 30)  # fixed, so that a seed gives the same population every run


def say(msg: str) -> None:
    print(f"[nation] {msg}", file=sys.stderr, flush=True)


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(out: dict[str, Any], name: str, rows: Callable[[Any], int],
          fn: Callable[[], Any]) -> Any:
    """Run one stage; record seconds, rows, rows/s and peak RSS (MB) under ``out[name]``."""
    say(f"{name} …")
    _reset_peak()
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = rows(value)
    out[name] = {"seconds": round(secs, 3), "cpu_seconds": round(cpu, 3), "rows": n,
                 "rows_per_s": round(n / secs) if secs > 0 else None,
                 "peak_rss_mb": round(_peak_mb())}
    say(f"{name}: {secs:.1f} s ({cpu:.1f} CPU-s), {n:,} rows, "
        f"{out[name]['peak_rss_mb']:,} MB peak")
    return value


def ingest_all(reg: Registry, data: Path, manifest: Any) -> int:
    for f in manifest.furnishers:
        add_furnisher(reg.store, name=f.name, kind=f.kind)
    done = 0
    for f in manifest.furnishers:
        res = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, f.name),
                          path=data / f.file, as_of=AS_OF,
                          chunk_rows=reg.settings.ingest_batch_rows)
        done += res.accepted + res.rejected + res.duplicates
    return done


def bulk_floor(reg: Registry, chunk: int = 50_000) -> tuple[float, int]:
    """Seconds spent writing every held record into a bare copy of ``records`` (see the module
    docstring), and the rows written."""
    bare = Table("bench_bare_records", MetaData(),
                 *(Column(c.name, c.type, nullable=c.nullable) for c in records.columns))
    bare.create(reg.store.engine)
    spent, n, last = 0.0, 0, 0
    try:
        while True:
            with reg.store.read() as conn:
                rows = [dict(r._mapping) for r in conn.execute(
                    select(records).where(records.c.id > last).order_by(records.c.id)
                    .limit(chunk))]
            if not rows:
                break
            last = rows[-1]["id"]
            t0 = time.perf_counter()
            with reg.store.engine.begin() as conn:
                bulk_insert(conn, bare, rows)
            spent += time.perf_counter() - t0
            n += len(rows)
    finally:
        bare.drop(reg.store.engine)
    return spent, n


def duckdb_floor(data: Path, manifest: Any) -> tuple[float, int]:
    import duckdb

    con = duckdb.connect()
    t0, n = time.perf_counter(), 0
    for f in manifest.furnishers:
        path = str(data / f.file)
        reader = ("read_csv" if path.endswith(".csv") else
                  "read_parquet" if path.endswith(".parquet") else "read_json")
        opts = ", all_varchar = true" if reader == "read_csv" else (
            ", format = 'newline_delimited', ignore_errors = true"
            if reader == "read_json" else "")
        n += con.execute(f"SELECT count(*) FROM {reader}(?{opts})", [path]).fetchone()[0]
    return time.perf_counter() - t0, n


def replay_day(reg: Registry, data: Path, manifest: Any) -> int:
    gates: dict[str, Principal] = {}
    by_platform: dict[str, Principal] = {}
    for name, (services, platform) in DEMO_GATES.items():
        key = add_gate(reg.store, reg.policy, name=name, services=services, platform=platform)
        principal = authenticate(reg.store, key)
        if platform:
            by_platform[platform] = principal
        for svc in services:
            gates.setdefault(svc, principal)
    decide, n = reg.decisions.decide, 0
    with (data / manifest.tickets_file).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            gate = by_platform.get(r["platform"]) or gates[r["service"]]
            if r["national_id"]:
                decide(service=r["service"], national_id=r["national_id"], gate=gate)
            else:
                decide(service=r["service"], phone=r["phone"], gate=gate)
            n += 1
    reg.decisions.flush()
    return n


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"subjects": args.subjects, "seed": args.seed,
                           "as_of": AS_OF.isoformat(), "cores": os.cpu_count()}
    sim = work / "sim"
    manifest = stage(out, "simulate", lambda m: sum(f.rows for f in m.furnishers),
                     lambda: simulate(sim, subjects=args.subjects, seed=args.seed,
                                      as_of=AS_OF))
    with scratch_database(args.database_url, work, prefix="nation_") as url:
        reg = Registry(Settings(database_url=url), today=AS_OF)
        try:
            reg.ensure_schema()
            out["database"] = reg.store.dialect
            stage(out, "ingest", int, lambda: ingest_all(reg, sim, manifest))
            stage(out, "link", lambda r: int(r["linked"] + r["pending"] + r["unlinked"]),
                  lambda: relink_unlinked(reg.store, reg.policy, as_of=AS_OF))
            stage(out, "evaluate", lambda s: int(s.subjects),
                  lambda: evaluate_all(reg.store, reg.policy, AS_OF, engine=args.engine))
            stage(out, "gate_index", lambda _: int(reg.gate_index.size),
                  reg.gate_index.build)
            stage(out, "day", int, lambda: replay_day(reg, sim, manifest))
            floor_s, floor_n = bulk_floor(reg)
            out["floor_bulk_load"] = {"seconds": round(floor_s, 3), "rows": floor_n,
                                      "rows_per_s": round(floor_n / floor_s) if floor_s else None}
        finally:
            reg.close()
    duck_s, duck_n = duckdb_floor(sim, manifest)
    out["floor_duckdb_read"] = {"seconds": round(duck_s, 3), "rows": duck_n,
                                "rows_per_s": round(duck_n / duck_s) if duck_s else None}
    # the ingest against the bare load of what it held (rows the ingest accepted)
    out["ingest_ratio_vs_bulk_load"] = round(
        (out["floor_bulk_load"]["seconds"] / out["floor_bulk_load"]["rows"])
        / (out["ingest"]["seconds"] / out["ingest"]["rows"]), 4) if floor_n else None
    out["end_to_end_seconds"] = round(sum(
        out[s]["seconds"] for s in ("simulate", "ingest", "link", "evaluate", "gate_index",
                                    "day")), 1)
    out["peak_rss_mb"] = max(out[s]["peak_rss_mb"] for s in (
        "simulate", "ingest", "link", "evaluate", "gate_index", "day"))
    return out


def table(r: dict[str, Any]) -> str:
    lines = [f"socialcredit nation — {r['database']}, {r['subjects']:,} people, seed {r['seed']},"
             f" {r['cores']} cores", "",
             f"{'stage':<30}{'seconds':>10}{'CPU-s':>10}{'rows':>14}{'rows/s':>12}"
             f"{'peak RSS MB':>13}",
             "-" * 89]
    for name in ("simulate", "ingest", "link", "evaluate", "gate_index", "day",
                 "floor_bulk_load", "floor_duckdb_read"):
        s = r[name]
        rss = f"{s['peak_rss_mb']:,}" if "peak_rss_mb" in s else ""
        rate = f"{s['rows_per_s']:,}" if s.get("rows_per_s") else ""
        cpu = f"{s['cpu_seconds']:.1f}" if "cpu_seconds" in s else ""
        lines.append(f"{name:<30}{s['seconds']:>10.1f}{cpu:>10}{s['rows']:>14,}{rate:>12}"
                     f"{rss:>13}")
    lines += ["", f"ingest ratio vs bare bulk load (per row): {r['ingest_ratio_vs_bulk_load']}",
              f"end to end: {r['end_to_end_seconds']} s, peak RSS {r['peak_rss_mb']:,} MB"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=10_000_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", help="default: SQLite in a temporary directory")
    p.add_argument("--engine", choices=("incremental", "duckdb"), default="incremental",
                   help="evaluation engine of the evaluate stage")
    p.add_argument("--work-dir", type=Path, help="where the files and SQLite go (default: tmp)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sc-nation-", dir=args.work_dir) as tmp:
        result = run(args, Path(tmp))
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
