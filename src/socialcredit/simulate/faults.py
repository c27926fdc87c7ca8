"""Deliberately broken rows, so that ingestion's validation and de-duplication are exercised.

A fraction ``rate`` of each file's rows (rounded stochastically) is added as broken copies of
good rows, cycling over :data:`FAULTS` across all files so every kind of fault appears:

* ``bad_check_character`` — ``national_id`` with a wrong ISO 7064 MOD 11-2 check character;
* ``impossible_date`` — ``occurred_at`` such as ``2023-02-30`` or ``2023-13-01``;
* ``negative_amount`` — ``amount_minor`` below zero;
* ``unknown_kind`` — a ``kind`` outside the catalogue (e.g. ``social_media_post``);
* ``missing_required`` — one required kind field absent (empty CSV cell / omitted JSON key);
* ``duplicate_row`` — an exact copy of an earlier row of the same file (same record id).

Broken copies other than duplicates get fresh ``furnisher_record_id``s and no ``corrects``;
each broken row has exactly one fault, and good rows are never altered.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from socialcredit.simulate.identifiers import with_wrong_check
from socialcredit.simulate.records import KIND_FIELDS, FurnisherSpec, Row

__all__ = ["FAULTS", "UNKNOWN_KINDS", "FaultCursor", "inject_faults"]

FAULTS: tuple[str, ...] = (
    "bad_check_character",
    "impossible_date",
    "negative_amount",
    "unknown_kind",
    "missing_required",
    "duplicate_row",
)
UNKNOWN_KINDS: tuple[str, ...] = ("social_media_post", "jaywalking", "online_rumour")
_BAD_DAYS = ("02-30", "02-31", "04-31", "06-31", "09-31", "11-31", "13-01", "00-15")


@dataclass
class FaultCursor:
    """Position in the :data:`FAULTS` cycle, shared across files."""

    position: int = 0

    def next(self) -> str:
        """Return the next fault kind and advance."""
        fault = FAULTS[self.position % len(FAULTS)]
        self.position += 1
        return fault


def _applies(fault: str, row: Row) -> bool:
    if fault == "bad_check_character":
        return "national_id" in row
    if fault == "negative_amount":
        return "amount_minor" in row
    return True


def _break(fault: str, rng: random.Random, bad: Row) -> None:
    if fault == "bad_check_character":
        bad["national_id"] = with_wrong_check(rng, str(bad["national_id"]))
    elif fault == "impossible_date":
        bad["occurred_at"] = f"{str(bad['occurred_at'])[:4]}-{rng.choice(_BAD_DAYS)}"
    elif fault == "negative_amount":
        bad["amount_minor"] = -max(1, abs(int(bad["amount_minor"])))
    elif fault == "unknown_kind":
        bad["kind"] = rng.choice(UNKNOWN_KINDS)
    elif fault == "missing_required":
        del bad[rng.choice(KIND_FIELDS[str(bad["kind"])])]


def _pick(rng: random.Random, rows: Sequence[Row], fault: str) -> int | None:
    for _ in range(20):
        i = rng.randrange(len(rows))
        if _applies(fault, rows[i]):
            return i
    return None


def inject_faults(
    rng: random.Random,
    spec: FurnisherSpec,
    rows: Sequence[Row],
    rate: float,
    cursor: FaultCursor,
) -> tuple[list[Row], int]:
    """Return ``rows`` with broken rows mixed in, and the number of broken rows."""
    if not rows or rate <= 0:
        return list(rows), 0
    wanted = int(len(rows) * rate + rng.random())
    inserts: list[tuple[int, Row]] = []  # (insert before this good row index, bad row)
    number = len(rows)
    for _ in range(wanted):
        src: int | None = None
        for _attempt in range(len(FAULTS)):
            fault = cursor.next()
            src = _pick(rng, rows, fault)
            if src is not None:
                break
        if src is None:
            continue
        if fault == "duplicate_row":
            inserts.append((rng.randint(src + 1, min(len(rows), src + 50)), dict(rows[src])))
            continue
        bad = dict(rows[src])
        number += 1
        bad["furnisher_record_id"] = spec.record_id(number)
        bad.pop("corrects", None)
        _break(fault, rng, bad)
        inserts.append((rng.randint(0, len(rows)), bad))
    inserts.sort(key=lambda item: item[0])
    out: list[Row] = []
    j = 0
    for i, row in enumerate(rows):
        while j < len(inserts) and inserts[j][0] == i:
            out.append(inserts[j][1])
            j += 1
        out.append(row)
    out.extend(bad for _, bad in inserts[j:])
    return out, len(inserts)
