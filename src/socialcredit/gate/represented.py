"""What a representative's refusal names: the organisation and the case behind it.

An entry of a ``represents`` list (socialcredit/policy/representatives.py) is keyed
``<organisation subject id>:<the organisation's entry key>``. On a refusal the gate names the
organisation (its name and identifier, the unified social credit code in China) and the case,
so the person knows which enterprise's listing restricts them and where to turn (SPC Several
Provisions on Restricting High Consumption (2015), Art. 3, para. 2). Read from the store on a
deny only, and kept: an entry's key never changes. A gate whose store cannot be reached
refuses all the same, with ``on_behalf_of`` null.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from socialcredit.store import Store
from socialcredit.store.tables import list_entries, subjects

__all__ = ["Represented"]


class Represented:
    """``of(entry_id)`` → ``{"organisation", "organisation_id", "case_number"}`` or None."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._known: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def of(self, entry_id: int) -> dict[str, Any] | None:
        found = self._known.get(entry_id)
        if found is not None:
            return found
        try:
            with self.store.read() as conn:
                key = conn.execute(select(list_entries.c.key).where(
                    list_entries.c.id == entry_id)).scalar()
                if key is None or ":" not in key:
                    return None
                org, _, case = key.partition(":")
                row = conn.execute(select(subjects.c.name, subjects.c.organisation_id).where(
                    subjects.c.id == int(org))).first()
        except SQLAlchemyError:
            return None
        if row is None:
            return None
        found = {"organisation": row.name, "organisation_id": row.organisation_id,
                 "case_number": case}
        with self._lock:
            self._known[entry_id] = found
        return found
