"""What-if runs started from the console's policy page, in a background thread of the server.

A run is :func:`socialcredit.reports.whatif.what_if` of a candidate policy (NEW) against the
registry's policy (CURRENT) on the DuckDB engine: it reads the registry and writes nothing (no
ledger event, no table row). The page polls the run and shows the steps ``what_if`` reports
through its ``progress`` callback, then the report.

One run at a time per server process (the batch engine takes the machine's cores): starting a
second one while the first runs is a :class:`~socialcredit.errors.Conflict` naming who started
the first and when. Runs are kept in this process's memory (the newest :data:`KEPT`), are
visible to every signed-in operator, and do not survive a restart.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any, Final

from socialcredit.errors import Conflict, NotFound, SocialCreditError
from socialcredit.policy.model import Policy
from socialcredit.reports.whatif import Engine, what_if
from socialcredit.store import Store

__all__ = ["ENGINE", "KEPT", "Run", "Runs"]

#: The engine of every run started from the page (issue #16: "run on the DuckDB engine").
ENGINE: Final[Engine] = "duckdb"
#: Finished runs kept in memory, newest first.
KEPT = 20


@dataclass
class Run:
    """One what-if run: who started it and when, the two policies compared, the steps done so
    far, then either ``report`` (the shape of :func:`socialcredit.reports.whatif.compare`) or
    ``error`` (a message for the operator)."""

    id: str
    operator: str
    started_at: dt.datetime
    new: dict[str, str]
    current: dict[str, str]
    as_of: dt.date
    steps: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = None
    error: str | None = None
    finished_at: dt.datetime | None = None

    @property
    def running(self) -> bool:
        return self.finished_at is None

    @property
    def seconds(self) -> float:
        end = self.finished_at or dt.datetime.now(dt.UTC)
        return round((end - self.started_at).total_seconds(), 1)


def _about(policy: Policy, label: str) -> dict[str, str]:
    return {"label": label, "name": policy.name, "version": policy.version,
            "version_hash": policy.version_hash}


class Runs:
    """The runs of this server process (thread-safe)."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, store: Store, *, new: Policy, new_label: str, current: Policy,
              as_of: dt.date, operator: str) -> Run:
        """Start a run in a background thread and return it at once.

        Raises:
            Conflict: a run is already going (details: operator, started_at).
        """
        with self._lock:
            going = next((r for r in self._runs.values() if r.running), None)
            if going is not None:
                raise Conflict(
                    f"a what-if is already running, started by {going.operator} at "
                    f"{going.started_at:%Y-%m-%d %H:%M:%S} UTC: wait for it to finish",
                    details={"operator": going.operator,
                             "started_at": going.started_at.isoformat(), "run": going.id})
            run = Run(secrets.token_urlsafe(12), operator, dt.datetime.now(dt.UTC),
                      _about(new, new_label), _about(current, "current"), as_of)
            self._runs[run.id] = run
            done = sorted((r for r in self._runs.values() if not r.running),
                          key=lambda r: r.started_at, reverse=True)
            for old in done[KEPT:]:
                del self._runs[old.id]
            thread = threading.Thread(target=self._work, args=(store, run, new, current),
                                      name=f"what-if {run.id}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return run

    def _work(self, store: Store, run: Run, new: Policy, current: Policy) -> None:
        try:
            report = what_if(store, new, current, run.as_of, engine=ENGINE,
                             progress=run.steps.append)
        except SocialCreditError as e:
            run.error = e.message
        except ImportError as e:  # the engine's extra is missing
            run.error = f"the {ENGINE} engine cannot run here: {e}"
        except Exception as e:  # said on the page, not lost in a thread
            run.error = f"the what-if failed: {type(e).__name__}: {e}"
        else:
            run.report = report
        run.finished_at = dt.datetime.now(dt.UTC)

    def get(self, run_id: str) -> Run:
        """Raises NotFound: no such run in this process (or it was dropped)."""
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise NotFound(f"no what-if run {run_id[:40]!r} on this server (runs are kept in "
                           "memory until the server restarts): start it again")
        return run

    def recent(self) -> list[Run]:
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: r.started_at, reverse=True)

    def join(self, timeout_s: float = 30.0) -> None:
        """Wait for the runs going (the server's shutdown; tests)."""
        with self._lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout_s)
