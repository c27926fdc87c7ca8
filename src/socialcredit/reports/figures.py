"""The figures of a transparency report, read and checked from its summary.

The summary's shape is given in :mod:`socialcredit.web.report`. Lists and services come
in policy order (the default policy's names first, in the order below), then any others
alphabetically. Missing counts are read as 0; a count that is not a non-negative ``int``, or
an ``entries``/``decisions`` section that is not a mapping, raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

__all__ = [
    "DECISIONS",
    "ENTRY_STATES",
    "LIST_TITLES",
    "SERVICE_LABELS",
    "as_text",
    "count",
    "decision_rows",
    "entry_rows",
    "plain",
    "refusal_rate",
]

#: Entry states counted per list, in table order.
ENTRY_STATES: tuple[str, ...] = ("active", "pending_review", "removed", "expired")
#: Gate decisions counted per service, in table order.
DECISIONS: tuple[str, ...] = ("allow", "deny", "review")

#: Titles of the lists of the default policy; other lists are shown by their name.
LIST_TITLES: dict[str, str] = {
    "dishonest_judgment_debtors": "List of dishonest judgment debtors",
    "unruly_passengers": "Passengers restricted from civil flights",
    "ride_hail_low_rating": "Riders refused by a ride-hail platform for low ratings",
    "ofac_sdn": "OFAC Specially Designated Nationals (individuals)",
}

#: Labels of the services of the default policy; other services are shown by their name.
SERVICE_LABELS: dict[str, str] = {
    "air": "Civil aviation tickets",
    "rail_hsr": "High-speed rail tickets",
    "rail_first_class": "First-class and soft-sleeper rail seats",
    "hotel_star": "Star-rated hotels",
    "credit": "New loans and credit lines",
    "ride_hail": "Ride-hail trips",
}


def count(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"summary.{where}: expected a non-negative integer, got {value!r}")
    return value


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _section(summary: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = summary.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"summary.{key}: expected a mapping, got {type(value).__name__}")
    return value


def _ordered(keys: Iterable[str], canonical: Iterable[str]) -> list[str]:
    """Known names in policy order first, then any others alphabetically."""
    present = set(keys)
    known = [k for k in canonical if k in present]
    return known + sorted(present - set(known))


def entry_rows(summary: Mapping[str, Any], titles: Mapping[str, str]) -> list[dict[str, Any]]:
    entries = _section(summary, "entries")
    rows: list[dict[str, Any]] = []
    for key in _ordered(entries, LIST_TITLES):
        counts = entries[key]
        if not isinstance(counts, Mapping):
            raise ValueError(f"summary.entries.{key}: expected a mapping of counts")
        row: dict[str, Any] = {"key": key, "title": titles.get(key, key)}
        for state in ENTRY_STATES:
            row[state] = count(counts.get(state), f"entries.{key}.{state}")
        rows.append(row)
    return rows


def refusal_rate(deny: int, total: int) -> str:
    return f"{100 * deny / total:.1f}" if total else "—"


def decision_rows(summary: Mapping[str, Any], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    decisions = _section(summary, "decisions")
    rows: list[dict[str, Any]] = []
    for key in _ordered(decisions, SERVICE_LABELS):
        counts = decisions[key]
        if not isinstance(counts, Mapping):
            raise ValueError(f"summary.decisions.{key}: expected a mapping of counts")
        row: dict[str, Any] = {"key": key, "label": labels.get(key, key)}
        for decision in DECISIONS:
            row[decision] = count(counts.get(decision), f"decisions.{key}.{decision}")
        row["total"] = sum(row[d] for d in DECISIONS)
        row["refusal_rate"] = refusal_rate(row["deny"], row["total"])
        rows.append(row)
    return rows


def plain(value: Any) -> Any:
    """The summary as plain JSON types (mappings → dicts, tuples → lists, dates → ISO)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
