"""``simulate()``: write a synthetic population, furnisher files, tickets and a manifest."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from socialcredit.simulate.courts import generate_courts
from socialcredit.simulate.faults import FaultCursor, inject_faults
from socialcredit.simulate.furnishers import FURNISHERS, generate_transport
from socialcredit.simulate.lenders import generate_lenders
from socialcredit.simulate.population import generate_population, write_population
from socialcredit.simulate.records import Draft, finalize, write_rows
from socialcredit.simulate.ride import generate_ride_hail
from socialcredit.simulate.school import SCHOOL, generate_school
from socialcredit.simulate.tickets import write_tickets

__all__ = ["FurnisherFile", "SimulationManifest", "simulate"]

MANIFEST_FILE = "manifest.json"
POPULATION_FILE = "population.csv"
TICKETS_FILE = "tickets.csv"


class FurnisherFile(BaseModel):
    """One furnisher's file: ``rows`` counts every data row (header excluded) including the
    ``bad_rows`` deliberately broken ones."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    file: str
    rows: int
    bad_rows: int


class SimulationManifest(BaseModel):
    """What :func:`simulate` wrote; file names are relative to the output directory.
    Serialised as ``manifest.json`` (``as_of`` as ISO ``YYYY-MM-DD``)."""

    model_config = ConfigDict(frozen=True)

    subjects: int
    seed: int
    as_of: dt.date
    furnishers: tuple[FurnisherFile, ...]
    tickets_file: str
    population_file: str


def simulate(
    out_dir: Path,
    *,
    subjects: int,
    seed: int,
    as_of: dt.date,
    bad_row_rate: float = 0.003,
) -> SimulationManifest:
    """Write a synthetic population of ``subjects`` people and its records to ``out_dir``.

    Files: ``population.csv`` (ground truth), one ``<furnisher>.csv`` / ``<furnisher>.jsonl``
    per furnisher (see :mod:`socialcredit.simulate.records` for the row contract),
    ``tickets.csv`` (one day of purchases) and ``manifest.json``.  Output is byte-identical
    for the same arguments: all randomness comes from ``random.Random(seed)``.  A fraction
    ``bad_row_rate`` of furnisher rows is deliberately broken (see
    :mod:`socialcredit.simulate.faults`); event dates lie within four years before ``as_of``.
    """
    if subjects < 1:
        raise ValueError("subjects must be at least 1")
    if not 0.0 <= bad_row_rate < 1.0:
        raise ValueError("bad_row_rate must be in [0, 1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    master = random.Random(seed)
    stage = {
        name: random.Random(master.getrandbits(64))
        for name in (
            "population",
            "lenders",
            "courts",
            "transport",
            "ride",
            "faults",
            "tickets",
            "school",
        )
    }
    people = generate_population(stage["population"], subjects, as_of)
    write_population(out_dir / POPULATION_FILE, people)

    drafts: dict[str, list[Draft]] = {}
    drafts[SCHOOL], enrolments = generate_school(stage["school"], people, as_of)
    lender_drafts, debtors = generate_lenders(stage["lenders"], people, as_of, enrolments)
    drafts.update(lender_drafts)
    courts = generate_courts(stage["courts"], people, as_of, debtors)
    drafts.update(courts.drafts)
    drafts.update(generate_transport(stage["transport"], people, as_of))
    ride_drafts, riders = generate_ride_hail(stage["ride"], people, as_of)
    drafts.update(ride_drafts)

    cursor = FaultCursor()
    entries: list[FurnisherFile] = []
    for spec in FURNISHERS:
        rows = finalize(spec, drafts.get(spec.name, []))
        rows, bad = inject_faults(stage["faults"], spec, rows, bad_row_rate, cursor)
        write_rows(out_dir / spec.file, spec, rows)
        entries.append(
            FurnisherFile(
                name=spec.name,
                kind=spec.kind,
                file=spec.file,
                rows=len(rows),
                bad_rows=bad,
            )
        )

    write_tickets(out_dir / TICKETS_FILE, stage["tickets"], people, courts.active, riders)
    manifest = SimulationManifest(
        subjects=subjects,
        seed=seed,
        as_of=as_of,
        furnishers=tuple(entries),
        tickets_file=TICKETS_FILE,
        population_file=POPULATION_FILE,
    )
    (out_dir / MANIFEST_FILE).write_text(
        manifest.model_dump_json(indent=2) + "\n", encoding="utf-8"
    )
    return manifest
