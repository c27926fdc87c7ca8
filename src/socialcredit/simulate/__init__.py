"""Deterministic synthetic data for the registry: a Chinese population, furnisher files
(courts, a bank, a payment app, a school, air and rail operators, two ride-hail platforms, a
carrier's real-name registrations) with a few deliberately broken rows, one day of ticket
purchases, and a manifest.

Usage::

    manifest = simulate(Path("out"), subjects=100_000, seed=7, as_of=datetime.date(2025, 6, 30))
    manifest.furnishers[0].file  # "court-beijing-no1.csv"

``population.csv`` is ground truth for tests only; the registry sees the furnisher files.

A US population for the US policy (SSNs, lenders' tradelines, a debt buyer, two ride-hail
platforms) comes from :func:`socialcredit.simulate.us.simulate_us`; :func:`simulator_for`
picks the simulator a policy's national ID scheme needs.
"""

from collections.abc import Callable
from typing import Any

from socialcredit.simulate.faults import FAULTS, UNKNOWN_KINDS
from socialcredit.simulate.furnishers import FURNISHERS
from socialcredit.simulate.population import POPULATION_COLUMNS, Person
from socialcredit.simulate.records import COMMON_COLUMNS, KIND_FIELDS, FurnisherSpec
from socialcredit.simulate.runner import FurnisherFile, SimulationManifest, simulate
from socialcredit.simulate.tickets import TICKET_COLUMNS
from socialcredit.simulate.us import simulate_us


def simulator_for(national_id_scheme: str) -> Callable[..., Any]:
    """The simulator whose people carry identifiers of ``national_id_scheme``: ``us.ssn`` →
    :func:`simulate_us`, anything else → :func:`simulate` (CN resident IDs). Both take
    ``(out_dir, *, subjects, seed, as_of, progress=None)`` and return a
    :class:`SimulationManifest`."""
    return simulate_us if national_id_scheme == "us.ssn" else simulate


__all__ = [
    "COMMON_COLUMNS",
    "FAULTS",
    "FURNISHERS",
    "KIND_FIELDS",
    "POPULATION_COLUMNS",
    "TICKET_COLUMNS",
    "UNKNOWN_KINDS",
    "FurnisherFile",
    "FurnisherSpec",
    "Person",
    "SimulationManifest",
    "simulate",
    "simulate_us",
    "simulator_for",
]
