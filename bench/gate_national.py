"""Benchmark: the gate index at national scale (13.49 M listed people, China, early 2019).

    python bench/gate_national.py [--listed 13490000] [--queries 2000000] [--single 200000]
                                  [--pg-single 20000] [--skip-redis] [--skip-postgres] [--json]

Generates ``--listed`` valid CN resident IDs, each with one ``dishonest_judgment_debtors`` entry,
builds a ``CompactTable`` from arrays and serves it from a ``GateIndex``; decides on ``--queries``
IDs (2 % listed) one by one (``decide``) and in batches of 10,000 (``encode_cn_ids`` +
``decide_codes``). Baselines on the same IDs: Python ``set``, Redis set, PostgreSQL primary key
(bench/README.md). Ratio = ours / baseline (rates: >1 is better; seconds, bytes: <1 is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from stdnum.cn import ric

from socialcredit.api.registry import Registry
from socialcredit.gate import DecisionService, GateIndex
from socialcredit.gate.codes import encode_cn_ids
from socialcredit.gate.compact import CompactTable
from socialcredit.settings import Settings

Ids = npt.NDArray[np.bytes_]
# county-level codes that python-stdnum's cn.ric database accepts for births 1950-2005
REGIONS = np.array([110101, 110102, 110105, 110106, 110108, 120101, 120102, 120103, 310101,
                    310104, 310105, 310106, 130100, 210100, 220100, 230100, 320100, 330100,
                    340100, 350100, 360100, 370100, 410100, 420100, 430100, 440100, 440300,
                    450100, 510100, 520100, 530100, 610100, 620100], dtype=np.int64)
BORN_FIRST, BORN_LAST = dt.date(1950, 1, 1), dt.date(2005, 12, 31)
SINCE_FIRST, SINCE_LAST = dt.date(2018, 1, 1), dt.date(2019, 3, 1)
TODAY = dt.date(2019, 3, 31)  # every generated entry is active on this day
SANCTIONED = ("air", "rail_hsr", "rail_first_class", "hotel_star", "credit")
COURTS = ("court-beijing-no1", "court-shanghai-no2", "court-guangzhou", "court-chengdu")
BATCH, CHUNK = 10_000, 1_000_000  # decisions per batch; IDs per generation step / COPY block
ENCODE_CHUNK = 100_000  # IDs per encode_cn_ids call at build (it makes an n×18 int64 matrix)


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def peak_rss() -> int:  # the peak so far (ru_maxrss, KiB on Linux); rss_now: the current RSS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_now() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize()


def generate_ids(rng: np.random.Generator, n: int) -> Ids:
    """``n`` unique valid IDs (S18) in random order: region, birth date, 3-digit sequence and
    the ISO 7064 MOD 11-2 check character."""
    days = (BORN_LAST - BORN_FIRST).days + 1
    picks = np.zeros(0, dtype=np.int64)
    while len(picks) < n:  # sort + mask: np.unique (hash-based in NumPy 2.4) is ~60x slower
        more = rng.integers(0, len(REGIONS) * days * 1000, n + n // 20 + 1000)
        picks = np.sort(np.concatenate([picks, more]))
        picks = picks[np.r_[True, picks[1:] != picks[:-1]]]
    picks, out = rng.permutation(picks)[:n], np.empty((n, 18), np.uint8)
    for i in range(0, n, CHUNK):  # in chunks, to keep the peak RSS low
        rest, seq = np.divmod(picks[i:i + CHUNK], 1000)
        born = np.datetime64(BORN_FIRST, "D") + rest % days
        x = REGIONS[rest // days] * 10**11 + seq + 1000 * (
            (born.astype("datetime64[Y]").astype(np.int64) + 1970) * 10000
            + (born.astype("datetime64[M]").astype(np.int64) % 12 + 1) * 100
            + (born - born.astype("datetime64[M]")).astype(np.int64) + 1)
        weighted = np.zeros(len(x), np.int64)
        for j in range(16, -1, -1):
            x, d = np.divmod(x, 10)
            out[i:i + CHUNK, j], weighted = d + 48, weighted + d * pow(2, 17 - j, 11)
        check = (12 - weighted % 11) % 11
        out[i:i + CHUNK, 17] = np.where(check == 10, ord("X"), check + 48)
    return out.view("S18").ravel()


@dataclass
class National:
    index: GateIndex
    listed: Ids  # row i of the table
    others: Ids  # valid IDs that are not listed
    figures: dict[str, float]


def build_national(n_listed: int, n_others: int, seed: int, tmp: str) -> National:
    """Generate the listed people and an outside pool, then build and install the index."""
    rng, t0, n = np.random.default_rng(seed), time.perf_counter(), n_listed
    ids = generate_ids(rng, n_listed + n_others)
    if not all(ric.is_valid(s.decode()) for s in rng.choice(ids, min(len(ids), 20_000))):
        raise SystemExit("stdnum.cn.ric rejects generated IDs")
    registry = Registry(Settings(database_url=f"sqlite:///{tmp}/r.db"))
    registry.ensure_schema()
    span = (SINCE_LAST - SINCE_FIRST).days + 1
    start = np.datetime64(SINCE_FIRST, "D") + rng.integers(0, span, n)
    since = start.astype(np.int64).astype(np.int32)  # days since 1970-01-01
    until = since + ((start.astype("datetime64[M]") + 24).astype("datetime64[D]")  # 2 years
                     - start.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int32)
    ground = rng.choice(np.arange(1, 7, dtype=np.int8), n, p=[.6, .05, .1, .15, .05, .05])
    furnisher, services = rng.integers(0, len(COURTS), n, np.int32), tuple(registry.policy.services)
    del start
    f: dict[str, float] = {"generate_s": time.perf_counter() - t0, "rss_before_build": rss_now(),
                           "peak_rss_before_build": peak_rss()}
    say(f"generated {len(ids):,} IDs in {f['generate_s']:.1f} s; building the index")
    index, t0 = GateIndex(registry.store, registry.policy), time.perf_counter()
    codes = np.concatenate([encode_cn_ids(ids[i:min(i + ENCODE_CHUNK, n)])[0]
                            for i in range(0, n, ENCODE_CHUNK)])
    if not codes.all():
        raise SystemExit("generated IDs fail encode_cn_ids validation")
    t1 = time.perf_counter()
    table = CompactTable(
        services=services, lists=("dishonest_judgment_debtors",), labels=COURTS, codes=codes,
        key_row=np.arange(n, dtype=np.int32), subject_ids=np.arange(1, n + 1, dtype=np.int64),
        entry_row=np.arange(n, dtype=np.int32), entry_id=np.arange(1, n + 1, dtype=np.int64),
        entry_list=np.zeros(n, np.uint8), entry_ground=ground, entry_since=since,
        entry_until=until, entry_furnisher=furnisher, entry_platform=np.full(n, -1, np.int32),
        entry_mask=np.full(n, sum(1 << services.index(s) for s in SANCTIONED), np.uint32))
    del since, until, ground, furnisher, codes
    t2 = time.perf_counter()
    index.install(table)
    table.rows(table.codes[:1])  # pandas fills its hash table on the first get_indexer
    f |= {"build_s": time.perf_counter() - t0, "encode_s": t1 - t0, "table_s": t2 - t1,
          "hash_s": time.perf_counter() - t2, "peak_rss_after_build": peak_rss(),
          "rss_after_build": rss_now(), "table_nbytes": table.nbytes}
    return National(index, ids[:n], ids[n:], f)


def make_queries(nat: National, n: int, share: float, seed: int) -> Ids:
    """``n`` IDs, ``share`` of them listed (distinct), the rest from the outside pool."""
    rng = np.random.default_rng(seed + 1)
    hits = rng.choice(len(nat.listed), int(n * share), replace=False)
    misses = rng.choice(len(nat.others), n - len(hits), replace=len(nat.others) < n - len(hits))
    return rng.permutation(np.concatenate([nat.listed[hits], nat.others[misses]]))


def batched(svc: DecisionService, ids: Ids, service: str = "air") -> tuple[float, float, int]:
    """``encode_cn_ids`` + ``decide_codes`` per batch: (encode s, decide s, denies)."""
    enc, dec, denies = 0.0, 0.0, 0
    for i in range(0, len(ids), BATCH):
        t0 = time.perf_counter()
        codes, t1 = encode_cn_ids(ids[i:i + BATCH])[0], time.perf_counter()
        outcomes = svc.decide_codes(service=service, codes=codes).outcomes
        enc, dec = enc + t1 - t0, dec + time.perf_counter() - t1
        denies += int(np.count_nonzero(outcomes == 1))
    return enc, dec, denies


def ours(nat: National, queries: Ids, n_single: int) -> dict[str, float]:
    svc = DecisionService(nat.index, today=TODAY)
    sample, t0 = [q.decode() for q in queries[:n_single]], time.perf_counter()
    single = sum(svc.decide(service="air", national_id=q).decision == "deny" for q in sample)
    single_s = time.perf_counter() - t0
    if (batch := batched(svc, queries[:n_single])[2]) != single:
        raise SystemExit(f"on the same sample decide() denied {single}, decide_codes {batch}")
    enc, dec, denies = batched(svc, queries)
    return {"single_per_s": n_single / single_s, "single_denies": single, "denies": denies,
            "batch_per_s": len(queries) / (enc + dec), "encode_per_s": len(queries) / enc,
            "decide_codes_per_s": len(queries) / dec}


def py_set(nat: National, queries: Ids, _: int) -> dict[str, float]:
    before, t0 = rss_now(), time.perf_counter()
    members = set(nat.listed.tolist())
    build_s, extra, qs = time.perf_counter() - t0, rss_now() - before, queries.tolist()
    t0 = time.perf_counter()
    denies = sum(1 for q in qs if q in members)
    return {"build_s": build_s, "bytes": extra, "denies": denies,
            "single_per_s": len(qs) / (time.perf_counter() - t0)}


def redis_set(nat: National, queries: Ids, _: int) -> dict[str, float]:
    import redis  # not a project dependency: pip install redis

    r = redis.Redis(host="127.0.0.1", port=6379)
    key, used = f"bench:gate_national:{uuid.uuid4().hex}", int(r.info("memory")["used_memory"])
    try:
        t0, pipe = time.perf_counter(), r.pipeline(transaction=False)
        for i in range(0, len(nat.listed), BATCH):  # SADD of 10,000, 20 per round trip
            pipe.sadd(key, *nat.listed[i:i + BATCH].tolist())
            if i // BATCH % 20 == 19:
                pipe.execute()
        pipe.execute()
        load_s, grown = time.perf_counter() - t0, int(r.info("memory")["used_memory"]) - used
        t0, denies = time.perf_counter(), 0
        for i in range(0, len(queries), BATCH):
            for q in queries[i:i + BATCH].tolist():
                pipe.sismember(key, q)
            denies += sum(map(bool, pipe.execute()))
        per_s = len(queries) / (time.perf_counter() - t0)
    finally:
        r.delete(key)
    return {"build_s": load_s, "bytes": grown, "batch_per_s": per_s, "denies": denies}


def postgres(nat: National, queries: Ids, n_single: int) -> dict[str, float]:
    import psycopg

    t = f'"bench_{uuid.uuid4().hex[:12]}"'
    with psycopg.connect("postgresql://postgres@127.0.0.1/test", autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA {t}; CREATE TABLE {t}.ids (id text COLLATE "C" NOT NULL)')
        try:
            t0 = time.perf_counter()
            with conn.cursor().copy(f"COPY {t}.ids (id) FROM STDIN") as copy:
                for i in range(0, len(nat.listed), CHUNK):
                    copy.write(b"\n".join(nat.listed[i:i + CHUNK].tolist()) + b"\n")
            conn.execute(f"ALTER TABLE {t}.ids ADD PRIMARY KEY (id); ANALYZE {t}.ids")
            load_s = time.perf_counter() - t0
            size = conn.execute(f"SELECT pg_total_relation_size('{t}.ids')").fetchone()
            qs, t0, denies = [q.decode() for q in queries.tolist()], time.perf_counter(), 0
            for i in range(0, len(qs), BATCH):
                denies += len(conn.execute(f"SELECT id FROM {t}.ids WHERE id = ANY(%s)",
                                           (qs[i:i + BATCH],)).fetchall())
            batch_per_s, t0 = len(qs) / (time.perf_counter() - t0), time.perf_counter()
            for q in qs[:n_single]:
                conn.execute(f"SELECT 1 FROM {t}.ids WHERE id = %s", (q,)).fetchone()
            single_per_s = n_single / (time.perf_counter() - t0)
        finally:
            conn.execute(f"DROP SCHEMA {t} CASCADE")
    return {"build_s": load_s, "bytes": size[0] if size else 0, "batch_per_s": batch_per_s,
            "single_per_s": single_per_s, "denies": denies}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for flag, default in (("--listed", 13_490_000), ("--queries", 2_000_000),
                          ("--single", 200_000), ("--pg-single", 20_000), ("--seed", 2019)):
        ap.add_argument(flag, type=int, default=default)
    for flag in ("--skip-redis", "--skip-postgres", "--json"):
        ap.add_argument(flag, action="store_true")
    a, t_start = ap.parse_args(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        nat = build_national(a.listed, int(a.queries * 0.98) + 1, a.seed, tmp)
        out: dict[str, Any] = {"listed": a.listed, "queries": a.queries, **nat.figures}
        queries = make_queries(nat, a.queries, 0.02, a.seed)
        say("deciding")
        out["ours"] = ours(nat, queries, min(a.single, a.queries))
        for name, fn in (("set", py_set), ("redis", redis_set), ("postgres", postgres)):
            if not getattr(a, f"skip_{name}", False):
                say(f"baseline: {name}")
                try:
                    out[name] = fn(nat, queries, min(a.pg_single, a.queries))
                except Exception as e:  # a baseline that cannot run is reported, not fatal
                    out[name] = {"error": f"{type(e).__name__}: {e}"}
        nat.index.store.dispose()
    out["peak_rss_end"], out["total_s"] = peak_rss(), time.perf_counter() - t_start
    for name in ("set", "redis", "postgres"):  # every baseline must find the same people
        if out.get(name, {}).get("denies", out["ours"]["denies"]) != out["ours"]["denies"]:
            say(f"MISMATCH: {name} found {out[name]['denies']}, ours {out['ours']['denies']}")
    if a.json:
        print(json.dumps(out))
    else:
        report(out)


def report(out: dict[str, Any]) -> None:
    o, mb = out["ours"], 1 << 20
    print(f"{out['listed']:,} listed; {out['queries']:,} queries, {o['denies']:,} denied; "
          f"{out['total_s']:.0f} s in all, of which generating the IDs {out['generate_s']:.1f}\n"
          f"build {out['build_s']:.1f} s (target <= 60) = encode {out['encode_s']:.1f} + "
          f"CompactTable {out['table_s']:.1f} + hash table {out['hash_s']:.1f}\nRSS MB: "
          + ", ".join(f"{k} {out[k] / mb:,.0f}" for k in (
              "peak_rss_after_build", "peak_rss_before_build", "rss_before_build",
              "rss_after_build", "peak_rss_end"))
          + f" (target: peak after build <= 2048); table.nbytes {out['table_nbytes'] / mb:,.0f}"
          f" ({out['table_nbytes'] / out['listed']:,.0f} bytes per listed person)")
    print(f"{'figure':<14}{'ours':>13}  {'baseline':<9}{'value':>13}{'ours/base':>10}")
    for label, field, mine in (("build/load s", "build_s", out["build_s"]),
                               ("memory MB", "bytes", out["table_nbytes"] / mb),
                               ("single /s", "single_per_s", o["single_per_s"]),
                               ("batched /s", "batch_per_s", o["batch_per_s"])):
        for name in ("set", "redis", "postgres"):
            v = out.get(name, {}).get(
                "single_per_s" if (name, field) == ("set", "batch_per_s") else field)
            if v:
                v /= mb if field == "bytes" else 1
                print(f"{label:<14}{mine:>13,.1f}  {name:<9}{v:>13,.1f}{mine / v:>10.2f}")
    for name in ("redis", "postgres"):
        if "error" in out.get(name, {}):
            print(f"{name} baseline failed: {out[name]['error']}")
    print(f"batched = encode_cn_ids {o['encode_per_s']:,.0f}/s then decide_codes "
          f"{o['decide_codes_per_s']:,.0f}/s (target >= 5,000,000/s: "
          f"{'met' if o['batch_per_s'] >= 5e6 else 'NOT met'}); decide() and decide_codes "
          f"agree on the single sample ({o['single_denies']:,} denies)")


if __name__ == "__main__":
    main()
