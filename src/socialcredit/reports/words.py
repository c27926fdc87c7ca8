"""The headline of a transparency report: its figures in words, as a news report would put them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from socialcredit.reports.figures import (
    LIST_TITLES,
    SERVICE_LABELS,
    as_text,
    decision_rows,
    entry_rows,
)

__all__ = ["headline"]

# What follows the number in the headline: (singular, plural).
_LIST_PHRASES: dict[str, tuple[str, str]] = {
    "dishonest_judgment_debtors": (
        "person listed as a dishonest judgment debtor",
        "people listed as dishonest judgment debtors",
    ),
    "unruly_passengers": (
        "passenger restricted from civil flights",
        "passengers restricted from civil flights",
    ),
    "ride_hail_low_rating": (
        "rider refused by a ride-hail platform for low ratings",
        "riders refused by a ride-hail platform for low ratings",
    ),
    "ofac_sdn": (
        "person on the OFAC Specially Designated Nationals list",
        "people on the OFAC Specially Designated Nationals list",
    ),
}

_SERVICE_NOUNS: dict[str, tuple[str, str]] = {
    "air": ("flight ticket", "flight tickets"),
    "rail_hsr": ("high-speed-rail ticket", "high-speed-rail tickets"),
    "rail_first_class": ("first-class rail seat", "first-class rail seats"),
    "hotel_star": ("star-rated hotel booking", "star-rated hotel bookings"),
    "credit": ("loan or credit line", "loans or credit lines"),
    "ride_hail": ("ride-hail trip", "ride-hail trips"),
}


def _join_and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _plural(n: int, forms: tuple[str, str]) -> str:
    return f"{n:,} {forms[0] if n == 1 else forms[1]}"


def headline(summary: Mapping[str, Any], *, list_titles: Mapping[str, str] | None = None) -> str:
    """The figures in words, as a news report would put them.

    ``"As of 2026-11-29: 1,234 people listed as dishonest judgment debtors; 56 passengers
    restricted from civil flights; 310 flight tickets and 95 high-speed-rail tickets refused;
    4 requests referred for review."``

    Lists with no active entry and services with no refusal are left out; with nothing listed
    and nothing refused it says so. People are counted from ``listed_people`` when the summary
    has it (one person may hold several entries), else from the active entries; organisations
    from ``listed_organisations``, apart; red lists (``incentives``) are never counted as
    listed: their subjects granted incentives are counted apart.
    """
    titles = {**LIST_TITLES, **(list_titles or {})}
    people = summary.get("listed_people") or {}
    organisations = summary.get("listed_organisations") or {}
    incentives = summary.get("incentives") or {}
    parts: list[str] = []
    for row in entry_rows(summary, titles):
        if row["key"] in incentives:  # a red list lists no one: its entries earn benefits
            continue
        if row["key"] in people and organisations.get(row["key"]):
            # organisations are not people: counted apart (issue #13)
            if people[row["key"]]:
                forms = _LIST_PHRASES.get(row["key"], (
                    f"person on the list “{row['title']}”",
                    f"people on the list “{row['title']}”"))
                parts.append(_plural(int(people[row["key"]]), forms))
            parts.append(_plural(int(organisations[row["key"]]), (
                f"enterprise on the list “{row['title']}”",
                f"enterprises on the list “{row['title']}”")))
            continue
        if row["active"]:
            forms = _LIST_PHRASES.get(
                row["key"],
                (f"person on the list “{row['title']}”", f"people on the list “{row['title']}”"),
            )
            parts.append(_plural(int(people.get(row["key"], row["active"])), forms))
    if not parts:
        parts.append("no one listed")
    granted = sum(int(n.get("granted", 0)) for n in incentives.values())
    if granted:
        parts.append(_plural(granted, ("subject granted incentives on a red list",
                                       "subjects granted incentives on a red list")))

    decisions = decision_rows(summary, SERVICE_LABELS)
    refused = [
        _plural(
            row["deny"],
            _SERVICE_NOUNS.get(
                row["key"], (f"request for {row['key']}", f"requests for {row['key']}")
            ),
        )
        for row in decisions
        if row["deny"]
    ]
    parts.append(_join_and(refused) + " refused" if refused else "no ticket or service refused")
    reviews = sum(row["review"] for row in decisions)
    if reviews:
        parts.append(_plural(reviews, ("request", "requests")) + " referred for review")

    as_of = as_text(summary.get("as_of"))
    lead = f"As of {as_of}: " if as_of else ""
    return lead + "; ".join(parts) + "."
