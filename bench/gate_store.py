"""Benchmark: the gate index built from the store at national scale (13.49 M listed).

    python bench/gate_store.py [--listed N] [--database-url URL] [--json] [--work-dir DIR]

Fills a fresh registry with ``--listed`` people (default 13,490,000, the seed's list in early
2019): one subject, one national ID and one active ``dishonest_judgment_debtors`` entry each
(IDs from ``gate_national.generate_ids``; since 2018-01-01..2019-03-01, two years), written with
the store's bulk path (``store/bulk.py``: ``COPY`` on PostgreSQL, ``executemany`` on SQLite)
in blocks of 500,000 rows. Then:

* ``build``: ``GateIndex.build()`` — the entries and keys read back from the store and turned
  into the compact table (``gate/base_load.py``), hash table filled;
* baseline, same run: the same table built from NumPy arrays already in memory (what
  ``bench/gate_national.py`` measures), so ``build / baseline`` is the price of reading the
  store;
* a check: 10,000 listed IDs denied and 10,000 unlisted allowed through ``decide_codes``.

Each figure: seconds, rows/s, and the peak RSS of the step (``VmHWM`` reset before it).
The issue's target: 13.49 M listed in ≤ 60 s. Run it in the background:
``nohup nice python bench/gate_store.py --json > var/gate_store.json &``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gate_national import COURTS, SANCTIONED, generate_ids  # noqa: E402
from nation import _peak_mb, _reset_peak  # noqa: E402

from socialcredit.api.keys import add_furnisher, furnisher_id  # noqa: E402
from socialcredit.api.registry import Registry  # noqa: E402
from socialcredit.gate import DecisionService, GateIndex  # noqa: E402
from socialcredit.gate.codes import encode_cn_ids  # noqa: E402
from socialcredit.gate.compact import CompactTable  # noqa: E402
from socialcredit.settings import Settings  # noqa: E402
from socialcredit.store.bulk import bulk_insert  # noqa: E402
from socialcredit.store.scratch import scratch_database  # noqa: E402
from socialcredit.store.tables import identifiers, list_entries, subjects  # noqa: E402

TODAY = dt.date(2019, 3, 31)
BLOCK = 500_000
LIST = "dishonest_judgment_debtors"


def say(msg: str) -> None:
    print(f"[gate_store] {msg}", file=sys.stderr, flush=True)


def fill(reg: Registry, ids: np.ndarray, seed: int) -> float:
    """Write the subjects, IDs and entries; return the seconds spent writing."""
    rng = np.random.default_rng(seed)
    fids = [furnisher_id(reg.store, c) for c in COURTS]
    spent = 0.0
    for lo in range(0, len(ids), BLOCK):
        part = ids[lo:lo + BLOCK]
        n = len(part)
        sid = np.arange(lo + 1, lo + n + 1)
        since = (np.datetime64("2018-01-01") + rng.integers(0, 425, n)).astype(str)
        until = [f"{int(s[:4]) + 2}{s[4:]}" for s in since]
        court = rng.integers(0, len(fids), n)
        nid = [b.decode() for b in part]
        subj = [{"id": int(i), "national_id": v, "name": None, "birth_date": None, "sex": None,
                 "region_code": v[:6], "source": "registry", "created_seq": 0,
                 "merged_into": None} for i, v in zip(sid, nid, strict=True)]
        idents = [{"id": int(i), "subject_id": int(i), "kind": "national_id", "value": v,
                   "valid_from": "2018-01-01", "valid_to": None, "shared_since": None}
                  for i, v in zip(sid, nid, strict=True)]
        entries = [{"id": int(i), "list": LIST, "subject_id": int(i), "key": f"case-{i}",
                    "status": "active", "ground": 1, "since": s, "until": u, "record_id": None,
                    "furnisher_id": fids[c], "platform": None, "public": True,
                    "ended_on": None, "end_reason": None, "end_record_id": None,
                    "policy_version": "bench", "seq": 0, "lifted": None}
                   for i, s, u, c in zip(sid, since, until, court, strict=True)]
        t0 = time.perf_counter()
        with reg.store.engine.begin() as conn:
            bulk_insert(conn, subjects, subj)
            bulk_insert(conn, identifiers, idents)
            bulk_insert(conn, list_entries, entries)
        spent += time.perf_counter() - t0
        say(f"written {lo + n:,} people ({spent:.0f} s writing)")
    reg.store.refresh_statistics("subjects", "identifiers", "list_entries")
    return spent


def baseline_table(ids: np.ndarray, services: tuple[str, ...]) -> CompactTable:
    n = len(ids)
    codes = np.concatenate([encode_cn_ids(ids[i:i + 100_000])[0] for i in range(0, n, 100_000)])
    table = CompactTable(
        services=services, lists=(LIST,), labels=COURTS, codes=codes,
        key_row=np.arange(n, dtype=np.int32), subject_ids=np.arange(1, n + 1, dtype=np.int64),
        entry_row=np.arange(n, dtype=np.int32), entry_id=np.arange(1, n + 1, dtype=np.int64),
        entry_list=np.zeros(n, np.uint8), entry_ground=np.ones(n, np.int8),
        entry_since=np.zeros(n, np.int32), entry_until=np.zeros(n, np.int32),
        entry_furnisher=np.zeros(n, np.int32), entry_platform=np.full(n, -1, np.int32),
        entry_mask=np.full(n, sum(1 << services.index(s) for s in SANCTIONED), np.uint32))
    table.rows(table.codes[:1])  # fill pandas' hash table, as the build does
    return table


def step(out: dict[str, Any], name: str, rows: int, fn: Any) -> Any:
    _reset_peak()
    t0 = time.perf_counter()
    value = fn()
    secs = time.perf_counter() - t0
    out[name] = {"seconds": round(secs, 2), "rows": rows,
                 "rows_per_s": round(rows / secs) if secs else None,
                 "peak_rss_mb": round(_peak_mb())}
    say(f"{name}: {secs:.1f} s, peak {out[name]['peak_rss_mb']:,} MB")
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listed", type=int, default=13_490_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database-url", help="default: SQLite in a temporary directory")
    p.add_argument("--work-dir", type=Path, help="where the SQLite file goes (default: tmp)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    out: dict[str, Any] = {"listed": args.listed}
    ids = generate_ids(np.random.default_rng(args.seed), args.listed + 10_000)
    listed, others = ids[:args.listed], ids[args.listed:]
    with tempfile.TemporaryDirectory(prefix="sc-gate-store-", dir=args.work_dir) as tmp, \
            scratch_database(args.database_url, Path(tmp), prefix="gate_store_") as url:
        reg = Registry(Settings(database_url=url), today=TODAY)
        try:
            reg.ensure_schema()
            out["database"] = reg.store.dialect
            for c in COURTS:
                add_furnisher(reg.store, name=c, kind="court")
            say(f"writing {args.listed:,} listed people")
            out["fill"] = {"seconds": round(fill(reg, listed, args.seed), 2),
                           "rows": 3 * args.listed}
            index = GateIndex(reg.store, reg.policy)

            def build() -> None:
                index.build()
                index.base.rows(index.base.codes[:1])  # the hash table, filled lazily

            step(out, "build", args.listed, build)
            out["table_mb"] = round(index.base.nbytes / 2**20)
            svc = DecisionService(index, today=TODAY)
            sample = listed[np.random.default_rng(2).choice(len(listed), 10_000, replace=False)]
            denied = int(np.count_nonzero(svc.decide_codes(
                service="air", codes=encode_cn_ids(sample)[0]).outcomes == 1))
            allowed = int(np.count_nonzero(svc.decide_codes(
                service="air", codes=encode_cn_ids(others)[0]).outcomes == 0))
            out["check"] = {"listed_denied": denied, "unlisted_allowed": allowed}
            step(out, "baseline_arrays", args.listed,
                 lambda: baseline_table(listed, tuple(reg.policy.services)))
        finally:
            reg.close()
    out["build_vs_arrays"] = round(out["build"]["seconds"] / out["baseline_arrays"]["seconds"], 2)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k in ("fill", "build", "baseline_arrays"):
            v = out[k]
            print(f"{k:<18}{v['seconds']:>10.1f} s {v['rows']:>14,} rows "
                  f"{v.get('peak_rss_mb', ''):>8} MB")
        print(f"table {out['table_mb']:,} MB; build / arrays = {out['build_vs_arrays']}; "
              f"check {out['check']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
