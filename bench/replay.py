"""Benchmark: ``audit replay`` events/s on the demo's ledger, against reading the same events
(issue #15).

    python bench/replay.py [--subjects 5000] [--seed 1] [--database-url URL] [--repeat 5]
                           [--json]

Without ``--database-url`` the demo (``socialcredit.cli.demo_run.run_demo``, ``--subjects``
people) runs into a SQLite file in a temporary folder; with one, that registry is replayed as it
is (run ``socialcredit demo`` on it first, or point it at a restored backup).

Measured in the same run, on the same ledger:

1. *baseline*: every event read in ``seq`` order (the same driver cursor, in pages) and its
   payload decoded (one ``json.loads`` per page): the floor any replay pays;
2. *apply*: the same plus every event applied to in-memory projections
   (:func:`socialcredit.store.replay.replay_events`);
3. *replay*: the whole ``audit replay`` (:func:`socialcredit.store.replay.replay`): apply, the
   scratch database written, and every table compared with the live one.

Each is measured ``--repeat`` times (5), interleaved, keeping the fastest run (the machine is
shared: the slower runs measure the neighbours); the whole replay also per CPU-second of this
process. Each figure is events/s and its
ratio to the baseline; the last line sets the whole replay beside issue #15's target
(≥ 100,000 events/s on SQLite). Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from socialcredit.api.registry import Registry
from socialcredit.settings import Settings
from socialcredit.store.replay import decoded, event_pages, replay, replay_events
from socialcredit.store.tables import ledger_head


def _baseline(reg: Registry) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    with reg.store.read() as conn:
        head = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
        for rows in event_pages(conn, head):
            decoded(rows)
            n += len(rows)
    return n, time.perf_counter() - started


def _apply(reg: Registry, public: dict[str, bool]) -> tuple[int, float]:
    started = time.perf_counter()
    with reg.store.read() as conn:
        _, n = replay_events(conn, list_public=public, adverse_kinds=reg.policy.adverse_kinds())
    return n, time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--database-url")
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs of each step, interleaved; the fastest is kept")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'registry.db'}"
        day = dt.date(2026, 6, 30)
        reg = Registry(Settings(database_url=url, notices_dir=Path(tmp) / "notices"), today=day)
        try:
            if not args.database_url:
                from socialcredit.cli.demo_run import run_demo

                t0 = time.perf_counter()
                run_demo(reg, subjects=args.subjects, seed=args.seed, work_dir=Path(tmp),
                         as_of=day)
                demo_s = time.perf_counter() - t0
            else:
                demo_s = None
            public = {name: spec.public for name, spec in reg.policy.lists.items()}
            # each measured twice, interleaved, keeping the faster run: the first read of a
            # fresh file warms the page cache for whatever runs second
            n, base_s = _baseline(reg)
            _, apply_s = _apply(reg, public)
            adverse = reg.policy.adverse_kinds()
            cpu = time.process_time()
            result = replay(reg.store, list_public=public, adverse_kinds=adverse)
            replay_cpu = time.process_time() - cpu
            for _ in range(args.repeat - 1):
                base_s = min(base_s, _baseline(reg)[1])
                apply_s = min(apply_s, _apply(reg, public)[1])
                cpu = time.process_time()
                again = replay(reg.store, list_public=public, adverse_kinds=adverse)
                replay_cpu = min(replay_cpu, time.process_time() - cpu)
                result = min(result, again, key=lambda r: r.seconds)
        finally:
            reg.close()
    rows = {
        "events": n, "dialect": url.split(":", 1)[0], "demo_seconds": demo_s,
        "baseline_events_per_s": n / base_s,
        "apply_events_per_s": n / apply_s,
        "replay_events_per_s": n / result.seconds,
        "replay_events_per_cpu_s": n / replay_cpu,
        "apply_vs_baseline": base_s / apply_s,
        "replay_vs_baseline": base_s / result.seconds,
        "replay_ok": result.ok,
        "rows": {t.table: t.rows for t in result.tables},
    }
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    out = sys.stdout.write
    out(f"ledger: {n:,} events ({rows['dialect']}); replayed rows: {rows['rows']}\n")
    out(f"baseline (read + decode)   {rows['baseline_events_per_s']:>12,.0f} events/s\n")
    out(f"apply (in-memory)          {rows['apply_events_per_s']:>12,.0f} events/s  "
        f"({rows['apply_vs_baseline']:.2f}x baseline)\n")
    out(f"audit replay (all steps)   {rows['replay_events_per_s']:>12,.0f} events/s  "
        f"({rows['replay_vs_baseline']:.2f}x baseline); tables equal: {result.ok}\n")
    out(f"audit replay, per CPU-second {rows['replay_events_per_cpu_s']:>12,.0f} events/s  "
        "(this process's CPU time: what a loaded machine's wall clock hides)\n")
    got = rows["replay_events_per_s"]
    out(f"target: audit replay >= 100,000 events/s on SQLite: {got:,.0f} events/s "
        f"({'met' if got >= 100_000 else 'NOT met'}; the baseline above is the floor)\n")


if __name__ == "__main__":
    main()
