"""Benchmark: Metro 2 ingest rows/s beside the CSV ingest of the same records (issue #19).

    python bench/metro2.py [--records N] [--seed S] [--json]

1. ``--records`` accounts of as many people (made-up SSNs of the ``us.ssn`` form) are written
   as one Metro 2 character-format file (``tests/fixtures/metro2/generate.py``: a header, one
   base segment a line, a trailer); the mix: 45 % 90-119 days past due (status 80), 25 %
   charged off (97, with a date of first delinquency), 15 % in collections after a sale (93
   with K1 and K2 segments), 15 % paid (13, with a J1 co-borrower, so one record gives two
   rows).
2. The rows the Metro 2 reader yields for them are written as the equivalent CSV (same
   columns and values; one CSV row per Metro 2 row).
3. Each file is ingested into a fresh SQLite registry (a temporary folder) under the same
   policy (the default one for US tradelines, ``generate.us_policy``), by the one pipeline
   (``ingest_file``): linkage, the obligation checks and evaluation of the touched subjects
   included; ``--repeat`` times each, the order alternating, the fastest counting. Rows/s of
   each, and Metro 2's rate as a share of CSV's, in the same run.

Figures only: nothing is asserted but that both ingests accepted the same rows.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "metro2"))

import generate as m2  # noqa: E402

from socialcredit.api.keys import add_furnisher, furnisher_id  # noqa: E402
from socialcredit.api.registry import Registry  # noqa: E402
from socialcredit.ingest.metro2_map import metro2_rows  # noqa: E402
from socialcredit.ingest.pipeline import ingest_file  # noqa: E402
from socialcredit.settings import Settings  # noqa: E402

AS_OF = dt.date(2026, 6, 30)


def _ssn(rng: random.Random, seen: set[str]) -> str:
    while True:
        area = rng.randint(1, 665)
        ssn = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        if ssn not in seen:
            seen.add(ssn)
            return ssn


def records(n: int, seed: int) -> list[str]:
    """``n`` base segments (with their appended segments), of the mix in the docstring."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    for i in range(n):
        who = {"social_security_number": _ssn(rng, seen), "surname": f"SMITH{i % 97}",
               "first_name": rng.choice(["ANNA", "BEN", "CARLA", "DAVID", "EVA"]),
               "consumer_account_number": f"ACC-{i:09d}",
               "current_balance": rng.randint(500, 60000),
               "telephone_number": f"20255{rng.randint(0, 99999):05d}" if i % 3 else 0}
        draw = rng.random()
        if draw < 0.45:
            out.append(m2.base(account_status="80", **who))
        elif draw < 0.70:
            out.append(m2.base(account_status="97", date_of_first_delinquency="2025-09-01",
                               original_charge_off_amount=who["current_balance"], **who))
        elif draw < 0.85:
            out.append(m2.base(
                m2.segment("K1", original_creditor_name="bank-a", creditor_classification=8),
                m2.segment("K2", purchased_sold_indicator="1", purchased_sold_name="bank-a"),
                account_status="93", date_of_first_delinquency="2025-12-01", **who))
        else:
            co = _ssn(rng, seen)
            out.append(m2.base(
                m2.segment("J1", surname=who["surname"], first_name="PAT",
                           social_security_number=co, ecoa_code="2"),
                account_status="13", actual_payment_amount=who["current_balance"],
                date_of_first_delinquency=None, **{**who, "current_balance": 0}))
    return out


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("true" if v is True else v) for k, v in r.items()})


def _ingest(folder: Path, policy: Path, path: Path, fmt: str | None) -> tuple[int, float]:
    reg = Registry(Settings(database_url=f"sqlite:///{folder / 'registry.db'}",
                            policy_path=policy), today=AS_OF)
    try:
        reg.ensure_schema()
        add_furnisher(reg.store, name="bank-a", kind="lender")
        fid = furnisher_id(reg.store, "bank-a")
        start = time.perf_counter()
        result = ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=AS_OF,
                             chunk_rows=reg.settings.ingest_batch_rows, fmt=fmt)
        seconds = time.perf_counter() - start
        assert result.rejected == 0, result.problems[:3]
        return result.accepted, seconds
    finally:
        reg.close()


def run(n: int, seed: int, repeat: int = 2) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        policy = m2.us_policy(root)
        m2_path = root / "tradelines.txt"
        m2_path.write_bytes(m2.metro2_file(records(n, seed)))
        from socialcredit.policy.model import load_policy

        rows = [r.data for r in metro2_rows(m2_path, load_policy(policy))]
        csv_path = root / "tradelines.csv"
        _csv(csv_path, rows)
        best: dict[str, float] = {}
        for i in range(repeat):  # alternate the order: neither pays the warm-up alone
            for fmt, path in ((("metro2", m2_path), ("csv", csv_path)) if i % 2 == 0
                              else (("csv", csv_path), ("metro2", m2_path))):
                folder = root / f"{fmt}-{i}"
                folder.mkdir()
                got, seconds = _ingest(folder, policy, path, fmt if fmt == "metro2" else None)
                assert got == len(rows), (fmt, got, len(rows))
                best[fmt] = min(best.get(fmt, seconds), seconds)
        m2_s, csv_s = best["metro2"], best["csv"]
        return {"records": n, "rows": len(rows), "repeat": repeat,
                "metro2_bytes": m2_path.stat().st_size, "csv_bytes": csv_path.stat().st_size,
                "metro2_seconds": round(m2_s, 2), "csv_seconds": round(csv_s, 2),
                "metro2_rows_per_s": round(len(rows) / m2_s), "csv_rows_per_s":
                round(len(rows) / csv_s), "metro2_over_csv": round(csv_s / m2_s, 3)}


def table(r: dict[str, Any]) -> str:
    return "\n".join([
        f"{r['records']:,} Metro 2 records → {r['rows']:,} rows "
        f"(Metro 2 {r['metro2_bytes']:,} bytes, CSV {r['csv_bytes']:,} bytes)",
        f"{'format':8} {'seconds':>8} {'rows/s':>8}   (fastest of {r['repeat']})",
        f"{'metro2':8} {r['metro2_seconds']:>8} {r['metro2_rows_per_s']:>8,}",
        f"{'csv':8} {r['csv_seconds']:>8} {r['csv_rows_per_s']:>8,}",
        f"Metro 2 ingests at {r['metro2_over_csv']:.2f}× the CSV rate",
    ])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=5000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=2,
                   help="ingests of each file (fresh registries, order alternating); the "
                        "fastest counts")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    result = run(args.records, args.seed, args.repeat)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
