"""Ride-hail platforms: drivers' ratings of riders on ``ride-didi`` and ``ride-caocao``.

Figures (sources / assumptions):

* :data:`RIDER_SHARE` (10 %) of people ride; of the riders 88 % use ``ride-didi`` only, 7 %
  ``ride-caocao`` only and 5 % both (assumption: Didi carries most ride-hail orders in China,
  Caocao is one of the smaller platforms);
* a rider has 3–30 rated trips on a platform (3–20 and 3–12 for riders of both) within the last
  365 days (the catalogue's retention for ride ratings); ratings are mostly 4–5 and about 1 %
  of riders (:data:`LOW_RATED_RIDER_SHARE`) are rated low on every platform they use, averaging
  below 3.5;
* :data:`LOW_RATED_BOTH_SHARE` (30 %) of low-rated riders ride with both platforms (assumption:
  riders refused by one platform move to another, which is what the industry's safety-sharing
  agreement answers);
* 70 % of riders have verified their national id with a platform (then rows carry it and the
  name); every row carries the phone the rider signed up with.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.people import PeopleBlock

__all__ = [
    "LOW_RATED_BOTH_SHARE",
    "LOW_RATED_RIDER_SHARE",
    "PLATFORMS",
    "RIDER_SHARE",
    "ride_block",
]

#: Platform furnisher names and their trip id prefixes.
PLATFORMS: dict[str, str] = {"ride-didi": "DD", "ride-caocao": "CC"}
RIDER_SHARE = 0.10
CAOCAO_ONLY_SHARE = 0.07
BOTH_SHARE = 0.05
LOW_RATED_RIDER_SHARE = 0.009
LOW_RATED_BOTH_SHARE = 0.3
VERIFIED_SHARE = 0.7
_RATING_CUM_NORMAL = np.array((0.01, 0.02, 0.05, 0.22, 1.0))
_RATING_CUM_LOW = np.array((0.25, 0.5, 0.75, 0.9, 1.0))
_EPOCH = dt.date(1970, 1, 1)


def ride_block(
    rng: np.random.Generator, block: PeopleBlock, as_of: dt.date, trips: dict[str, int]
) -> tuple[dict[str, dict[str, pa.Array]], dict[str, np.ndarray]]:
    """Driver ratings of riders per platform (spool columns, see
    :mod:`socialcredit.simulate.spool`) and each platform's riders (block indices, in random
    order).  ``trips`` holds each platform's last trip number and is advanced, so trip ids
    stay unique across blocks."""
    n = len(block)
    riders = rng.choice(n, round(n * RIDER_SHARE), replace=False)
    k = len(riders)
    low = rng.random(k) < LOW_RATED_RIDER_SHARE
    r = rng.random(k)
    both_share = np.where(low, LOW_RATED_BOTH_SHARE, BOTH_SHARE)
    both = r < both_share
    caocao_only = ~both & (r < both_share + CAOCAO_ONLY_SHARE)
    counts = {
        "ride-didi": np.where(
            both, rng.integers(3, 21, k), np.where(caocao_only, 0, rng.integers(3, 31, k))
        ),
        "ride-caocao": np.where(
            both, rng.integers(3, 13, k), np.where(caocao_only, rng.integers(3, 31, k), 0)
        ),
    }
    today = (as_of - _EPOCH).days
    rows: dict[str, dict[str, pa.Array]] = {}
    users: dict[str, np.ndarray] = {}
    for platform, prefix in PLATFORMS.items():
        uses = counts[platform] > 0
        who, count = riders[uses], counts[platform][uses]
        users[platform] = who
        verified = np.repeat(rng.random(len(who)) < VERIFIED_SHARE, count)
        person = pa.array(np.repeat(who, count))
        m = int(count.sum())
        cum = np.where(np.repeat(low[uses], count)[:, None], _RATING_CUM_LOW, _RATING_CUM_NORMAL)
        rating = (rng.random(m)[:, None] >= cum).sum(axis=1) + 1
        days = today - rng.integers(0, 365, m)
        trip = trips[platform] + np.cumsum(rng.integers(1, 501, m))
        if m:
            trips[platform] = int(trip[-1])
        iso = pc.cast(pa.array(days.astype(np.int32), pa.date32()), pa.string())
        trip_id = pc.binary_join_element_wise(
            prefix,
            pc.replace_substring(iso, "-", ""),
            pc.utf8_lpad(pc.cast(pa.array(trip), pa.string()), 10, "0"),
            "",
        )
        shown = pa.array(verified)
        rows[platform] = {
            "_day": pa.array(days.astype(np.int32)),
            "_key": pa.array((block.index << 32) + np.arange(m)),
            "kind": pa.array(["ride_rating"] * m),
            "occurred_at": iso,
            "national_id": pc.if_else(shown, block.national_id.take(person), None),
            "phone": block.phone.take(person),
            "name": pc.if_else(shown, block.name.take(person), None),
            "rating": pa.array(rating),
            "trip_id": trip_id,
        }
    return rows, users
