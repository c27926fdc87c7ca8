"""Gates: the in-memory index of restricted identifiers and the decision service."""

from socialcredit.gate.decide import Decision, DecisionService
from socialcredit.gate.index import GateIndex, Restriction

__all__ = ["Decision", "DecisionService", "GateIndex", "Restriction"]
