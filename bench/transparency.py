"""Benchmark: the Merkle tree over the ledger (issue #15): folding events into the stored tree,
signing a head, and inclusion / consistency proofs, against a primary-key read of one event.

    python bench/transparency.py [--events 1000000] [--proofs 2000] [--database-url URL]
                                 [--tree-only] [--folder DIR] [--json]

A ledger of ``--events`` synthetic events (random hashes; the tree reads only ``seq`` and
``hash``) is bulk-inserted into a fresh registry (SQLite in a temporary folder, or a fresh
PostgreSQL schema with ``--database-url``, dropped afterwards). Then, in the same run:

1. ``extend_tree`` over the whole ledger: events/s (what signing a head costs per event; it runs
   at each clock tick, off the write path, so ingest pays it only as background work);
2. ``sign_latest`` on a tree already up to date plus a few new events (one head, one tick);
3. ``--proofs`` inclusion proofs of random events and consistency proofs between random sizes:
   median and p99 in ms, and the nodes each reads;
4. baseline: the same number of primary-key reads of one event row.

``extend_tree`` has two floors, measured in the same run: every node hashed in memory from the
event hashes (no database), and the same ``(node, hash)`` rows written by the driver's
executemany into a bare table; the ratio is (hash + write) / extend.

``--tree-only`` (for issue #15's target at 100 M events, where a ledger of synthetic events
would cost tens of GB and hours to insert): ``tree_nodes`` is filled directly with every
perfect subtree of ``--events`` random leaves (folded by the same :func:`_fold` as
``extend_tree``, 2**20 leaves per transaction, so memory stays bounded), and only the proofs
and their baseline (a primary-key read of one ``tree_nodes`` row) are measured. A proof reads
only ``tree_nodes``, so its cost is the same as over a real ledger of that size.
``--folder`` puts the SQLite file there instead of a temporary folder (removed afterwards).

Each figure is printed beside issue #15's target (inclusion proof ≤ 1 ms, median; p99 too).
Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from socialcredit.store import Store
from socialcredit.store.merkle import consistency_proof, inclusion_proof
from socialcredit.store.scratch import scratch_database
from socialcredit.store.tables import events, ledger_head, tree_nodes
from socialcredit.store.tree_head import sign_latest
from socialcredit.store.tree_store import _fold, extend_tree, node_source


def _fill(store: Store, n: int) -> None:
    mark = "?" if store.engine.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO events (seq, at, type, subject_id, policy_version, payload, "
           f"prev_hash, hash) VALUES ({', '.join([mark] * 8)})")
    with store.engine.begin() as conn:
        for lo in range(1, n + 1, 50_000):
            rows = [(s, "2026-12-07T00:00:00+00:00", "bench", None, None, "{}", "0" * 64,
                     os.urandom(32).hex()) for s in range(lo, min(n, lo + 49_999) + 1)]
            conn.exec_driver_sql(sql, rows)
        last = conn.execute(select(events.c.hash).where(events.c.seq == n)).scalar_one()
        conn.execute(update(ledger_head).values(seq=n, hash=last))


def _fill_tree(store: Store, n: int) -> None:
    """``tree_nodes`` of ``n`` random leaves, without events (``--tree-only``)."""
    mark = "?" if store.engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO tree_nodes (node, hash) VALUES ({mark}, {mark})"
    edge: dict[int, bytes] = {}
    step = 1 << 20
    with store.engine.connect() as conn:
        if mark == "?":  # a throwaway file: no fsync per transaction
            conn.exec_driver_sql("PRAGMA synchronous = OFF")
        for lo in range(0, n, step):
            leaves = [os.urandom(32) for _ in range(min(step, n - lo))]
            conn.exec_driver_sql(sql, _fold(leaves, lo, edge))
            conn.commit()


def _proofs(store: Store, n: int, proofs: int, *, tree_only: bool) -> dict[str, Any]:
    """Inclusion and consistency proofs of random events in a tree of ``n`` leaves, and the
    baseline: one primary-key read (of an event row, or of a ``tree_nodes`` row with
    ``tree_only``) per proof. Median / p99 ms of each, and the most nodes one proof read."""
    rng = random.Random(1)
    inc: list[float] = []
    con: list[float] = []
    base: list[float] = []
    nodes: list[int] = []
    with store.read() as conn:
        src = node_source(conn)

        def counting(wanted: Any) -> Any:
            wanted = list(wanted)
            nodes.append(len(wanted))
            return src(wanted)
        for _ in range(proofs):
            m = rng.randrange(n)
            t = time.perf_counter()
            inclusion_proof(m, n, counting)
            inc.append(time.perf_counter() - t)
            first = rng.randrange(1, n)
            t = time.perf_counter()
            consistency_proof(first, n, src)
            con.append(time.perf_counter() - t)
            t = time.perf_counter()
            if tree_only:
                conn.execute(select(tree_nodes).where(tree_nodes.c.node == m)).one()
            else:
                conn.execute(select(events).where(events.c.seq == m + 1)).one()
            base.append(time.perf_counter() - t)
    return {"inclusion": _ms(inc), "consistency": _ms(con), "event_read_baseline": _ms(base),
            "inclusion_nodes_max": max(nodes)}


def _ms(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"median_ms": statistics.median(xs) * 1000,
            "p99_ms": xs[min(len(xs) - 1, int(len(xs) * 0.99))] * 1000}


def _floors(store: Store, n: int) -> tuple[float, float]:
    """Baselines of ``extend_tree``, same run: (1) every node hashed in memory from the event
    hashes (no database); (2) the same number of ``(node, hash)`` rows written by the driver's
    executemany into a bare table with the same primary key. Seconds of each."""
    with store.read() as conn:
        hashes = list(conn.execute(select(events.c.hash).order_by(events.c.seq)).scalars())
    t0 = time.perf_counter()
    sha = hashlib.sha256
    nodes = _fold([sha(b"\x00" + bytes.fromhex(h)).digest() for h in hashes], 0, {})
    hash_s = time.perf_counter() - t0
    mark = "?" if store.engine.dialect.paramstyle == "qmark" else "%s"
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bench_nodes (node BIGINT PRIMARY KEY, hash "
                             f"{'BLOB' if mark == '?' else 'BYTEA'} NOT NULL)")
        t0 = time.perf_counter()
        for i in range(0, len(nodes), 20_000):
            conn.exec_driver_sql(f"INSERT INTO bench_nodes VALUES ({mark}, {mark})",
                                 nodes[i:i + 20_000])
        write_s = time.perf_counter() - t0
        conn.exec_driver_sql("DROP TABLE bench_nodes")
    return hash_s, write_s


def run(url: str, n: int, proofs: int, *, tree_only: bool = False) -> dict[str, Any]:
    """The whole run (module docstring); ``tree_only``: ``tree_nodes`` filled directly, then
    the proofs only."""
    store = Store(url)
    store.ensure_schema()
    out: dict[str, Any] = {"events": n, "dialect": url.split(":", 1)[0], "tree_only": tree_only}
    try:
        t0 = time.perf_counter()
        (_fill_tree if tree_only else _fill)(store, n)
        out["fill_seconds"] = time.perf_counter() - t0
        if not tree_only:
            t0 = time.perf_counter()
            with store.engine.begin() as conn:
                extend_tree(conn, n)
            extend_s = time.perf_counter() - t0
            hash_s, write_s = _floors(store, n)
            key = Ed25519PrivateKey.generate()
            t0 = time.perf_counter()
            sign_latest(store, key)
            out.update(extend_events_per_s=n / extend_s,
                       sign_head_ms=(time.perf_counter() - t0) * 1000,
                       hash_only_events_per_s=n / hash_s, write_only_events_per_s=n / write_s,
                       extend_vs_hash_plus_write=(hash_s + write_s) / extend_s)
        out.update(_proofs(store, n, proofs, tree_only=tree_only))
    finally:
        store.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--proofs", type=int, default=2000)
    ap.add_argument("--database-url")
    ap.add_argument("--tree-only", action="store_true",
                    help="fill tree_nodes directly (no events) and measure proofs only")
    ap.add_argument("--folder", type=Path, help="where the SQLite file goes (default: a "
                    "temporary folder)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tree-", dir=args.folder) as tmp, \
            scratch_database(args.database_url, Path(tmp), prefix="bench_") as url:
        out = run(url, args.events, args.proofs, tree_only=args.tree_only)
    if args.json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    w = sys.stdout.write
    if out.get("tree_only"):
        w(f"tree of {out['events']:,} random leaves ({out['dialect']}; tree_nodes only), "
          f"filled in {out['fill_seconds']:.1f} s\n")
    else:
        w(f"ledger: {out['events']:,} synthetic events ({out['dialect']}), inserted in "
          f"{out['fill_seconds']:.1f} s\n")
        _extend_lines(w, out)
    base = out["event_read_baseline"]["median_ms"]
    for name in ("inclusion", "consistency", "event_read_baseline"):
        f = out[name]
        w(f"{name:<22} median {f['median_ms']:.3f} ms, p99 {f['p99_ms']:.3f} ms "
          f"({f['median_ms'] / base:.1f}x the baseline's median)\n")
    inc = out["inclusion"]["median_ms"]
    w(f"target: inclusion proof <= 1 ms at 100 M events: {inc:.3f} ms median at "
      f"{out['events']:,} ({'met' if inc <= 1 else 'NOT met'}; p99 "
      f"{out['inclusion']['p99_ms']:.3f} ms)\n")
    w(f"inclusion proof reads at most {out['inclusion_nodes_max']} nodes in one query\n")


def _extend_lines(w: Any, out: dict[str, Any]) -> None:
    w(f"extend tree            {out['extend_events_per_s']:>12,.0f} events/s  "
      f"({out['extend_vs_hash_plus_write']:.2f}x the floors below, added)\n")
    w(f"  floor: hash in memory {out['hash_only_events_per_s']:>11,.0f} events/s\n")
    w(f"  floor: write the rows {out['write_only_events_per_s']:>11,.0f} events/s\n")
    w(f"sign a head            {out['sign_head_ms']:>12.1f} ms\n")


if __name__ == "__main__":
    main()
