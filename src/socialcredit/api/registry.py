"""The :class:`Registry`: settings, store, policy and the in-process gate, wired once.

Both entry points (the Typer CLI and ``create_app``) build one from a :class:`Settings`.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import cached_property

from socialcredit.gate import DecisionService, GateIndex
from socialcredit.gate.went_back import head_key_path
from socialcredit.policy.model import Policy, load_policy
from socialcredit.screening.service import ScreenService
from socialcredit.settings import Settings
from socialcredit.store import Store

__all__ = ["Registry"]

log = logging.getLogger("socialcredit")


class Registry:
    """Raises ConfigError (bad policy or URL) on construction; StoreUnavailable on first use
    of an unreachable database."""

    def __init__(self, settings: Settings | None = None, *, today: dt.date | None = None,
                 ) -> None:
        self.settings = settings or Settings()
        self.policy: Policy = load_policy(self.settings.policy_path)
        self.store = Store(self.settings.database_url,
                           key_file=self.settings.keys_dir / "codes.key")
        self.today = today

    def ensure_schema(self) -> None:
        self.store.ensure_schema()

    @cached_property
    def gate_index(self) -> GateIndex:
        index = GateIndex(self.store, self.policy,
                          head_key=head_key_path(self.settings.keys_dir))
        index.build()
        return index

    @cached_property
    def screening(self) -> ScreenService:
        return ScreenService(self.store, self.policy)

    @cached_property
    def decisions(self) -> DecisionService:
        return DecisionService(self.gate_index, today=self.today, screening=self.screening)

    def close(self) -> None:
        """Write pending decision counters (if the database is reachable) and let go of it."""
        if "decisions" in self.__dict__:
            try:
                self.decisions.flush()
            except Exception as e:  # an unreachable database must not stop a shutdown
                log.warning("decision counters could not be written at shutdown: %s",
                            type(e).__name__)
        self.store.dispose()
