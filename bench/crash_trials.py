"""Benchmark: crash trials at full size — kill ``socialcredit ingest`` and the evaluation with
SIGKILL at seeded points, re-run them, and check that every final state equals a clean run's.

    python bench/crash_trials.py [--rows 50000] [--trials 20] [--batch-rows 1000]
                                 [--evaluate-chunk 500] [--mode exec|fork]
                                 [--database-url postgresql://...] [--skip-sqlite]
                                 [--seed 7] [--json]

The same harness as ``tests/faults/test_crash.py`` (``tests/faults/conftest.py``), larger: a
court file of ``--rows`` rows ingested ``--batch-rows`` rows per transaction, evaluated
``--evaluate-chunk`` subjects per transaction. By default every killed process and every re-run
is a new interpreter (``--mode exec``: ``python -m socialcredit ingest …``; the evaluation is
``evaluate_all`` with that chunk size through ``python -c``), and ``socialcredit audit verify``
runs after every recovery. SQLite runs in a temporary folder; with ``--database-url`` (or
``SOCIALCREDIT_TEST_DATABASE_URL``) PostgreSQL runs too, in fresh schemas dropped afterwards.

Printed per database and command: trials; where the kills landed — in the work (``mid``),
before it wrote anything (``startup``) or after it had finished (``after``); the clean run's
wall time (the baseline) and commits; the re-runs' median and maximum wall time and the ratio
of the median re-run to the clean run; and whether every final state matched the clean one
(records, subjects, identifiers, names, entries, quarantine, and the ledger without its
timestamps — see ``registry_state`` in ``tests/faults/conftest.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from faults.conftest import CrashHarness, DatabaseKit  # noqa: E402


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run_database(base_url: str | None, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Prepare one database and run both commands' trials; their summaries."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crash-")))
        kit = DatabaseKit(base_url, folder, stack)
        harness = CrashHarness(kit, folder, rows=args.rows, batch_rows=args.batch_rows,
                               evaluate_chunk=args.evaluate_chunk, seed=args.seed,
                               mode=args.mode, cli_verify="all")
        harness.on_trial = lambda t: say(
            f"  trial {t.index}: point {t.point}, killed after {t.delay_s:.2f} s ({t.phase}), "
            f"re-run {t.rerun_s:.2f} s, {'matched' if t.matched else 'MISMATCH'}")
        began = time.perf_counter()
        say(f"{kit.name}: {args.rows:,} rows, clean ingest and evaluation (twice each)")
        harness.prepare()
        say(f"{kit.name}: prepared in {time.perf_counter() - began:.1f} s; "
            f"{args.trials} ingest trials")
        out = [harness.ingest_trials(args.trials, seed=args.seed + 1).summary()]
        say(f"{kit.name}: {args.trials} evaluation trials")
        out.append(harness.evaluate_trials(args.trials, seed=args.seed + 2).summary())
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--trials", type=int, default=20, help="per command and database")
    parser.add_argument("--batch-rows", type=int, default=1000,
                        help="rows per ingest transaction (SOCIALCREDIT_INGEST_BATCH_ROWS)")
    parser.add_argument("--evaluate-chunk", type=int, default=500,
                        help="subjects per evaluation transaction")
    parser.add_argument("--mode", choices=["exec", "fork"], default="exec")
    parser.add_argument("--database-url", default=os.environ.get("SOCIALCREDIT_TEST_DATABASE_URL"),
                        help="PostgreSQL server to run on as well (a fresh schema)")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    bases: list[str | None] = [] if args.skip_sqlite else [None]
    if args.database_url:
        bases.append(args.database_url)
    results: list[dict[str, Any]] = []
    if not args.json:
        print(f"crash trials: {args.rows:,} rows, {args.batch_rows} rows per ingest "
              f"transaction, {args.evaluate_chunk} subjects per evaluation transaction, "
              f"processes: {args.mode}")
        print(" | ".join(("database", "command", "trials", "mid", "startup", "after",
                          "clean s", "commits", "re-run s (median / max)", "re-run / clean",
                          "all matched")), flush=True)
    for base in bases:
        done = run_database(base, args)
        results += done
        if not args.json:  # each database as soon as it is done
            for r in done:
                print(" | ".join(str(x) for x in (
                    r["database"], r["command"], r["trials"], r["killed_mid"],
                    r["killed_at_startup"], r["finished_before_kill"], r["clean_s"],
                    r["clean_commits"], f"{r['rerun_median_s']} / {r['rerun_max_s']}",
                    r["rerun_over_clean"], "yes" if r["all_matched"] else "NO")), flush=True)
                for m in r["mismatches"]:
                    print(f"MISMATCH {r['database']} {r['command']}: {m}", flush=True)
    if args.json:
        print(json.dumps({"rows": args.rows, "batch_rows": args.batch_rows,
                          "evaluate_chunk": args.evaluate_chunk, "mode": args.mode,
                          "results": results}, indent=2))
    return 0 if all(r["all_matched"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
