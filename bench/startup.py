"""Benchmark: how long the console script takes to start, beside a bare interpreter.

    python bench/startup.py [--runs 7] [--json]

Each command runs ``--runs`` times in a fresh process of this interpreter; the script prints
the median wall seconds of each and its ratio to the baseline, a bare ``python -c pass`` run in
the same loop (so a loaded machine shows in the baseline too), and the median CPU seconds
(user + system), which a queue of other processes does not inflate:

* ``import``: ``import socialcredit`` (the public surface);
* ``--help``: ``python -m socialcredit --help`` (every command registered, none run);
* ``check``: ``socialcredit check`` on a registry of one listed person (a fresh SQLite file
  made before the loop): settings, the store, the gate index built, one decision.

Issue #18's targets on a quiet machine: ``--help`` ≤ 0.3 s and ``check`` ≤ 0.5 s. What loads
what: ``python -X importtime -m socialcredit --help``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _median(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system, the process and the ones it
    waited for): on a loaded machine the wall time mostly measures the queue, the CPU time
    what the start-up itself costs."""
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=120)
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times), statistics.median(cpu)


def _registry(work: Path, env: dict[str, str]) -> str:
    """A registry of one listed person; returns the person's national ID."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import make_id, write_csv  # the test suite's checksum-valid IDs

    debtor = make_id(birth="19700505", seq=35)
    py = [sys.executable, "-m", "socialcredit"]
    subprocess.run([*py, "init"], env=env, check=True, capture_output=True, cwd=work)
    subprocess.run([*py, "furnishers", "add", "court", "--kind", "court"], env=env,
                   check=True, capture_output=True, cwd=work)
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": debtor, "case_number": "K-1",
             "ground": 1, "amount_minor": 100, "currency": "CNY"}]
    subprocess.run([*py, "ingest", str(write_csv(work / "court.csv", rows)), "--furnisher",
                    "court"], env=env, check=True, capture_output=True, cwd=work)
    return debtor


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sc-startup-") as tmp:
        env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=f"sqlite:///{tmp}/startup.db")
        debtor = _registry(Path(tmp), env)
        py = [sys.executable]
        commands = {
            "baseline (python -c pass)": [*py, "-c", "pass"],
            "import socialcredit": [*py, "-c", "import socialcredit"],
            "socialcredit --help": [*py, "-m", "socialcredit", "--help"],
            "socialcredit check": [*py, "-m", "socialcredit", "check", "--service", "air",
                                   "--national-id", debtor, "--json"],
        }
        # check exits 3 for a deny: run it through a shell-free wrapper that ignores the code
        wrap = [*py, "-c", "import subprocess,sys; subprocess.run(sys.argv[1:])"]
        commands["socialcredit check"] = [*wrap, *commands["socialcredit check"]]
        both = {name: _median(cmd, args.runs, env) for name, cmd in commands.items()}
    out = {k: wall for k, (wall, _) in both.items()}
    cpu = {k: c for k, (_, c) in both.items()}
    base = out["baseline (python -c pass)"]
    if args.json:
        print(json.dumps({"runs": args.runs, "seconds": {k: round(v, 3) for k, v in out.items()},
                          "cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
                          "ratio_to_baseline": {k: round(v / base, 1) for k, v in out.items()}}))
        return 0
    print(f"startup, median of {args.runs} runs (load average {os.getloadavg()[0]:.1f})")
    for name, seconds in out.items():
        print(f"  {name:<28}{seconds:>8.3f} s {seconds / base:>7.1f}× baseline"
              f"   CPU {cpu[name]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
