"""Benchmark: ``socialcredit simulate`` rows/s and peak RSS, against a bare Arrow writer.

    python bench/simulate.py [--subjects N] [--seed S] [--out DIR] [--json]

Ours: :func:`socialcredit.simulate.simulate` for ``--subjects`` people (default 1,000,000):
population, every furnisher file, tickets, manifest. Rows are every data row written
(population + furnisher files + tickets). Baseline, in the same run: ``pyarrow.csv`` writing
the same number of rows of constant data (seven short string columns, about the width of a
furnisher row) in chunks of 250,000 — what writing alone costs on this machine. Each side runs
in its own child process, so each peak RSS is its own. The ratio is ours / baseline rows/s.
CPU seconds (user + system) are printed beside wall seconds: on a shared machine they say
more than the wall clock.

Files go to a temporary folder (removed afterwards) unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

AS_OF = dt.date(2026, 6, 30)  # fixed, so that a seed gives the same files every run
CHUNK = 250_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def child_ours(out: Path, subjects: int, seed: int) -> dict[str, Any]:
    from socialcredit.simulate import simulate

    t0, c0 = time.perf_counter(), _cpu_seconds()
    manifest = simulate(out, subjects=subjects, seed=seed, as_of=AS_OF)
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    with (out / manifest.tickets_file).open("rb") as fh:
        tickets = sum(1 for _ in fh) - 1
    rows = subjects + tickets + sum(f.rows for f in manifest.furnishers)
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": rows, "bytes": _bytes(out),
            "peak_rss_mb": _peak_rss_mb(),
            "files": {f.file: f.rows for f in manifest.furnishers}}


def child_baseline(out: Path, rows: int) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    chunk = pa.table({
        "furnisher_record_id": ["DIDI-00000001"] * CHUNK,
        "kind": ["ride_rating"] * CHUNK,
        "occurred_at": ["2025-06-30"] * CHUNK,
        "national_id": ["110101199001011237"] * CHUNK,
        "phone": ["+8613812345678"] * CHUNK,
        "name": ["张伟"] * CHUNK,
        "trip_id": ["DD202506300000012345"] * CHUNK,
    })
    t0, c0 = time.perf_counter(), _cpu_seconds()
    with pcsv.CSVWriter(out / "constant.csv", chunk.schema) as writer:
        left = rows
        while left > 0:
            writer.write_table(chunk.slice(0, min(CHUNK, left)))
            left -= CHUNK
    seconds, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": rows, "bytes": _bytes(out),
            "peak_rss_mb": _peak_rss_mb()}


def _run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="keep the simulated files here")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, folder, number = args.child[0], Path(args.child[1]), int(args.child[2])
        result = (child_ours(folder, number, args.seed) if kind == "ours"
                  else child_baseline(folder, number))
        print(json.dumps(result))
        return
    scratch = Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    try:
        out = args.out or scratch / "ours"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        ours = _run_child("ours", str(out), str(args.subjects))
        (scratch / "baseline").mkdir()
        base = _run_child("baseline", str(scratch / "baseline"), str(ours["rows"]))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for r in (ours, base):
        r["rows_per_s"] = r["rows"] / r["seconds"]
    report = {"subjects": args.subjects, "seed": args.seed, "simulate": ours,
              "baseline_pyarrow_constant_csv": base,
              "ratio_rows_per_s": ours["rows_per_s"] / base["rows_per_s"]}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"simulate --subjects {args.subjects:,} (seed {args.seed})")
    print(f"{'':38}{'seconds':>9}{'CPU s':>8}{'rows':>14}{'rows/s':>12}{'MB written':>12}"
          f"{'peak RSS MB':>13}")
    for label, r in (("ours: simulate()", ours),
                     ("baseline: pyarrow CSV, constant rows", base)):
        print(f"{label:38}{r['seconds']:9.1f}{r['cpu_seconds']:8.1f}{r['rows']:14,}"
              f"{r['rows_per_s']:12,.0f}{r['bytes'] / 1e6:12,.0f}{r['peak_rss_mb']:13,.0f}")
    print(f"ratio ours / baseline rows/s: {report['ratio_rows_per_s']:.2f}")


if __name__ == "__main__":
    main()
