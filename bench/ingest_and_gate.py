"""Benchmark: ingest rows/s and gate decisions/s, each against a baseline of the same run.

    python bench/ingest_and_gate.py [--subjects N] [--seed S] [--decisions N]
                                    [--database-url URL] [--json]

Ingest: simulate a population, register its furnishers, ingest every file with ``ingest_file``
(as ``socialcredit demo`` does). Baseline: a plain SQLAlchemy Core executemany of the same
number of pre-built rows into a bare table with the columns of ``records`` (no keys, no
indexes), one transaction. Gate: replay ``tickets.csv`` (repeated up to ``--decisions``)
through ``DecisionService.decide``; baselines are (a) a dict lookup of the same identifier
strings and (b) the raw ``GateIndex.lookup``. Ratios are ours / baseline.

Default store: SQLite in a temporary directory. ``--database-url postgresql://...`` runs in a
fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, MetaData, Table, func, insert, select

from socialcredit.api.keys import Principal, add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.cli.demo_run import DEMO_GATES
from socialcredit.gate import GateIndex
from socialcredit.identity import normalise_phone, scheme_for
from socialcredit.identity.relink import relink_unlinked
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.ingest.readers import RawRow, read_rows
from socialcredit.ingest.validate import validate_row
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.settings import Settings
from socialcredit.simulate import simulate
from socialcredit.store.scratch import scratch_database
from socialcredit.store.tables import records

AS_OF = dt.date(2026, 6, 30)  # fixed, so that a seed gives the same population every run


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def best_of(n: int, fn: Callable[[], Any]) -> float:
    return min(timed(fn)[0] for _ in range(n))


def database(url: str | None, tmp: Path) -> AbstractContextManager[str]:
    """SQLite file in ``tmp``; or a fresh PostgreSQL schema, dropped on exit."""
    return scratch_database(url, tmp, prefix="bench_")


def cold_caches(reg: Registry) -> None:
    """Empty identifier-parsing memo caches (where src has them): timed passes start cold."""
    ident = reg.policy.identity.national_id
    for fn in (normalise_phone, scheme_for(ident.scheme, ident.pattern).parse):
        clear = getattr(fn, "cache_clear", None)
        if callable(clear):
            clear()


def bench_ingest(reg: Registry, data: Path, manifest: Any) -> dict[str, Any]:
    for f in manifest.furnishers:
        add_furnisher(reg.store, name=f.name, kind=f.kind)
    total = sum(f.rows for f in manifest.furnishers)
    counts: Counter[str] = Counter()
    read_s, rows = timed(lambda: [r for f in manifest.furnishers for r in read_rows(data / f.file)])
    good: list[RawRow] = [r for r in rows if r.problem is None]
    cold_caches(reg)  # split: validate_row alone, then ingest, both cold
    validate_s, _ = timed(lambda: [validate_row(r.data, reg.policy, today=AS_OF) for r in good])
    cold_caches(reg)
    say(f"ingesting {total:,} rows from {len(manifest.furnishers)} files")
    t0 = time.perf_counter()
    for f in manifest.furnishers:
        res = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, f.name),
                          path=data / f.file, as_of=AS_OF,
                          chunk_rows=reg.settings.ingest_batch_rows)
        counts.update(accepted=res.accepted, rejected=res.rejected, duplicates=res.duplicates)
    ingest_s = time.perf_counter() - t0
    # Baseline: plain executemany of as many pre-built rows into a bare copy of `records`.
    with reg.store.read() as conn:
        src = [dict(r._mapping) for r in conn.execute(select(records).order_by(records.c.id))]
    bare = Table("bench_bare_records", MetaData(),
                 *(Column(c.name, c.type, nullable=c.nullable) for c in records.columns))
    bare.create(reg.store.engine)
    built = [{**src[i % len(src)], "id": i + 1} for i in range(total)]

    def plain_insert() -> None:
        with reg.store.engine.begin() as conn:
            conn.execute(insert(bare), built)

    base_s, _ = timed(plain_insert)
    with reg.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(bare)).scalar_one() == total
    bare.drop(reg.store.engine)
    return {"rows": total, **counts, "seconds": ingest_s, "rows_per_s": total / ingest_s,
            "baseline_seconds": base_s, "baseline_rows_per_s": total / base_s,
            "ratio_vs_baseline": base_s / ingest_s, "read_seconds": read_s,
            "validate_seconds": validate_s, "rest_seconds": ingest_s - read_s - validate_s}


def bench_gate(reg: Registry, data: Path, manifest: Any, n: int) -> dict[str, Any]:
    relink_s, _ = timed(lambda: relink_unlinked(reg.store, reg.policy, as_of=AS_OF))
    evaluate_s, _ = timed(lambda: evaluate_all(reg.store, reg.policy, AS_OF))
    build_s, _ = timed(lambda: GateIndex(reg.store, reg.policy).build())
    index, service = reg.gate_index, reg.decisions
    gates: dict[str, Principal] = {}
    by_platform: dict[str, Principal] = {}
    for name, (services, platform) in DEMO_GATES.items():
        key = add_gate(reg.store, reg.policy, name=name, services=services, platform=platform)
        principal = authenticate(reg.store, key)
        if platform:
            by_platform[platform] = principal
        for svc in services:
            gates.setdefault(svc, principal)
    with (data / manifest.tickets_file).open(encoding="utf-8", newline="") as fh:
        day = [(r["service"], r["national_id"], r["phone"], r["platform"])
               for r in csv.DictReader(fh)]
    # a ride-hail ticket goes to its platform's gate (a platform-scoped list refuses there)
    calls = [(s, nid, ph, by_platform.get(plat) or gates[s]) for s, nid, ph, plat in day]
    replay = [calls[i % len(calls)] for i in range(n)]
    keys = [("national_id:", nid) if nid else ("phone:", ph) for _, nid, ph, _ in replay]
    listed = {k.split(":", 1)[1]: sid for k, sid in index.restricted()[1]}
    idents = [v for _, v in keys]

    def run(batch: list[tuple[str, str, str, Principal]]) -> None:
        decide = service.decide
        for svc, nid, ph, gate in batch:
            if nid:
                decide(service=svc, national_id=nid, gate=gate)
            else:
                decide(service=svc, phone=ph, gate=gate)

    say(f"gate: one day ({len(day):,} tickets) from cold caches, then {n:,} decisions")
    cold_caches(reg)
    day_s, _ = timed(lambda: run(calls))  # one simulated day; its outcomes are the day's figures
    day_counts = Counter(service.counts)
    service.flush()
    decide_s, _ = timed(lambda: run(replay))
    replay_denies = sum(c for (_, o), c in service.counts.items() if o == "deny")
    flush_s, _ = timed(service.flush)
    get, lookup = listed.get, index.lookup
    dict_s = best_of(3, lambda: [get(i) for i in idents])
    index_s = best_of(3, lambda: [lookup(p + v) for p, v in keys])
    by_service = {s: {o: day_counts[(s, o)] for o in ("allow", "deny", "review")}
                  for s in sorted({s for s, _ in day_counts})}
    return {"decisions": n, "seconds": decide_s, "decisions_per_s": n / decide_s,
            "first_day_decisions_per_s": len(day) / day_s,
            "dict_lookups_per_s": n / dict_s, "ratio_vs_dict": dict_s / decide_s,
            "index_lookups_per_s": n / index_s, "ratio_vs_index": index_s / decide_s,
            "replay_denies": replay_denies, "flush_seconds": flush_s,
            "index_build_seconds": build_s, "index_keys": index.size,
            "index_subjects": len(index.base.subject_ids), "tickets_per_day": len(day),
            "day_by_service": by_service, "relink_seconds": relink_s,
            "evaluate_all_seconds": evaluate_s}


def table(r: dict[str, Any]) -> str:
    i, g = r["ingest"], r["gate"]
    lines = [f"socialcredit bench — {r['database']}, {r['subjects']:,} subjects, seed "
             f"{r['seed']}, as of {r['as_of']} (simulate {r['simulate_seconds']:.1f} s)", "",
             f"{'figure':<46}{'value':>16}{'per s':>14}{'ours/base':>11}",
             "-" * 87]

    def row(name: str, value: str, rate: float | None = None, ratio: float | None = None) -> None:
        lines.append(f"{name:<46}{value:>16}{'' if rate is None else f'{rate:,.0f}':>14}"
                     f"{'' if ratio is None else f'{ratio:.3f}':>11}")

    row("INGEST rows (all furnisher files)", f"{i['rows']:,}")
    row("  accepted / rejected / duplicates",
        f"{i['accepted']:,}/{i['rejected']:,}/{i['duplicates']:,}")
    row("  ingest_file, all files", f"{i['seconds']:.2f} s", i["rows_per_s"],
        i["ratio_vs_baseline"])
    row("  baseline: bare executemany, 1 txn", f"{i['baseline_seconds']:.2f} s",
        i["baseline_rows_per_s"], 1.0)
    for k, label in (("read", "reading files"), ("validate", "validate_row alone"),
                     ("rest", "rest (link/ledger/SQL/eval)")):
        secs = i[k + "_seconds"]
        row(f"    split: {label}", f"{secs:.2f} s ({100 * secs / i['seconds']:.0f}%)")
    row("relink_unlinked (after ingest, as demo.py)", f"{g['relink_seconds']:.2f} s")
    row("evaluate_all (after relink, as demo.py)", f"{g['evaluate_all_seconds']:.2f} s")
    row("GATE index build (GateIndex.build)", f"{g['index_build_seconds'] * 1000:.0f} ms")
    row("  index size: keys / subjects", f"{g['index_keys']:,}/{g['index_subjects']:,}")
    row(f"  decide() x {g['tickets_per_day']:,} (1st day, cold caches)", "",
        g["first_day_decisions_per_s"])
    row(f"  decide() x {g['decisions']:,} (day repeated)", f"{g['seconds']:.2f} s",
        g["decisions_per_s"], 1.0)
    row("  baseline (a): dict.get of the identifier", "", g["dict_lookups_per_s"],
        g["ratio_vs_dict"])
    row("  baseline (b): GateIndex.lookup(kind:id)", "", g["index_lookups_per_s"],
        g["ratio_vs_index"])
    row("  denies in the replay", f"{g['replay_denies']:,}")
    row("  DecisionService.flush() after the replay", f"{g['flush_seconds'] * 1000:.0f} ms")
    lines += ["", f"One simulated day ({g['tickets_per_day']:,} tickets) by service:",
              f"  {'service':<20}{'allow':>10}{'deny':>10}{'review':>10}"]
    for svc, c in g["day_by_service"].items():
        lines.append(f"  {svc:<20}{c['allow']:>10,}{c['deny']:>10,}{c['review']:>10,}")
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subjects", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--decisions", type=int, default=200_000)
    p.add_argument("--database-url", help="default: SQLite in a temporary directory")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        say(f"simulating {args.subjects:,} subjects (seed {args.seed})")
        sim_s, manifest = timed(lambda: simulate(tmp / "sim", subjects=args.subjects,
                                                 seed=args.seed, as_of=AS_OF))
        with database(args.database_url, tmp) as url:
            reg = Registry(Settings(database_url=url), today=AS_OF)
            try:
                reg.ensure_schema()
                result = {"database": reg.store.dialect, "subjects": args.subjects,
                          "seed": args.seed, "as_of": AS_OF.isoformat(),
                          "simulate_seconds": sim_s,
                          "ingest": bench_ingest(reg, tmp / "sim", manifest),
                          "gate": bench_gate(reg, tmp / "sim", manifest, args.decisions)}
            finally:
                reg.close()
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
