"""Deterministic synthetic data for the registry: a Chinese population, furnisher files
(courts, a bank, a payment app, a school, air and rail operators, two ride-hail platforms, a
carrier's real-name registrations) with a few deliberately broken rows, one day of ticket
purchases, and a manifest.

Usage::

    manifest = simulate(Path("out"), subjects=100_000, seed=7, as_of=datetime.date(2025, 6, 30))
    manifest.furnishers[0].file  # "court-beijing-no1.csv"

``population.csv`` is ground truth for tests only; the registry sees the furnisher files.
"""

from socialcredit.simulate.faults import FAULTS, UNKNOWN_KINDS
from socialcredit.simulate.furnishers import FURNISHERS
from socialcredit.simulate.population import POPULATION_COLUMNS, Person
from socialcredit.simulate.records import COMMON_COLUMNS, KIND_FIELDS, FurnisherSpec
from socialcredit.simulate.runner import FurnisherFile, SimulationManifest, simulate
from socialcredit.simulate.tickets import TICKET_COLUMNS

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
]
