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
import random
from collections.abc import Sequence

from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, Value

__all__ = [
    "LOW_RATED_BOTH_SHARE",
    "LOW_RATED_RIDER_SHARE",
    "PLATFORMS",
    "RIDER_SHARE",
    "generate_ride_hail",
]

#: Platform furnisher names and their trip id prefixes.
PLATFORMS: dict[str, str] = {"ride-didi": "DD", "ride-caocao": "CC"}
RIDER_SHARE = 0.10
CAOCAO_ONLY_SHARE = 0.07
BOTH_SHARE = 0.05
LOW_RATED_RIDER_SHARE = 0.009
LOW_RATED_BOTH_SHARE = 0.3
VERIFIED_SHARE = 0.7
_RATING_CUM_NORMAL = (0.01, 0.02, 0.05, 0.22, 1.0)
_RATING_CUM_LOW = (0.25, 0.5, 0.75, 0.9, 1.0)


def generate_ride_hail(
    rng: random.Random, people: Sequence[Person], as_of: dt.date
) -> tuple[dict[str, list[Draft]], dict[str, list[Person]]]:
    """Driver ratings of riders per platform, and each platform's riders in random order."""
    drafts: dict[str, list[Draft]] = {p: [] for p in PLATFORMS}
    riders: dict[str, list[Person]] = {p: [] for p in PLATFORMS}
    n = len(people)
    window = [as_of - dt.timedelta(days=d) for d in range(365)]
    trips = dict.fromkeys(PLATFORMS, 0)
    for rider in (people[i] for i in rng.sample(range(n), round(n * RIDER_SHARE))):
        low = rng.random() < LOW_RATED_RIDER_SHARE
        cum = _RATING_CUM_LOW if low else _RATING_CUM_NORMAL
        r = rng.random()
        both = LOW_RATED_BOTH_SHARE if low else BOTH_SHARE
        counts = (
            {"ride-didi": rng.randint(3, 20), "ride-caocao": rng.randint(3, 12)}
            if r < both
            else {"ride-caocao": rng.randint(3, 30)}
            if r < both + CAOCAO_ONLY_SHARE
            else {"ride-didi": rng.randint(3, 30)}
        )
        for platform, count in counts.items():
            riders[platform].append(rider)
            verified = rng.random() < VERIFIED_SHARE
            prefix = PLATFORMS[platform]
            for rating in rng.choices((1, 2, 3, 4, 5), cum_weights=cum, k=count):
                day = window[rng.randrange(365)]
                trips[platform] += rng.randint(1, 500)
                fields: dict[str, Value] = {
                    "rating": rating,
                    "trip_id": f"{prefix}{day.year}{day.month:02d}{day.day:02d}"
                    f"{trips[platform]:010d}",
                }
                drafts[platform].append(
                    Draft(
                        "ride_rating",
                        day,
                        rider,
                        fields,
                        with_national_id=verified,
                        with_phone=True,
                        with_name=verified,
                    )
                )
    return drafts, riders
