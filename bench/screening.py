"""Benchmark: screening quality and speed, each beside a baseline measured in the same run.

    python bench/screening.py [--data ../shared/data] [--queries 2000] [--http 2000] [--json]

1. *Quality* on the labelled name pairs ``name-pairs/dev.csv`` (nomenklatura's name_bench,
   half of it): precision, recall and F1 of ``screening.match.score_names`` at the default
   review threshold (:data:`socialcredit.screening.index.DEFAULT_THRESHOLD`), with each pair's
   schema (Person → person; Company, Organization, LegalEntity → organisation; Vessel).
   Baselines: the gate's former matcher (``identity.link.name_key`` equal: exact words in any
   order), and rapidfuzz ``token_sort_ratio`` at 85 and at its own best cutoff on these very
   pairs (an oracle cutoff: flattering to it); nomenklatura's logic-v2 (yente's matcher) at
   0.7 and at its own best cutoff, when the ``bench`` extra is installed (nomenklatura needs
   PyICU, a C++ build against libicu-dev; it also asks for duckdb < 2, which the registry
   does not: install it in a separate environment if that matters).
2. *Index* over the full OFAC SDN + UN lists: build time, growth of the RSS while building
   (the parties already read), names indexed.
3. *Screens on one core*: ``ScreenIndex.screen`` on ``--queries`` queries (listed names,
   misspelt, reordered or cut short, and names of nobody), screens/s and p50/p99 latency in
   wall-clock time and in CPU time (on a shared machine the scheduler's pauses dominate the
   wall-clock tail; the load average is printed); baseline: a Python ``dict`` lookup of the
   same queries' ``name_key``.
4. *HTTP* (``--http N``, 0 to skip): ``POST /v1/screen`` on a real uvicorn server on
   127.0.0.1 (SQLite registry in a temp dir, both lists imported), one client, requests/s;
   baseline: ``GET /healthz`` of the same server.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rapidfuzz import fuzz  # noqa: E402

from socialcredit.identity.link import name_key  # noqa: E402
from socialcredit.screening.index import DEFAULT_THRESHOLD, ScreenIndex, ScreenQuery  # noqa: E402
from socialcredit.screening.match import score_names  # noqa: E402
from socialcredit.screening.sdn import read_sdn_parties  # noqa: E402
from socialcredit.screening.text import Kind, tokens  # noqa: E402
from socialcredit.screening.un import read_un  # noqa: E402

KIND: dict[str, Kind] = {"Person": "person", "Vessel": "vessel"}


def prf(predicted: list[bool], truth: list[bool]) -> dict[str, float]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}


def quality(pairs_csv: Path) -> dict[str, Any]:
    rows = list(csv.DictReader(pairs_csv.open(encoding="utf-8")))
    truth = [r["is_match"] == "true" for r in rows]
    kinds: list[Kind] = [KIND.get(r["schema"], "organisation") for r in rows]
    ours = [score_names(tokens(r["name1"], k), tokens(r["name2"], k)).score
            for r, k in zip(rows, kinds, strict=True)]
    ratio = [fuzz.token_sort_ratio(r["name1"], r["name2"]) for r in rows]
    best_cut = max(range(50, 101), key=lambda c: prf([x >= c for x in ratio], truth)["f1"])
    out: dict[str, Any] = {
        "pairs": len(rows), "threshold": DEFAULT_THRESHOLD,
        "ours": prf([s >= DEFAULT_THRESHOLD for s in ours], truth),
        "exact_words_any_order (former gate)": prf(
            [name_key(r["name1"]) == name_key(r["name2"]) for r in rows], truth),
        "rapidfuzz token_sort_ratio >= 85": prf([x >= 85 for x in ratio], truth),
        f"rapidfuzz token_sort_ratio >= {best_cut} (oracle cutoff)": prf(
            [x >= best_cut for x in ratio], truth),
    }
    try:
        for label, figures in logic_v2(rows, truth).items():
            out[f"nomenklatura logic-v2 {label}"] = figures
    except ImportError:
        out["nomenklatura logic-v2"] = ("not installed (pip install 'socialcredit[bench]'; "
                                        "needs PyICU)")
    return out


def logic_v2(rows: list[dict[str, str]], truth: list[bool]) -> dict[str, Any]:
    """nomenklatura's logic-v2 (yente's default algorithm) on the same pairs, at 0.7 (yente's
    default match threshold, as we read its settings) and at its own best cutoff on these
    pairs (an oracle cutoff). Only with ``pip install 'socialcredit[bench]'``."""
    from followthemoney import model  # bench-only extra
    from nomenklatura.matching import LogicV2
    from nomenklatura.matching.types import ScoringConfig

    config = ScoringConfig.defaults()
    scores = []
    for i, r in enumerate(rows):  # ids unique per pair: logic-v2 memoises by entity id
        a = model.make_entity(r["schema"])
        a.id = f"q{i}"
        a.add("name", r["name1"])
        b = model.make_entity(r["schema"])
        b.id = f"r{i}"
        b.add("name", r["name2"])
        scores.append(LogicV2.compare(a, b, config).score)
    cuts = [c / 100 for c in range(30, 100)]
    best = max(cuts, key=lambda c: prf([x >= c for x in scores], truth)["f1"])
    return {"at 0.7": prf([x >= 0.7 for x in scores], truth),
            f"at {best} (oracle cutoff)": prf([x >= best for x in scores], truth)}


def rss_bytes() -> int:
    """Resident set size now (Linux ``/proc/self/statm``)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def perturb(name: str, rng: random.Random) -> str:
    words = name.replace(",", " ").split()
    choice = rng.random()
    if choice < 0.25 and len(words) > 1:
        rng.shuffle(words)
    elif choice < 0.5:
        w = rng.randrange(len(words))
        if len(words[w]) > 3:
            i = rng.randrange(1, len(words[w]) - 1)
            words[w] = words[w][:i] + words[w][i + 1:]
    elif choice < 0.7 and len(words) > 2:
        words.pop(rng.randrange(len(words)))
    return " ".join(words)


