"""Benchmark: the ledger's canonical JSON (``store.ledger.canonical_json``, orjson with the
standard library as the reference) beside the standard library's encoder alone, in one process.

    python bench/canonical_json.py [--payloads 20000] [--json]

Payloads: the two shapes written once per accepted record — the content-hash body of a
furnisher row (``ingest/validate.py``) and the ``record.accepted`` event (``ingest/pipeline.py``)
— with random IDs, names (Han and Latin), amounts and case numbers, and a share of ``null``\\s.
Prints µs per payload for each encoder (best of 5 passes over all payloads), their ratio, and
checks that both wrote the same bytes for every payload.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from socialcredit.store.ledger import canonical_json  # noqa: E402

REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_SURNAMES = "王李张刘陈杨黄赵吴周"
_GIVEN = "伟芳娜敏静丽强磊军洋"


def payloads(n: int, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(n):
        name = (rng.choice(_SURNAMES) + rng.choice(_GIVEN) if rng.random() < 0.8
                else f"Person {rng.randrange(10**6)}")
        body: dict[str, Any] = {
            "furnisher_record_id": f"r{i}", "kind": rng.choice(["loan_default",
                                                               "dishonesty_finding"]),
            "occurred_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "national_id": f"{rng.randrange(10**17):017d}X" if rng.random() < 0.9 else None,
            "phone": f"+86138{rng.randrange(10**8):08d}" if rng.random() < 0.6 else None,
            "name": name, "corrects": None,
            "payload": {"amount_minor": rng.randrange(10**9), "currency": "CNY",
                        "case_number": f"(2026)京0105执{rng.randrange(1000)}号"}}
        out.append(body if i % 2 else {"record_id": i, "furnisher_id": 3, **body,
                                        "content_hash": f"{rng.getrandbits(256):064x}"})
    return out


def best_us(encode: Any, items: list[dict[str, Any]]) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for p in items:
            encode(p)
        best = min(best, time.perf_counter() - t0)
    return best / len(items) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--payloads", type=int, default=20_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    items = payloads(args.payloads, random.Random(7))
    same = sum(canonical_json(p) == REFERENCE.encode(p) for p in items)
    ours, ref = best_us(canonical_json, items), best_us(REFERENCE.encode, items)
    out = {"payloads": len(items), "same_bytes": same, "ours_us": round(ours, 2),
           "stdlib_us": round(ref, 2), "ratio_stdlib_over_ours": round(ref / ours, 2)}
    if args.json:
        print(json.dumps(out))
        return
    print(f"canonical JSON of {len(items):,} payloads (best of 5 passes):\n"
          f"  ours (orjson, stdlib reference)  {ours:6.2f} µs per payload\n"
          f"  stdlib json encoder alone        {ref:6.2f} µs per payload\n"
          f"  ratio stdlib / ours              {ref / ours:6.2f}×\n"
          f"  same bytes                       {same:,} of {len(items):,}")


if __name__ == "__main__":
    main()
