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
existing riders.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from socialcredit.simulate.population import Person

__all__ = [
    "CAOCAO_TRIP_SHARE",
    "LISTED_PROPENSITY",
    "SERVICE_WEIGHTS",
    "TICKET_COLUMNS",
    "TICKETS_PER_PERSON",
    "write_tickets",
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


def write_tickets(
    path: Path,
    rng: random.Random,
    people: Sequence[Person],
    listed: Collection[int],
    riders: Mapping[str, Sequence[Person]],
) -> int:
    """Write ``tickets.csv`` for ``people`` (``listed``: indices of actively listed people;
    ``riders``: each platform's riders) and return the number of rows."""
    count = round(len(people) * TICKETS_PER_PERSON)
    cum = list(
        itertools.accumulate(LISTED_PROPENSITY if p.index in listed else 1.0 for p in people)
    )
    buyers = rng.choices(people, cum_weights=cum, k=count)
    services = rng.choices(
        [s for s, _ in SERVICE_WEIGHTS], weights=[w for _, w in SERVICE_WEIGHTS], k=count
    )
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TICKET_COLUMNS)
        for buyer, service in zip(buyers, services, strict=True):
            if service == "ride_hail":
                platform = "ride-caocao" if rng.random() < CAOCAO_TRIP_SHARE else "ride-didi"
                own = riders.get(platform)
                if own and rng.random() < RIDER_SHARE_OF_TRIPS:
                    buyer = rng.choice(own)
                writer.writerow((service, "", buyer.phone, platform))
            else:
                phone = buyer.phone if rng.random() < PHONE_SHARE else ""
                writer.writerow((service, buyer.national_id, phone, ""))
    return count