def speed(data: Path, n_queries: int, rng: random.Random) -> tuple[dict[str, Any], Any]:
    sdn = read_sdn_parties(data / "ofac-sdn").parties
    un = read_un(data / "un" / "consolidated.xml").parties
    parties = sdn + un
    rss0 = rss_bytes()
    start = time.perf_counter()
    index = ScreenIndex(parties)
    build_s = time.perf_counter() - start
    peak = rss_bytes() - rss0
    nobody = ["Maria Gonzalez Lopez", "Acme Widgets Ltd", "Hans Joachim Friedrich", "张伟",
              "Olena Kovalenko", "Blue Harbour Shipping Co"]
    queries: list[ScreenQuery] = []
    for _ in range(n_queries):
        if rng.random() < 0.2:
            name = rng.choice(nobody)
            kind = "organisation" if any(w in name for w in ("Ltd", "Co")) else "person"
        else:
            p = rng.choice(parties)
            name, kind = perturb(rng.choice((p.name, *p.aliases)), rng), p.kind
        queries.append(ScreenQuery(kind=kind, names=(name,)))  # type: ignore[arg-type]
    keys = {name_key(n): i for i, p in enumerate(parties) for n in (p.name, *p.aliases)}
    times, cpu_times = [], []
    found = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for q in queries:
        s, c = time.perf_counter(), time.thread_time()
        found += bool(index.screen(q))
        cpu_times.append(time.thread_time() - c)
        times.append(time.perf_counter() - s)
    total, cpu_total = time.perf_counter() - t0, time.process_time() - c0
    t1 = time.perf_counter()
    for q in queries:
        keys.get(name_key(q.names[0]))
    base = time.perf_counter() - t1
    times.sort()
    cpu_times.sort()
    return {
        "parties": len(parties), "index": index.counts(), "build_s": round(build_s, 2),
        "build_rss_growth_mib": round(peak / 2**20, 1), "queries": n_queries,
        "screens_per_s": round(n_queries / total), "p50_ms": round(
            statistics.median(times) * 1000, 2),
        "p99_ms": round(times[int(0.99 * (len(times) - 1))] * 1000, 2),
        "screens_per_cpu_s": round(n_queries / cpu_total),
        "cpu_p50_ms": round(statistics.median(cpu_times) * 1000, 2),
        "cpu_p99_ms": round(cpu_times[int(0.99 * (len(cpu_times) - 1))] * 1000, 2),
        "queries_with_a_candidate": found,
        "baseline dict lookup of name_key per_s": round(n_queries / base),
    }, queries


