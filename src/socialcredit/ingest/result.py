"""The counts one ingest returns (a facet of :mod:`socialcredit.ingest.pipeline`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from socialcredit.policy.evaluate import EvaluationStats

__all__ = ["IngestResult"]


@dataclass
class IngestResult:
    """Counts of one ingest. ``accepted`` rows are new records; ``duplicates`` were already
    held with identical content; ``rejected`` rows are in quarantine (``problems`` holds up to
    the first 1,000 of them as ``{"file", "line", "field", "reason"}``)."""

    source: str
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    unlinked: int = 0
    #: records linked tentatively, waiting in the review queue (their entries sanction nothing)
    pending_links: int = 0
    #: accepted rows whose identity is flagged (a typo'd ID kept as claimed, an ID that
    #: contradicts the row's birth date or sex): ``{"file", "line", "field", "flag"}``, up to
    #: the first 1,000
    flagged: list[dict[str, Any]] = field(default_factory=list)
    subjects_created: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    evaluation: EvaluationStats = field(default_factory=EvaluationStats)

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "accepted": self.accepted, "rejected": self.rejected,
                "duplicates": self.duplicates, "unlinked": self.unlinked,
                "pending_links": self.pending_links, "flagged": self.flagged,
                "subjects_created": self.subjects_created, "problems": self.problems,
                "evaluation": self.evaluation.as_dict()}
