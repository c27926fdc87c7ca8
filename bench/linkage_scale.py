"""Benchmark: linkage of a national backlog (issue #12, item 4) — comparisons, pairs/s, seconds,
peak RSS — against a baseline in the same run.

    python bench/linkage_scale.py                          # 1,000,000 records
    nice python bench/linkage_scale.py --sizes 1000000,10000000 --json
    python bench/linkage_scale.py --sizes 200000 --max-block 500 --memory-limit 2GB

For each size N the synthetic population of ``bench/linkage.py`` (``synthetic(N)``: N/2
subjects with phone validity intervals, N/2 records, 80 % of them noisy copies of a subject,
names from a Zipf pool far more concentrated than China's — "wang wei" is ~3 % of it) is
written to two Parquet files, then each step runs in its own process (so that its peak RSS,
``ru_maxrss``, is its own; the parent stays small, since Linux carries a parent's peak into a
forked child's ``ru_maxrss``):

* **ours** — :func:`socialcredit.identity.batch.score_parquet` with the shipped default model:
  scale blocking with blocks capped at ``--max-block`` people, DuckDB in ``--memory-limit``
  spilling to a temporary folder, pairs at p >= 0.5 written to Parquet. Prints comparisons
  (pairs the kept blocks make), pairs/s (comparisons / scoring seconds), seconds, peak RSS, the
  capped blocks, and links right / wrong against the truth (best link per record).
* **baseline** (up to ``--baseline-max`` records, default 1,000,000) — the way the issue
  measured it: Splink's ``predict`` on the model's blocking rules without a cap, DuckDB with
  its defaults, every pair above weight 0 into pandas with its explanation
  (:func:`socialcredit.identity.model.predict`), best links; its peak RSS includes reading the
  files into pandas. Above ``--baseline-max`` the baseline only counts the comparisons its
  uncapped blocks would make. Comparisons are counted the same way on both sides: the sum over
  rules of the pairs each rule's blocks make (before Splink drops a pair found twice).
* **floor** — DuckDB reading both files (every column), seconds.

Each child prints one JSON object; the parent prints a table (or everything with ``--json``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bench_linkage() -> Any:
    spec = importlib.util.spec_from_file_location("bench_linkage", HERE / "linkage.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generate(n: int, folder: Path) -> dict[str, Any]:
    """Write ``records.parquet``, ``subjects.parquet`` and ``truth.parquet`` for N records."""
    import pandas as pd

    t0 = time.perf_counter()
    subjects, records = _bench_linkage().synthetic(n)
    truth = records.attrs.pop("truth")
    records.to_parquet(folder / "records.parquet", index=False)
    subjects.to_parquet(folder / "subjects.parquet", index=False)
    pd.DataFrame({"unique_id": truth.index, "truth": truth.to_numpy()}).to_parquet(
        folder / "truth.parquet", index=False)
    return {"records": len(records), "subjects": len(subjects),
            "generate_s": time.perf_counter() - t0}


def _quality(links: Any, folder: Path) -> dict[str, int]:
    import pandas as pd

    truth = pd.read_parquet(folder / "truth.parquet").set_index("unique_id")["truth"]
    got = links.set_index("unique_id_l")["unique_id_r"]
    expected = truth[truth != ""]
    return {"links": len(links),
            "right": int((got.reindex(expected.index) == expected).sum()),
            "expected": len(expected),
            "wrong": int((got != truth.reindex(got.index)).sum())}


def _model(folder: Path) -> Any:
    """The shipped model on the columns both files carry (synthetic has no postcode…)."""
    from socialcredit.identity.relink import _default_model

    return _default_model()


def child_ours(folder: Path, cap: int, memory_limit: str) -> dict[str, Any]:
    import pandas as pd

    from socialcredit.identity.batch import BatchConfig, score_parquet
    from socialcredit.identity.model import best_links

    model = _model(folder)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sc-bench-spill-") as spill:
        result = score_parquet(model, folder / "records.parquet", folder / "subjects.parquet",
                               folder / "pairs.parquet", min_probability=0.5,
                               config=BatchConfig(memory_limit=memory_limit,
                                                  temp_directory=Path(spill),
                                                  max_block_people=cap))
    seconds = time.perf_counter() - t0
    links = best_links(pd.read_parquet(folder / "pairs.parquet"))
    score_s = result.timings.get("score_s", seconds)
    return {"seconds": seconds, "comparisons": result.comparisons,
            "pairs_per_s": result.comparisons / score_s if score_s else 0.0,
            "kept_pairs": result.pairs, "capped_blocks": result.capped_blocks,
            "capped": result.capped[:6], "timings": result.timings,
            **_quality(links, folder), "peak_rss_mb": peak_rss_mb()}


def child_baseline(folder: Path) -> dict[str, Any]:
    import pandas as pd

    from socialcredit.identity.model import best_links, predict

    model = _model(folder)
    frames = [pd.read_parquet(folder / "records.parquet"),
              pd.read_parquet(folder / "subjects.parquet")]
    counted = child_count(folder)  # the same measure as ours, without a cap
    t0 = time.perf_counter()
    scored = predict(model, frames)
    links = best_links(scored)
    seconds = time.perf_counter() - t0
    comparisons = counted["comparisons"]
    return {"seconds": seconds, "count_s": counted["count_s"], "comparisons": comparisons,
            "pairs_per_s": comparisons / seconds if seconds else 0.0,
            "kept_pairs": int((scored["match_probability"] >= 0.5).sum()),
            **_quality(links, folder), "peak_rss_mb": peak_rss_mb()}


def child_count(folder: Path) -> dict[str, Any]:
    """Comparisons the uncapped rules make (block counts only, nothing scored)."""
    from socialcredit.identity.batch import BatchConfig, count_comparisons

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sc-bench-spill-") as spill:
        result = count_comparisons(_model(folder), folder / "records.parquet",
                                   folder / "subjects.parquet",
                                   config=BatchConfig(temp_directory=Path(spill),
                                                      max_block_people=10**12))
    return {"comparisons": result.comparisons, "count_s": time.perf_counter() - t0,
            "peak_rss_mb": peak_rss_mb()}


def child_floor(folder: Path) -> dict[str, Any]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    rows = 0
    for name in ("records", "subjects"):
        rows += con.execute(f"SELECT count(*) FROM (SELECT * FROM read_parquet("
                            f"'{folder / (name + '.parquet')}') WHERE unique_id <> '')"
                            ).fetchone()[0]  # type: ignore[index]
    return {"rows": rows, "seconds": time.perf_counter() - t0, "peak_rss_mb": peak_rss_mb()}


def run_child(step: str, folder: Path, args: argparse.Namespace, *,
              n: int = 0) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", step, "--folder", str(folder),
           "--max-block", str(args.max_block), "--memory-limit", args.memory_limit,
           "--sizes", str(n)]
    say(f"{step} on {folder.name}")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    figures = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    say(f"{step}: {json.dumps(figures, default=str)}")  # partial results survive a long run
    return figures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000000", help="comma-separated record counts")
    ap.add_argument("--max-block", type=int, default=1000, help="cap on one block (people)")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit (ours)")
    ap.add_argument("--baseline-max", type=int, default=1_000_000,
                    help="largest size the baseline scores (above it: comparisons only)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--child", choices=["generate", "ours", "baseline", "count", "floor"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        fn = {"generate": lambda: generate(int(args.sizes), args.folder),
              "ours": lambda: child_ours(args.folder, args.max_block, args.memory_limit),
              "baseline": lambda: child_baseline(args.folder),
              "count": lambda: child_count(args.folder),
              "floor": lambda: child_floor(args.folder)}[args.child]
        print(json.dumps(fn(), default=str))
        return 0
    out: dict[str, Any] = {"max_block": args.max_block, "memory_limit": args.memory_limit}
    for n in [int(x) for x in args.sizes.split(",") if x.strip()]:
        with tempfile.TemporaryDirectory(prefix=f"sc-bench-{n}-") as tmp:
            folder = Path(tmp)
            say(f"{n:,} records: generating")
            # in a child too: Linux keeps a parent's peak RSS in a forked child's ru_maxrss
            row: dict[str, Any] = {"generated": run_child("generate", folder, args, n=n)}
            say(f"generated: {row['generated']}")
            row["floor"] = run_child("floor", folder, args)
            row["ours"] = run_child("ours", folder, args)
            row["baseline"] = run_child("baseline" if n <= args.baseline_max else "count",
                                        folder, args)
            out[str(n)] = row
        if not args.json:
            _print(n, out[str(n)])
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    return 0


def _print(n: int, row: dict[str, Any]) -> None:
    print(f"\n{n:,} records ({row['generated']['records']:,} records against "
          f"{row['generated']['subjects']:,} subjects)")
    print(f"{'':<28}{'comparisons':>14}{'pairs/s':>12}{'seconds':>9}{'peak RSS MB':>13}"
          f"{'right':>9}{'wrong':>7}")
    for key in ("ours", "baseline"):
        r = row[key]
        if "error" in r:
            print(f"{key:<28}failed: {r['error']}")
            continue
        label = key if "seconds" in r else "baseline (counted only)"
        secs = r.get("seconds", r.get("count_s", 0.0))
        print(f"{label:<28}{r['comparisons']:>14,}{r.get('pairs_per_s', 0):>12,.0f}"
              f"{secs:>9.1f}{r['peak_rss_mb']:>13,.0f}{r.get('right', ''):>9}"
              f"{r.get('wrong', ''):>7}")
    f = row["floor"]
    if "seconds" in f:
        print(f"{'floor: DuckDB reads files':<28}{f['rows']:>14,}{'':>12}{f['seconds']:>9.1f}"
              f"{f['peak_rss_mb']:>13,.0f}")
    for c in row["ours"].get("capped", ()):
        print(f"  capped: {c['rule']}: '{c['key']}' ({c['people']:,} people)")


if __name__ == "__main__":
    sys.exit(main())
