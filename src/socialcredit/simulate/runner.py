"""``simulate()``: write a synthetic population, furnisher files, tickets and a manifest."""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from socialcredit.simulate.carrier import CARRIER, carrier_block
from socialcredit.simulate.courts import generate_courts
from socialcredit.simulate.enterprises import enterprises_block
from socialcredit.simulate.furnishers import FURNISHERS, generate_transport
from socialcredit.simulate.lenders import generate_lenders
from socialcredit.simulate.lines import csv_header, write_csv
from socialcredit.simulate.people import UsedKeys, draw_people
from socialcredit.simulate.population import POPULATION_COLUMNS
from socialcredit.simulate.records import Draft, FurnisherSpec
from socialcredit.simulate.ride import ride_block
from socialcredit.simulate.school import SCHOOL, school_block
from socialcredit.simulate.spool import Spool, conform, drafts_table
from socialcredit.simulate.tickets import TICKET_COLUMNS, tickets_block

__all__ = ["BLOCK_SIZE", "FurnisherFile", "SimulationManifest", "simulate"]

MANIFEST_FILE = "manifest.json"
POPULATION_FILE = "population.csv"
TICKETS_FILE = "tickets.csv"
#: People drawn at once.  Part of the seed: the same seed with another block size gives other
#: (equally valid) files.
BLOCK_SIZE = 250_000
#: New stages go last: a stage's seed is its position, so the others' files stay the same.
_STAGES = ("population", "school", "lenders", "courts", "transport", "ride", "tickets",
           "carrier", "enterprises")


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


def _seeds(seed: int, block: int) -> dict[str, np.random.SeedSequence]:
    """Independent seed sequences per stage for one block (``block`` -1: the faults)."""
    entropy = [abs(seed), int(seed < 0)]
    return {
        stage: np.random.SeedSequence(entropy, spawn_key=(block + 1, i))
        for i, stage in enumerate(_STAGES)
    }


def _python_rng(seq: np.random.SeedSequence) -> random.Random:
    return random.Random(int(seq.generate_state(1, np.uint64)[0]))


def _add(spool: Spool, spec: FurnisherSpec, table: pa.Table, reported: list[pa.Array]) -> None:
    """Spool one block's rows of ``spec`` and note the national IDs they carry."""
    reported.append(table["national_id"].combine_chunks())
    spool.add(spec, table)


def simulate(
    out_dir: Path,
    *,
    subjects: int,
    seed: int,
    as_of: dt.date,
    bad_row_rate: float = 0.003,
    block_size: int = BLOCK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> SimulationManifest:
    """Write a synthetic population of ``subjects`` people and its records to ``out_dir``.

    Files: ``population.csv`` (ground truth), one ``<furnisher>.csv`` / ``<furnisher>.jsonl``
    per furnisher (see :mod:`socialcredit.simulate.records` for the row contract),
    ``tickets.csv`` (one day of purchases) and ``manifest.json``.  Enterprises seated among
    each block's people, their representatives, cases and tax ratings come from
    :mod:`socialcredit.simulate.enterprises`.  Output is byte-identical
    for the same arguments: all randomness comes from NumPy seed sequences derived from
    ``seed``.  A fraction ``bad_row_rate`` of furnisher rows is deliberately broken (see
    :mod:`socialcredit.simulate.faults`); event dates lie within four years before ``as_of``.

    People are drawn ``block_size`` at a time (see :mod:`socialcredit.simulate.people`); every
    record about a person comes from their block, and furnisher rows are spooled to a scratch
    folder inside ``out_dir`` and merged into date order (:mod:`socialcredit.simulate.spool`),
    so memory stays bounded by the block, not the population: 10 million people take minutes.
    ``progress`` is called with the number of people of each block once it is drawn.

    Raises:
        ValueError: ``subjects`` or ``block_size`` below 1, or ``bad_row_rate`` outside [0, 1).
    """
    if subjects < 1:
        raise ValueError("subjects must be at least 1")
    if block_size < 1:
        raise ValueError("block_size must be at least 1")
    if not 0.0 <= bad_row_rate < 1.0:
        raise ValueError("bad_row_rate must be in [0, 1)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = {spec.name: spec for spec in FURNISHERS}
    used_ids, used_phones = UsedKeys(), UsedKeys()
    case_numbers: dict[tuple[int, int], int] = {}
    loans: dict[str, int] = {}
    trips = {"ride-didi": 0, "ride-caocao": 0}
    enterprises = [0]  # enterprises numbered so far (their USCCs stay unique across blocks)
    with (
        tempfile.TemporaryDirectory(dir=out_dir, prefix=".simulate-") as scratch,
        (out_dir / POPULATION_FILE).open("wb") as population,
        (out_dir / TICKETS_FILE).open("wb") as tickets,
    ):
        spool = Spool(Path(scratch), FURNISHERS)
        population.write(csv_header(POPULATION_COLUMNS))
        tickets.write(csv_header(TICKET_COLUMNS))
        for block_no, start in enumerate(range(0, subjects, block_size)):
            seeds = _seeds(seed, block_no)
            np_rng = {k: np.random.default_rng(v) for k, v in seeds.items()}
            block = draw_people(np_rng["population"], block_no, start,
                                min(block_size, subjects - start), as_of, used_ids, used_phones)
            write_csv(population, block.table(), POPULATION_COLUMNS)
            people = block.people()
            reported: list[pa.Array] = []  # the national IDs furnishers gave (for the carrier)
            school, enrolments = school_block(np_rng["school"], block, as_of)
            _add(spool, specs[SCHOOL], conform(specs[SCHOOL], school), reported)
            drafts: dict[str, list[Draft]] = {}
            lender_drafts, debtors = generate_lenders(
                _python_rng(seeds["lenders"]), people, as_of, enrolments, loans)
            drafts.update(lender_drafts)
            courts = generate_courts(_python_rng(seeds["courts"]), people, as_of, debtors,
                                     case_numbers)
            drafts.update(courts.drafts)
            drafts.update(generate_transport(_python_rng(seeds["transport"]), people, as_of))
            for name, rows in drafts.items():
                _add(spool, specs[name], drafts_table(specs[name], rows, block_no), reported)
            ratings, riders = ride_block(np_rng["ride"], block, as_of, trips)
            for name, columns in ratings.items():
                _add(spool, specs[name], conform(specs[name], columns), reported)
            spool.add(specs[CARRIER], conform(specs[CARRIER], carrier_block(
                np_rng["carrier"], block, as_of, reported)))
            firms = enterprises_block(np_rng["enterprises"], block, as_of, enterprises,
                                      case_numbers)
            for name, columns in firms.columns.items():
                spool.add(specs[name], conform(specs[name], columns))
            listed = np.zeros(len(block), bool)
            listed[list(courts.active)] = True
            listed[firms.restricted] = True  # restricted representatives buy tickets too
            write_csv(tickets, tickets_block(np_rng["tickets"], block, listed, riders),
                      TICKET_COLUMNS)
            if progress is not None:
                progress(len(block))
        counts = spool.finish(out_dir, _python_rng(_seeds(seed, -1)["population"]), bad_row_rate)
    entries = [
        FurnisherFile(name=spec.name, kind=spec.kind, file=spec.file,
                      rows=counts[spec.name][0], bad_rows=counts[spec.name][1])
        for spec in FURNISHERS
    ]
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
