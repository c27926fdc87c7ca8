"""Benchmark: what signing tree heads costs an ingest, on and off in the same run (issue #15's
target: ≤ 2 % of ingest throughput).

    python bench/signing.py [--subjects 3000] [--seed 1] [--sign-every-s 1.0] [--trials 2]
                            [--json]

A population of ``--subjects`` people is simulated once (``socialcredit.simulate``). Then each
trial ingests every furnisher file into a fresh SQLite registry in a temporary folder, twice,
in alternating order:

* *off*: the ingest alone (the baseline);
* *on*: the same ingest while a thread of the same process signs a head every
  ``--sign-every-s`` seconds (:func:`socialcredit.store.tree_head.sign_latest`: the tree is
  extended to the ledger's head, then signed), as ``serve`` does between clock runs, plus one
  last head once the ingest is done, so that the tree covers every event it wrote.

Each figure is the fastest trial: ledger events/s, and the cost of signing as
``1 - on / off``; also the heads signed and the wall time spent in ``sign_latest`` (which
includes waiting for the ledger lock while an ingest batch holds it: not CPU); the last line
sets the cost beside issue #15's target (≤ 2 %). Figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.settings import Settings
from socialcredit.simulate import simulate
from socialcredit.store.tables import ledger_head
from socialcredit.store.tree_head import sign_latest

AS_OF = dt.date(2026, 6, 30)


def _ingest(folder: Path, data: Path, manifest: Any, every_s: float | None,
            ) -> dict[str, float]:
    reg = Registry(Settings(database_url=f"sqlite:///{folder / 'registry.db'}"), today=AS_OF)
    reg.ensure_schema()
    key = Ed25519PrivateKey.generate()
    signed: list[float] = []
    stop = threading.Event()

    def signer() -> None:
        assert every_s is not None
        while not stop.wait(every_s):
            t = time.perf_counter()
            sign_latest(reg.store, key)
            signed.append(time.perf_counter() - t)
    try:
        for f in manifest.furnishers:
            add_furnisher(reg.store, name=f.name, kind=f.kind)
        thread = threading.Thread(target=signer, daemon=True) if every_s else None
        t0 = time.perf_counter()
        if thread is not None:
            thread.start()
        for f in manifest.furnishers:
            ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, f.name),
                        path=data / f.file, as_of=AS_OF,
                        chunk_rows=reg.settings.ingest_batch_rows)
        if thread is not None:
            stop.set()
            thread.join()
            t = time.perf_counter()
            sign_latest(reg.store, key)  # the tree covers every event the ingest wrote
            signed.append(time.perf_counter() - t)
        seconds = time.perf_counter() - t0
        with reg.store.read() as conn:
            n = int(conn.execute(select(ledger_head.c.seq)).scalar_one())
    finally:
        reg.close()
    return {"events": n, "seconds": seconds, "heads": len(signed),
            "signing_seconds": sum(signed)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subjects", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sign-every-s", type=float, default=1.0)
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-signing-") as tmp_name:
        tmp = Path(tmp_name)
        manifest = simulate(tmp / "sim", subjects=args.subjects, seed=args.seed, as_of=AS_OF)
        runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
        for trial in range(args.trials):
            order = ("off", "on") if trial % 2 == 0 else ("on", "off")
            for mode in order:
                folder = tmp / f"{mode}{trial}"
                folder.mkdir()
                runs[mode].append(_ingest(folder, tmp / "sim", manifest,
                                          args.sign_every_s if mode == "on" else None))
    off = min(runs["off"], key=lambda r: r["seconds"])
    on = min(runs["on"], key=lambda r: r["seconds"])
    out = {"subjects": args.subjects, "events": off["events"],
           "sign_every_s": args.sign_every_s, "trials": args.trials,
           "off_events_per_s": off["events"] / off["seconds"],
           "on_events_per_s": on["events"] / on["seconds"],
           "signing_cost_pct": 100 * (1 - (on["events"] / on["seconds"])
                                      / (off["events"] / off["seconds"])),
           "heads_signed": on["heads"], "signing_seconds": on["signing_seconds"],
           "signing_share_of_on_run_pct": 100 * on["signing_seconds"] / on["seconds"]}
    if args.json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    w = sys.stdout.write
    w(f"ingest of {args.subjects:,} simulated people: {out['events']:,} ledger events "
      f"(SQLite; fastest of {args.trials} trials each)\n")
    w(f"signing off (baseline)   {out['off_events_per_s']:>10,.0f} events/s\n")
    w(f"signing on, every {args.sign_every_s:g} s  {out['on_events_per_s']:>10,.0f} events/s  "
      f"({out['signing_cost_pct']:+.1f} % cost)\n")
    w(f"heads signed: {out['heads_signed']}, {out['signing_seconds']:.2f} s of wall time in "
      f"sign_latest, waiting for the ledger lock included "
      f"({out['signing_share_of_on_run_pct']:.1f} % of the run)\n")
    cost = out["signing_cost_pct"]
    w(f"target: signing heads costs <= 2 % of ingest throughput: {cost:+.1f} % "
      f"({'met' if cost <= 2 else 'NOT met'}; baseline: signing off, same process)\n")


if __name__ == "__main__":
    main()