def http(data: Path, queries: list[ScreenQuery], n: int) -> dict[str, Any]:
    import httpx
    import uvicorn

    from socialcredit.api import create_app
    from socialcredit.api.keys import add_operator
    from socialcredit.api.registry import Registry
    from socialcredit.screening.lists import import_list
    from socialcredit.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        reg = Registry(Settings(database_url=f"sqlite:///{tmp}/r.db"))
        reg.ensure_schema()
        import_list(reg.store, reg.policy, "ofac-sdn", data / "ofac-sdn")
        import_list(reg.store, reg.policy, "un", data / "un" / "consolidated.xml")
        key = add_operator(reg.store, name="bench")
        reg.screening.index()  # built before the clock starts, as a server warms up
        server = uvicorn.Server(uvicorn.Config(create_app(registry=reg), host="127.0.0.1",
                                               port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            bodies = [{"kind": q.kind, "name": q.names[0]} for q in queries[:n]]
            client.post("/v1/screen", json=bodies[0], headers=auth).raise_for_status()
            t0 = time.perf_counter()
            for body in bodies:
                client.post("/v1/screen", json=body, headers=auth)
            ours = len(bodies) / (time.perf_counter() - t0)
            t1 = time.perf_counter()
            for _ in bodies:
                client.get("/healthz")
            base = len(bodies) / (time.perf_counter() - t1)
        server.should_exit = True
        thread.join(timeout=10)
        reg.close()
    return {"requests": len(bodies), "screen_requests_per_s": round(ours),
            "baseline healthz_requests_per_s": round(base), "ratio": round(ours / base, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--http", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (args.data / "name-pairs" / "dev.csv").is_file():
        sys.exit(f"reference data not found under {args.data} (name-pairs, ofac-sdn, un)")
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"load_average_1min": round(os.getloadavg()[0], 1),
                              "quality": quality(args.data / "name-pairs" / "dev.csv")}
    report["speed"], queries = speed(args.data, args.queries, rng)
    if args.http:
        report["http"] = http(args.data, queries, args.http)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    print(f"load average (1 min) at start: {report['load_average_1min']} "
          f"on {os.cpu_count()} cores")
    q = report["quality"]
    print(f"name pairs: {q['pairs']} (dev.csv), threshold {q['threshold']}")
    for label, figures in q.items():
        if isinstance(figures, dict):
            print(f"  {label:55} P {figures['precision']:.3f}  R {figures['recall']:.3f}  "
                  f"F1 {figures['f1']:.3f}")
        elif label.startswith("nomenklatura"):
            print(f"  {label:55} {figures}")
    s = report["speed"]
    print(f"index: {s['parties']:,} parties, {s['index']['names']:,} names; build "
          f"{s['build_s']} s, RSS +{s['build_rss_growth_mib']} MiB")
    print(f"screens on one core: {s['screens_per_s']:,}/s, p50 {s['p50_ms']} ms, p99 "
          f"{s['p99_ms']} ms ({s['queries_with_a_candidate']}/{s['queries']} with a candidate); "
          f"baseline dict lookup {s['baseline dict lookup of name_key per_s']:,}/s")
    print(f"  in CPU time (what other processes' load does not inflate): "
          f"{s['screens_per_cpu_s']:,} per CPU-second, p50 {s['cpu_p50_ms']} ms, "
          f"p99 {s['cpu_p99_ms']} ms")
    if "http" in report:
        h = report["http"]
        print(f"HTTP POST /v1/screen: {h['screen_requests_per_s']:,} req/s (one client); "
              f"baseline GET /healthz {h['baseline healthz_requests_per_s']:,} req/s "
              f"(ratio {h['ratio']})")


if __name__ == "__main__":
    main()
