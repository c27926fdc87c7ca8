"""Benchmark: one day of national ticket checks against the national gate index (early 2019).

    python bench/national_day.py [--checks 17000000] [--listed 13490000] [--air-share 0.22]
                                 [--listed-share-air 0.004] [--pool 3000000] [--seed 2019] [--json]

Builds the index of ``bench/gate_national.py`` (its generation code, imported), then replays
``--checks`` ticket checks through ``encode_cn_ids`` + ``DecisionService.decide_codes`` in batches
of 10,000, one service per batch (a flight's or a train's manifest): 78 % ``rail_hsr``, 22 %
``air``, batches in random order. Buyers are drawn with replacement: listed people from the
13.49 M, everyone else from a pool of ``--pool`` valid IDs that are not listed.

Listed share among buyers. The listed are 13.49 M / 1.4 B = 0.96 % of the population but buy
fewer tickets (they know they will be refused). One share for both services would give refusals
in the ratio of the checks (22 : 78), while the seed reports 20.47 M flight and 5.71 M
high-speed-rail refusals (3.58 : 1). So the share is set per service:
``share_air = --listed-share-air`` (default 0.40 %, about 0.4 × the population rate) and
``share_rail = share_air × (5.71 / 20.47) × (22 / 78)`` (0.031 %), which reproduces the seed's
ratio; with 17 M checks that is about 15,000 flight and 4,200 rail refusals a day, i.e. the seed's
totals in about 3.7 years, roughly the time the restrictions had been enforced by early 2019.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from socialcredit.gate import DecisionService
from socialcredit.gate.codes import encode_cn_ids

SEED_FLIGHTS, SEED_RAIL, SEED_LISTED = 20_470_000, 5_710_000, 13_490_000
POPULATION = 1_400_000_000


def _load_gate_national() -> ModuleType:
    """bench/ is not a package: load gate_national.py from beside this file."""
    spec = importlib.util.spec_from_file_location(
        "gate_national", Path(__file__).resolve().with_name("gate_national.py"))
    if spec is None or spec.loader is None:
        raise ImportError("bench/gate_national.py not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gate_national"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gn = _load_gate_national()


def shares(air_share: float, listed_share_air: float) -> dict[str, float]:
    """Listed share among the buyers of each service, reproducing the seed's refusal ratio."""
    rail = listed_share_air * (SEED_RAIL / SEED_FLIGHTS) * (air_share / (1 - air_share))
    return {"air": listed_share_air, "rail_hsr": rail}


def replay(nat: Any, checks: int, air_share: float, share: dict[str, float], seed: int,
           ) -> dict[str, Any]:
    """Replay the day; time only ``encode_cn_ids`` + ``decide_codes`` (not drawing buyers)."""
    rng = np.random.default_rng(seed + 7)
    svc = DecisionService(nat.index, today=gn.TODAY)
    n_air = round(checks * air_share)
    plan = [(svc_name, min(gn.BATCH, total - i)) for svc_name, total in
            (("air", n_air), ("rail_hsr", checks - n_air)) for i in range(0, total, gn.BATCH)]
    order = rng.permutation(len(plan))
    checked = {"air": 0, "rail_hsr": 0}
    refused, drawn = dict(checked), dict(checked)
    busy, t_wall = 0.0, time.perf_counter()
    for k in order:
        service, size = plan[k]
        n_listed = int(rng.binomial(size, share[service]))
        ids = np.concatenate([nat.listed[rng.integers(0, len(nat.listed), n_listed)],
                              nat.others[rng.integers(0, len(nat.others), size - n_listed)]])
        ids = ids[rng.permutation(size)]
        t0 = time.perf_counter()
        codes, _ = encode_cn_ids(ids)
        outcomes = svc.decide_codes(service=service, codes=codes).outcomes
        busy += time.perf_counter() - t0
        checked[service] += size
        refused[service] += int(np.count_nonzero(outcomes == 1))
        drawn[service] += n_listed
    return {"checked": checked, "refused": refused, "listed_buyers": drawn, "batches": len(plan),
            "seconds": busy, "wall_s": time.perf_counter() - t_wall,
            "checks_per_s": checks / busy, "counts": {f"{s}/{o}": n for (s, o), n in
                                                      sorted(svc.counts.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checks", type=int, default=17_000_000)
    ap.add_argument("--listed", type=int, default=SEED_LISTED)
    ap.add_argument("--air-share", type=float, default=0.22, help="share of checks for air")
    ap.add_argument("--listed-share-air", type=float, default=0.004,
                    help="listed share among air buyers; rail follows from the seed's ratio")
    ap.add_argument("--pool", type=int, default=3_000_000, help="valid unlisted IDs to draw from")
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    share, t_start = shares(a.air_share, a.listed_share_air), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        nat = gn.build_national(a.listed, a.pool, a.seed, tmp)
        gn.say(f"replaying {a.checks:,} checks")
        out: dict[str, Any] = {"listed": a.listed, "listed_share": share,
                               "population_share": a.listed / POPULATION, **nat.figures}
        out |= replay(nat, a.checks, a.air_share, share, a.seed)
        nat.index.store.dispose()
    out["peak_rss_end"], out["total_s"] = gn.peak_rss(), time.perf_counter() - t_start
    if out["refused"] != out["listed_buyers"]:  # every listed person is refused both services
        gn.say(f"MISMATCH: refused {out['refused']}, listed buyers {out['listed_buyers']}")
    if a.json:
        print(json.dumps(out))
        return
    r, c, mb = out["refused"], out["checked"], 1 << 20
    print(f"national day, {gn.TODAY.isoformat()}: {a.checks:,} ticket checks ({c['rail_hsr']:,} "
          f"high-speed rail, {c['air']:,} air) in {out['batches']:,} batches of up to "
          f"{gn.BATCH:,} against {a.listed:,} listed people")
    print(f"listed share among buyers: air {share['air']:.3%}, high-speed rail "
          f"{share['rail_hsr']:.4%} (of the population: {out['population_share']:.2%})")
    print(f"{r['air']:,} flight tickets and {r['rail_hsr']:,} high-speed-rail tickets refused "
          f"(ratio {r['air'] / max(r['rail_hsr'], 1):.2f} : 1; seed "
          f"{SEED_FLIGHTS / SEED_RAIL:.2f} : 1; at this rate the seed's totals take "
          f"{SEED_FLIGHTS / max(r['air'], 1) / 365:.1f} (air) and "
          f"{SEED_RAIL / max(r['rail_hsr'], 1) / 365:.1f} (rail) years)")
    print(f"{out['seconds']:.1f} s deciding (encode_cn_ids + decide_codes), "
          f"{out['checks_per_s']:,.0f} checks/s; replay wall {out['wall_s']:.1f} s with drawing "
          f"the buyers; build {out['build_s']:.1f} s, generating the IDs {out['generate_s']:.1f} s;"
          f" {out['total_s']:.0f} s in all")
    print(f"peak RSS after build {out['peak_rss_after_build'] / mb:,.0f} MB, at end "
          f"{out['peak_rss_end'] / mb:,.0f} MB; table.nbytes {out['table_nbytes'] / mb:,.0f} MB")


if __name__ == "__main__":
    main()
