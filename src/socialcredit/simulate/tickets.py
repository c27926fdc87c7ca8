"""One day of ticket purchases to replay through the service gates.

``tickets.csv`` columns: ``service`` (``air``, ``rail_hsr``, ``hotel_star``, ``ride_hail``),
``national_id``, ``phone`` (E.164) and ``platform`` (``ride-didi`` or ``ride-caocao`` for
``ride_hail``, else empty).  About 0.3 purchases per person per day; rail_hsr is the most
common service, then air (illustrative mix in :data:`SERVICE_WEIGHTS`).  Real-name ticketing
identifies air, rail and hotel buyers by ``national_id`` (``phone`` given 60 % of the time);
ride-hail rows carry the ``phone`` only.  People with an active dishonesty finding buy
:data:`LISTED_PROPENSITY` times as often as others, so refusals are visible.  A ride-hail trip
is on ``ride-caocao`` with probability :data:`CAOCAO_TRIP_SHARE` (about its share of riders, see
:mod:`socialcredit.simulate.ride`), else on ``ride-didi``; 80 % of trips are by that platform's
existing riders.  Purchases are drawn a block of people at a time (about 0.3 per person of
the block), in random order within the block.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.people import PeopleBlock

__all__ = [
    "CAOCAO_TRIP_SHARE",
    "LISTED_PROPENSITY",
    "SERVICE_WEIGHTS",
    "TICKET_COLUMNS",
    "TICKETS_PER_PERSON",
    "tickets_block",
]

TICKET_COLUMNS = ("service", "national_id", "phone", "platform")
TICKETS_PER_PERSON = 0.3
LISTED_PROPENSITY = 5.0
SERVICE_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("rail_hsr", 0.50),
    ("air", 0.22),
    ("hotel_star", 0.16),
    ("ride_hail", 0.12),
)
PHONE_SHARE = 0.6
RIDER_SHARE_OF_TRIPS = 0.8
CAOCAO_TRIP_SHARE = 0.12
_RIDE = next(i for i, (s, _) in enumerate(SERVICE_WEIGHTS) if s == "ride_hail")
_PLATFORMS = ("ride-didi", "ride-caocao")


def tickets_block(
    rng: np.random.Generator,
    block: PeopleBlock,
    listed: np.ndarray,
    riders: Mapping[str, np.ndarray],
) -> pa.Table:
    """The purchases of ``block`` (columns :data:`TICKET_COLUMNS`, absent values empty):
    ``listed`` is a boolean mask of the actively listed people, ``riders`` each platform's
    riders (block indices)."""
    n = len(block)
    count = round(n * TICKETS_PER_PERSON)
    weights = np.where(listed, LISTED_PROPENSITY, 1.0)
    buyers = rng.choice(n, count, p=weights / weights.sum())
    shares = np.array([w for _, w in SERVICE_WEIGHTS])
    service = rng.choice(len(shares), count, p=shares / shares.sum())
    ride = service == _RIDE
    caocao = rng.random(count) < CAOCAO_TRIP_SHARE
    own = rng.random(count) < RIDER_SHARE_OF_TRIPS
    for i, platform in enumerate(_PLATFORMS):
        pool = riders.get(platform, np.empty(0, np.int64))
        mask = ride & (caocao == bool(i)) & own
        if len(pool) and mask.any():
            buyers[mask] = pool[rng.integers(0, len(pool), int(mask.sum()))]
    shown = ride | (rng.random(count) < PHONE_SHARE)
    who = pa.array(buyers)
    is_ride = pa.array(ride)
    return pa.table({
        "service": pc.take(pa.array([s for s, _ in SERVICE_WEIGHTS]), pa.array(service)),
        "national_id": pc.if_else(is_ride, "", block.national_id.take(who)),
        "phone": pc.if_else(pa.array(shown), block.phone.take(who), ""),
        "platform": pc.if_else(
            is_ride, pc.take(pa.array(_PLATFORMS), pa.array(caocao.astype(np.int8))), ""
        ),
    })
