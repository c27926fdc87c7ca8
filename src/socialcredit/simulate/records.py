"""Furnisher records: the registry's input contract, drafts and CSV / JSON Lines output.

Every row has ``furnisher_record_id`` (unique within the furnisher), ``kind``, ``occurred_at``
(ISO ``YYYY-MM-DD``), and identifies its subject by ``national_id`` (18-character CN resident
identity number), ``phone`` (E.164) and ``name`` (Han script); ``corrects`` names an earlier
``furnisher_record_id`` of the same furnisher that the row supersedes.  Required kind fields
are listed in :data:`KIND_FIELDS`, optional ones in :data:`OPTIONAL_FIELDS`.  Money is
``amount_minor``: an integer number of minor units (fen for ``CNY``) with an ISO 4217
``currency`` — never a float.

In CSV files the header is the union of the furnisher's columns, absent values are empty cells
and booleans are ``true``/``false``; in JSON Lines absent keys are omitted.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from socialcredit.simulate.population import Person

__all__ = [
    "COMMON_COLUMNS",
    "KIND_FIELDS",
    "OPTIONAL_FIELDS",
    "ORGANISATION_COLUMNS",
    "PHONE_SHARE",
    "Draft",
    "FurnisherSpec",
    "Row",
    "Value",
    "finalize",
    "phone_draft",
    "write_rows",
]

Value = str | int | bool
Row = dict[str, Value]

COMMON_COLUMNS: tuple[str, ...] = (
    "furnisher_record_id",
    "kind",
    "occurred_at",
    "national_id",
    "phone",
    "name",
    "corrects",
)
#: Required kind fields, in column order.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "court_judgment": ("case_number", "amount_minor", "currency"),
    "dishonesty_finding": ("case_number", "ground", "amount_minor", "currency"),
    "listing_extended": ("case_number", "years"),
    "listing_revoked": ("case_number",),
    "restriction_lifted": ("case_number", "service"),
    "judgment_performance": ("case_number", "amount_minor", "currency", "full"),
    "loan_default": ("loan_id", "amount_minor", "currency", "days_past_due"),
    "loan_repayment": ("loan_id", "amount_minor", "currency", "full"),
    "fare_evasion": ("service", "amount_minor", "currency"),
    "unruly_passenger": ("service", "conduct"),
    "ride_rating": ("rating", "trip_id"),
    "student_status": ("full_time",),
    "phone_registration": ("registration_id",),
    # a regulator's records about an organisation (issue #13): no person's identifier
    "organisation_registered": (),
    "organisation_status": ("status",),
    "representative_appointed": ("role", "representative_id"),
    "representative_ended": ("role", "representative_id"),
    "tax_credit_rating": ("rating_year", "grade"),
}
#: Optional kind fields (``until``: ISO date; ``years``: 1–3).
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "court_judgment": ("creditor",),
    "dishonesty_finding": ("debtor_role",),
    "restriction_lifted": ("until",),
    "loan_default": ("loan_purpose",),
    "organisation_registered": ("legal_form",),
    "representative_appointed": ("representative_name",),
}
#: Columns of a furnisher whose rows concern organisations only (a regulator): the
#: organisation's ``organisation_id`` (unified social credit code) and ``name``, no person's.
ORGANISATION_COLUMNS: tuple[str, ...] = (
    "furnisher_record_id",
    "kind",
    "occurred_at",
    "organisation_id",
    "name",
    "corrects",
)
#: Share of non-ride-hail records that carry the subject's ``phone`` beside ID and name.
PHONE_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class FurnisherSpec:
    """A furnisher: ``name`` (e.g. ``court-beijing-no1``), its ``kind`` (court, lender,
    payment, transport, platform, school, carrier, regulator), output ``fmt``, the record
    ``kinds`` it submits, its id prefix and the ``subjects`` its rows concern (``person``,
    ``organisation`` or both: a court hears enterprises' cases too)."""

    name: str
    kind: str
    fmt: Literal["csv", "jsonl"]
    kinds: tuple[str, ...]
    id_prefix: str
    subjects: tuple[str, ...] = ("person",)

    def __post_init__(self) -> None:
        # a spec that adds fields after ``subjects`` passes them by keyword: a positional
        # tuple landing here would silently give a furnisher of no one (ValueError instead)
        if not self.subjects or set(self.subjects) - {"person", "organisation"}:
            raise ValueError(f"furnisher {self.name}: subjects {self.subjects!r} must be "
                             "'person', 'organisation' or both")

    @property
    def file(self) -> str:
        """The file name, ``<name>.csv`` or ``<name>.jsonl``."""
        return f"{self.name}.{self.fmt}"

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV header: common columns (:data:`ORGANISATION_COLUMNS` for a furnisher of
        organisations only; ``organisation_id`` added for one of both), then every kind field
        of :attr:`kinds`."""
        if "person" not in self.subjects:
            cols = list(ORGANISATION_COLUMNS)
        else:
            cols = list(COMMON_COLUMNS)
            if "organisation" in self.subjects:
                cols.append("organisation_id")
        for kind in self.kinds:
            for name in KIND_FIELDS[kind] + OPTIONAL_FIELDS.get(kind, ()):
                if name not in cols:
                    cols.append(name)
        return tuple(cols)

    def record_id(self, number: int) -> str:
        """The ``furnisher_record_id`` of the ``number``-th row, e.g. ``ICBC-00000042``."""
        return f"{self.id_prefix}-{number:08d}"


@dataclass(eq=False, slots=True)
class Draft:
    """A record before ids are assigned: ``fields`` are the kind fields in column order."""

    kind: str
    occurred_at: dt.date
    person: Person
    fields: dict[str, Value]
    with_national_id: bool = True
    with_phone: bool = False
    with_name: bool = True
    corrects: Draft | None = None
    record_id: str = field(default="")


def phone_draft(
    rng: random.Random,
    kind: str,
    day: dt.date,
    person: Person,
    fields: dict[str, Value],
    corrects: Draft | None = None,
) -> Draft:
    """A draft with ID and name, and the phone with probability :data:`PHONE_SHARE`."""
    return Draft(
        kind, day, person, fields, with_phone=rng.random() < PHONE_SHARE, corrects=corrects
    )


def finalize(spec: FurnisherSpec, drafts: Iterable[Draft]) -> list[Row]:
    """Order drafts by ``occurred_at`` (stable: a correction follows what it corrects), assign
    ``furnisher_record_id``s and return the rows (absent keys omitted)."""
    ordered = sorted(drafts, key=lambda d: d.occurred_at)
    rows: list[Row] = []
    for number, draft in enumerate(ordered, start=1):
        draft.record_id = spec.record_id(number)
        row: Row = {
            "furnisher_record_id": draft.record_id,
            "kind": draft.kind,
            "occurred_at": draft.occurred_at.isoformat(),
        }
        if draft.with_national_id:
            row["national_id"] = draft.person.national_id
        if draft.with_phone:
            row["phone"] = draft.person.phone
        if draft.with_name:
            row["name"] = draft.person.name
        if draft.corrects is not None:
            if not draft.corrects.record_id:
                raise ValueError("a correction must follow the record it corrects")
            row["corrects"] = draft.corrects.record_id
        row.update(draft.fields)
        rows.append(row)
    return rows


def _cell(value: Value | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_rows(path: Path, spec: FurnisherSpec, rows: Sequence[Row]) -> None:
    """Write ``rows`` to ``path`` as CSV (header :attr:`FurnisherSpec.columns`) or JSON Lines
    (one compact UTF-8 object per line), following ``spec.fmt``."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        if spec.fmt == "csv":
            columns = spec.columns
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(columns)
            writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
        else:
            encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
            fh.writelines(encode(row) + "\n" for row in rows)
