"""Prometheus metrics of a gate (one ``CollectorRegistry`` per app, so tests can build many).

* ``socialcredit_decision_seconds`` (histogram, label ``route``: single | batch) — time to
  answer a decision request inside the app;
* ``socialcredit_decisions_total`` (counter, labels ``service``, ``outcome``: allow, deny,
  review, and error for a person of a batch with a bad identifier);
* ``socialcredit_gate_index_identifiers`` — identifiers in the gate index;
* ``socialcredit_ledger_lag_events`` / ``socialcredit_ledger_lag_seconds`` — how far behind the
  ledger the index was at its last refresh;
* ``socialcredit_gate_staleness_seconds`` — seconds since the index last heard from the database.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from socialcredit.gate import GateIndex

__all__ = ["GateMetrics"]

_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class GateMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram("socialcredit_decision_seconds", "Decision request latency",
                                 ["route"], buckets=_BUCKETS, registry=self.registry)
        self.decisions = Counter("socialcredit_decisions", "Decisions by service and outcome",
                                 ["service", "outcome"], registry=self.registry)
        self.index_size = Gauge("socialcredit_gate_index_identifiers",
                                "Identifiers in the gate index", registry=self.registry)
        self.lag_events = Gauge("socialcredit_ledger_lag_events",
                                "Ledger events behind at the last refresh",
                                registry=self.registry)
        self.lag_seconds = Gauge("socialcredit_ledger_lag_seconds",
                                 "Age of the oldest unapplied event at the last refresh",
                                 registry=self.registry)
        self.applied_seq = Gauge("socialcredit_gate_applied_seq",
                                 "Last ledger seq the gate index has applied",
                                 registry=self.registry)
        self.staleness = Gauge("socialcredit_gate_staleness_seconds",
                               "Seconds since the gate index last heard from the database",
                               registry=self.registry)

    def render(self, index: GateIndex) -> bytes:
        self.index_size.set(index.size)
        self.lag_events.set(index.lag_events)
        self.applied_seq.set(index.last_seq)
        self.lag_seconds.set(index.lag_seconds)
        self.staleness.set(index.staleness_seconds)
        return bytes(generate_latest(self.registry))
