"""Deliberately broken rows, so that ingestion's validation and de-duplication are exercised.

A fraction ``rate`` of the rows of each window of a file (rounded stochastically, see
:mod:`socialcredit.simulate.spool`) is added as broken copies of good rows of the window,
cycling over :data:`FAULTS` across all files so every kind of fault appears:

* ``bad_check_character`` — ``national_id`` with a wrong ISO 7064 MOD 11-2 check character;
* ``impossible_date`` — ``occurred_at`` such as ``2023-02-30`` or ``2023-13-01``;
* ``negative_amount`` — ``amount_minor`` below zero;
* ``unknown_kind`` — a ``kind`` outside the catalogue (e.g. ``social_media_post``);
* ``missing_required`` — one required kind field absent (empty CSV cell / omitted JSON key;
  only rows of a kind that has one);
* ``duplicate_row`` — an exact copy of an earlier row of the same file (same record id).

Broken copies other than duplicates get fresh ``furnisher_record_id``s and no ``corrects``;
each broken row has exactly one fault, and good rows are never altered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.identifiers import with_wrong_check
from socialcredit.simulate.records import KIND_FIELDS, FurnisherSpec, Row

__all__ = ["FAULTS", "UNKNOWN_KINDS", "FaultCursor", "inject_table_faults"]

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


def _pick(rng: random.Random, n: int, fault: str, has: dict[str, np.ndarray]) -> int | None:
    """A random row index the fault applies to (a row with a ``national_id`` for a wrong check
    character, with an ``amount_minor`` for a negative amount, of a kind with a required field
    for a missing one), or None after 20 tries."""
    need = {"bad_check_character": "national_id", "negative_amount": "amount_minor",
            "missing_required": "_required"}.get(fault)
    for _ in range(20):
        i = rng.randrange(n)
        if need is None or has[need][i]:
            return i
    return None


def inject_table_faults(
    rng: random.Random,
    spec: FurnisherSpec,
    table: pa.Table,
    rate: float,
    cursor: FaultCursor,
    number: int,
) -> tuple[pa.Table, int, int]:
    """Mix broken copies of ``table``'s rows (columns :attr:`FurnisherSpec.columns`) into it.

    A fraction ``rate`` of the rows (rounded stochastically) is added; broken copies other than
    duplicates are numbered from ``number + 1``.  Returns the table, the number of broken rows
    and the last number used."""
    n = table.num_rows
    if n == 0 or rate <= 0:
        return table, 0, number
    wanted = int(n * rate + rng.random())
    has = {
        name: (table[name].is_valid().to_numpy(zero_copy_only=False)
               if name in table.column_names else np.zeros(n, bool))
        for name in ("national_id", "amount_minor")
    }
    has["_required"] = pc.is_in(table["kind"], value_set=pa.array(
        [k for k, fields in KIND_FIELDS.items() if fields])).to_numpy(zero_copy_only=False)
    picks: list[tuple[int, str, int]] = []  # (insert before this good row, fault, source row)
    for _ in range(wanted):
        src: int | None = None
        for _attempt in range(len(FAULTS)):
            fault = cursor.next()
            src = _pick(rng, n, fault, has)
            if src is not None:
                break
        if src is None:
            continue
        if fault == "duplicate_row":
            at = rng.randint(src + 1, min(n, src + 50))
        else:
            at = rng.randint(0, n)
        picks.append((at, fault, src))
    if not picks:
        return table, 0, number
    bad_rows: list[Row] = []
    copies = table.take(pa.array([src for _, _, src in picks])).to_pylist()
    for (_, fault, _), copy in zip(picks, copies, strict=True):
        bad: Row = {k: v for k, v in copy.items() if v is not None}
        if fault != "duplicate_row":
            number += 1
            bad["furnisher_record_id"] = spec.record_id(number)
            bad.pop("corrects", None)
            _break(fault, rng, bad)
        bad_rows.append(bad)
    keys = np.concatenate([np.arange(n) * 2 + 1, np.array([at for at, _, _ in picks]) * 2])
    order = np.argsort(keys, kind="stable")
    merged = pa.concat_tables([table, pa.Table.from_pylist(bad_rows, schema=table.schema)])
    return merged.take(pa.array(order)), len(picks), number
