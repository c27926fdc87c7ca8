"""Scoring small batches of candidate pairs fast, with Splink's own SQL.

Probabilistic linkage scores a few hundred (record, candidate subject) pairs per ingest chunk.
Building a Splink ``Linker`` and generating its SQL takes about half a second each time (most
of it in sqlglot), which would dominate a 100-row API submission. :class:`GroupScorer` lets
Splink generate and run the prediction once per model — recording every statement it sends
to DuckDB — and afterwards replays those statements on a fresh in-memory DuckDB connection
with the new input tables under the same names. The SQL is Splink's, unchanged, so the scores
are Splink's (``tests/test_linkage.py`` checks replay against a fresh Splink run); if a replay
ever fails, the scorer falls back to a fresh Splink run and logs why.

Input frames: the model's columns (:data:`socialcredit.identity.model.COLUMNS`) plus
``group_id``; only pairs sharing a ``group_id`` are compared. Term-frequency lookups: column →
frame of ``<col>``, ``tf_<col>``. Output: the columns of
:func:`socialcredit.identity.model.predict`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import duckdb
import pandas as pd

from socialcredit.identity.model import LinkageModel

__all__ = ["GroupScorer", "scorer_for", "splink_score_groups"]

log = logging.getLogger(__name__)

_BLOCK = "l.group_id = r.group_id"


def _inputs(model: LinkageModel, left: pd.DataFrame, right: pd.DataFrame) -> list[Any]:
    from socialcredit.identity.model.backends import _as_arrow

    cols = [*model.columns, "group_id"]
    return [_as_arrow(f.assign(group_id=f["group_id"].astype(str)), cols) for f in (left, right)]


def _tf_name(col: str) -> str:
    return f"sc_tf_{col}"


def splink_score_groups(model: LinkageModel, left: pd.DataFrame, right: pd.DataFrame,
                        tf: Mapping[str, pd.DataFrame], *, db: Any = None) -> pd.DataFrame:
    """A fresh Splink run (DuckDB): every (left, right) pair sharing ``group_id``."""
    from splink import Linker
    from splink.backends.duckdb import DuckDBAPI

    from socialcredit.identity.model.inference import _explain, _settings_for

    db = db if db is not None else DuckDBAPI()
    settings = _settings_for(model, "duckdb")
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": _BLOCK, "sql_dialect": "duckdb"}]
    tables = [db.register(t, table_name=f"sc_input_{i}")
              for i, t in enumerate(_inputs(model, left, right))]
    linker = Linker(tables, settings, log_level=None)
    for col, frame in tf.items():
        linker.table_management.register_term_frequency_lookup(
            db.register(frame, table_name=_tf_name(col)), col)
    raw = linker.inference.predict(warning_mode="never").as_pandas_dataframe()
    return _explain(model, raw)


class GroupScorer:
    """Splink's prediction SQL for one model and one set of TF columns, recorded once."""

    def __init__(self, model: LinkageModel, tf_columns: tuple[str, ...]) -> None:
        self.model, self.tf_columns = model, tf_columns
        self.statements: list[str] | None = None
        self.result_table: str | None = None
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None

    def _record(self, left: pd.DataFrame, right: pd.DataFrame,
                tf: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        from splink.backends.duckdb import DuckDBAPI

        seen: list[str] = []

        class _Recording(DuckDBAPI):
            def _execute_sql_against_backend(self, final_sql: str) -> Any:
                seen.append(final_sql)
                return super()._execute_sql_against_backend(final_sql)

        out = splink_score_groups(self.model, left, right, tf, db=_Recording())
        # the statements that make tables (Splink's schema look-ups are not needed again)
        kept = [s for s in seen if s.lstrip().upper().startswith(("CREATE TABLE", "DROP TABLE"))]
        creates = [s for s in kept if s.lstrip().upper().startswith("CREATE TABLE")]
        if creates:
            self.result_table = creates[-1].split()[2]
            # the last create is the predictions: later drops would remove what we read
            self.statements = kept[:kept.index(creates[-1]) + 1]
        return out

    def score(self, left: pd.DataFrame, right: pd.DataFrame,
              tf: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """See the module docstring."""
        from socialcredit.identity.model.inference import _explain

        with self._lock:
            if self.statements is None:
                return self._record(left, right, tf)
            try:
                raw = self._replay(left, right, tf)
            except duckdb.Error as e:
                log.warning("replaying Splink's SQL failed (%s); scoring with a fresh Splink "
                            "run", type(e).__name__)
                self._con = None
                return splink_score_groups(self.model, left, right, tf)
        return _explain(self.model, raw)

    def _replay(self, left: pd.DataFrame, right: pd.DataFrame,
                tf: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Run the recorded statements on this scorer's own connection (callers hold the
        lock): the inputs replace the tables of the recording, under the same names."""
        if self._con is None:
            self._con = duckdb.connect()
        con = self._con
        for i, table in enumerate(_inputs(self.model, left, right)):
            con.register(f"sc_input_{i}_arrow", table)
            con.execute(f"CREATE OR REPLACE TABLE sc_input_{i} AS "
                        f"SELECT * FROM sc_input_{i}_arrow")
            con.unregister(f"sc_input_{i}_arrow")
        for col in self.tf_columns:
            frame = tf.get(col, pd.DataFrame({col: [], f"tf_{col}": []}))
            con.register("sc_tf_frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE {_tf_name(col)} AS SELECT * FROM sc_tf_frame")
            con.unregister("sc_tf_frame")
        for sql in self.statements or ():
            con.execute(sql)
        return con.execute(f"SELECT * FROM {self.result_table}").df()


_SCORERS: dict[tuple[str, tuple[str, ...]], GroupScorer] = {}
_SCORERS_LOCK = threading.Lock()


def scorer_for(model: LinkageModel, tf_columns: tuple[str, ...]) -> GroupScorer:
    """The process's scorer for ``model`` (one per model version and TF columns)."""
    key = (model.version, tf_columns)
    with _SCORERS_LOCK:
        if key not in _SCORERS:
            _SCORERS[key] = GroupScorer(model, tf_columns)
        return _SCORERS[key]
