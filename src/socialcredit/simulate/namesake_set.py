"""The namesake stress set's shape: its furnishers, households, recycled numbers, and the set
itself with the files it writes (the furnisher CSVs and the ground truth).

:func:`socialcredit.simulate.namesakes.namesake_population` draws a :class:`NamesakeSet`; this
module holds what the drawing fills in and how it is written out, so the drawing reads on its
own (issue #18).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from socialcredit.simulate.population import Person
from socialcredit.simulate.records import FurnisherSpec, Row, write_rows

__all__ = [
    "NAMESAKE_FURNISHERS",
    "TRUTH_COLUMNS",
    "TRUTH_FILE",
    "Household",
    "NamesakeSet",
    "PhoneSpan",
    "Recycled",
]

TRUTH_FILE = "truth.csv"
TRUTH_COLUMNS = ("furnisher", "furnisher_record_id", "national_id", "person_id", "id_fault",
                 "must_list")


@dataclass(frozen=True, slots=True)
class _Spec(FurnisherSpec):
    """A furnisher spec whose CSV header also holds ``extra`` columns (after ``name``)."""

    extra: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        base = list(FurnisherSpec.columns.fget(self))  # type: ignore[attr-defined]
        at = base.index("name") + 1
        return tuple(base[:at] + list(self.extra) + base[at:])


#: The furnishers of the set, in ingest order; ``extra`` names the optional columns each sends
#: (the court and the bank know birth date and address, the payment app the birth date only).
NAMESAKE_FURNISHERS: tuple[FurnisherSpec, ...] = (
    _Spec("court-beijing-no1", "court", "csv", ("dishonesty_finding",), "BJ1",
          extra=("birth_date", "address")),
    _Spec("bank-icbc", "lender", "csv", ("loan_default",), "ICBC",
          extra=("birth_date", "address")),
    _Spec("pay-alipay", "payment", "csv", ("loan_default",), "ALI", extra=("birth_date",)),
    _Spec("ride-didi", "platform", "csv", ("ride_rating",), "DIDI"),
)


@dataclass(frozen=True, slots=True)
class PhoneSpan:
    """A household's number from ``valid_from`` to ``valid_to`` (both inclusive; None: open)."""

    number: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    def covers(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class Household:
    """People (indices into :attr:`NamesakeSet.people`) at one ``address`` sharing phones."""

    index: int
    address: str
    region_code: str
    members: tuple[int, ...]
    phones: tuple[PhoneSpan, ...]

    def phone_on(self, day: dt.date) -> str:
        """The household's number on ``day`` (its latest number if none covers the day)."""
        return next((p.number for p in self.phones if p.covers(day)), self.phones[-1].number)


@dataclass(frozen=True, slots=True)
class Recycled:
    """``number`` belonged to household ``first`` until ``until`` (inclusive), then to the
    unrelated household ``second`` from ``since``."""

    number: str
    first: int
    until: dt.date
    second: int
    since: dt.date


@dataclass
class NamesakeSet:
    """People, households and furnisher rows of the stress set, with the ground truth.

    ``records`` maps furnisher name → rows; ``truth`` maps (furnisher name,
    ``furnisher_record_id``) → the true person's national ID; ``faults`` the same keys →
    ``"typo"`` / ``"transposition"`` for rows whose national ID was garbled; ``must_list`` the
    national IDs that belong on ``dishonest_judgment_debtors``; ``twins`` pairs of person
    indices.  ``Person.phone`` is the household's number on ``as_of``.
    """

    as_of: dt.date
    people: list[Person]
    households: list[Household]
    household_of: list[int]
    twins: list[tuple[int, int]]
    recycled: list[Recycled]
    records: dict[str, list[Row]] = field(default_factory=dict)
    truth: dict[tuple[str, str], str] = field(default_factory=dict)
    faults: dict[tuple[str, str], str] = field(default_factory=dict)
    must_list: frozenset[str] = frozenset()

    def write(self, folder: Path, *, without: Collection[str] = ()
              ) -> list[tuple[str, str, Path]]:
        """Write ``<furnisher>.csv`` per furnisher (the optional columns named in ``without``,
        e.g. ``address`` for a registry that does not accept it, left out) and
        :data:`TRUTH_FILE` (columns :data:`TRUTH_COLUMNS`, never in a furnisher file) into
        ``folder``; return (furnisher name, furnisher kind, path) per furnisher file."""
        folder.mkdir(parents=True, exist_ok=True)
        out: list[tuple[str, str, Path]] = []
        for spec in NAMESAKE_FURNISHERS:
            if without and isinstance(spec, _Spec):
                spec = replace(spec, extra=tuple(c for c in spec.extra if c not in without))
            path = folder / spec.file
            write_rows(path, spec, self.records.get(spec.name, []))
            out.append((spec.name, spec.kind, path))
        person_of = {p.national_id: p.person_id for p in self.people}
        with (folder / TRUTH_FILE).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(TRUTH_COLUMNS)
            for (furnisher, frid), nid in sorted(self.truth.items()):
                writer.writerow((furnisher, frid, nid, person_of[nid],
                                 self.faults.get((furnisher, frid), ""),
                                 "true" if nid in self.must_list else "false"))
        return out
