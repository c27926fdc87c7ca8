"""``socialcredit link --batch`` / ``--backend spark``: the national backlog in one set-based pass.

:func:`relink_backlog` does what :func:`socialcredit.identity.relink.relink_unlinked` does —
link, or score again, every active record without a subject or still in review — but scores
all of them at once instead of chunk by chunk against candidates fetched from the store:

1. **export** (streamed, ``chunk`` rows at a time): the backlog's records
   (:func:`~socialcredit.identity.probabilistic.record_frame`, ``unique_id`` ``r<id>``) and
   every live subject, one row per name × phone interval
   (:func:`~socialcredit.identity.probabilistic.subject_rows`, ``unique_id`` ``s<id>#<k>``),
   to two Parquet files in ``work_dir``;
2. **score** on DuckDB or Spark with the model's settings and the capped scale blocking
   (:func:`socialcredit.identity.batch.score_parquet`), keeping pairs at or above the
   policy's ``review_probability``;
3. **sort** the pairs by record id on DuckDB (spilling above the memory limit) into a Parquet
   file whose row groups cover ranges of record ids;
4. **decide and write**, ``chunk`` records per store transaction: the same decision code as
   ingest (:meth:`~socialcredit.identity.probabilistic.ProbabilisticLinker.link` with the
   pre-scored pairs: phone rule, corroboration, review queue, operator rejections kept), then
   the touched subjects evaluated.

Python holds one chunk of records, of subjects or of pairs at a time (plus the backlog's record
ids, 8 bytes each). Differences from the chunked path, by design: candidates come from the
blocking rules instead of the ID-typo / phone / name-and-birth look-ups, and name frequencies
are those of the two exported files (Splink's own term frequencies).

Returns ``{"linked", "pending", "unlinked", "scored_pairs", "backend", "records",
"subjects", "comparisons", "capped_blocks", "warnings", "timings"}``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, select

from socialcredit.identity.active import active_model, backlog_ids, link_inputs
from socialcredit.identity.batch import BatchConfig, score_parquet
from socialcredit.identity.frames import LinkOutcome, record_frame, subject_rows
from socialcredit.identity.model import COLUMNS
from socialcredit.identity.probabilistic import ProbabilisticLinker
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import subjects

__all__ = ["relink_backlog"]

_SCHEMA = pa.schema([(c, pa.string()) for c in COLUMNS])


def relink_backlog(store: Store, policy: Policy, *, as_of: dt.date,
                   config: BatchConfig = BatchConfig(),  # noqa: B008 (frozen)
                   chunk: int = 5000, work_dir: Path | None = None,
                   spark: Any = None) -> dict[str, Any]:
    """See the module docstring. ``work_dir`` (default: a temporary folder, removed
    afterwards) holds the exported and scored Parquet files."""
    own = work_dir is None
    if config.temp_directory is not None:
        Path(config.temp_directory).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="sc-backlog-", dir=config.temp_directory)) \
        if work_dir is None else work_dir
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    try:
        t = time.perf_counter()
        with store.read() as conn:
            model = active_model(conn, policy)
            todo = np.fromiter(backlog_ids(conn), dtype=np.int64)
            if not len(todo):
                return {**LinkOutcome().as_dict(), "backend": config.backend, "records": 0,
                        "subjects": 0, "comparisons": 0, "capped_blocks": 0,
                        "warnings": [], "timings": timings}
            _write(work / "records.parquet", (
                record_frame(link_inputs(conn, [int(x) for x in todo[i:i + chunk]]))
                for i in range(0, len(todo), chunk)))
            _write(work / "subjects.parquet", _subject_chunks(conn, chunk))
        timings["export_s"] = round(time.perf_counter() - t, 3)
        result = score_parquet(model, work / "records.parquet", work / "subjects.parquet",
                               work / "pairs.parquet",
                               min_probability=policy.identity.linkage.review_probability,
                               config=config, spark=spark)
        timings.update(result.timings)
        t = time.perf_counter()
        sorted_pairs = _sort(work / "pairs.parquet", work / "pairs_sorted.parquet", config)
        timings["sort_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        total = _decide(store, policy, model, todo, sorted_pairs, chunk, as_of)
        timings["decide_s"] = round(time.perf_counter() - t, 3)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return {**total.as_dict(), "backend": config.backend, "records": result.records,
            "subjects": result.subjects, "comparisons": result.comparisons,
            "capped_blocks": result.capped_blocks, "warnings": result.warnings,
            "timings": timings}


def _write(path: Path, frames: Any) -> None:
    """Write frames (the model's columns, text) as row groups of one Parquet file."""
    with pq.ParquetWriter(path, _SCHEMA) as writer:
        for frame in frames:
            if len(frame):
                writer.write_table(pa.Table.from_pandas(
                    frame.reindex(columns=list(COLUMNS)).astype(object).where(
                        frame.reindex(columns=list(COLUMNS)).notna(), None),
                    schema=_SCHEMA, preserve_index=False))


def _subject_chunks(conn: Connection, chunk: int) -> Any:
    """Frames of every live subject's rows, ``chunk`` subjects at a time (keyset paging)."""
    import pandas as pd

    last = 0
    while True:
        sids = list(conn.execute(select(subjects.c.id).where(  # persons: never an organisation
            subjects.c.merged_into.is_(None), subjects.c.kind == "person", subjects.c.id > last)
            .order_by(subjects.c.id).limit(chunk)).scalars())
        if not sids:
            return
        last = sids[-1]
        rows = subject_rows(conn, sids)
        yield pd.DataFrame([{**row, "unique_id": f"s{sid}#{k}"} for sid in sids
                            for k, row in enumerate(rows.get(sid, ()))], columns=list(COLUMNS))


def _sort(pairs: Path, out: Path, config: BatchConfig) -> Path:
    """``pairs`` with ``record_id`` (int) added, sorted by it (DuckDB, spilling)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit = '{config.memory_limit}'")
        if config.temp_directory is not None:
            con.execute(f"SET temp_directory = '{config.temp_directory}'")
        rid = ("CAST(substr(CASE WHEN starts_with(unique_id_l, 'r') THEN unique_id_l "
               "ELSE unique_id_r END, 2) AS BIGINT)")
        con.execute(f"COPY (SELECT *, {rid} AS record_id FROM read_parquet('{pairs}') "
                    f"ORDER BY record_id) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 50000)")
    finally:
        con.close()
    return out


def _decide(store: Store, policy: Policy, model: Any, todo: np.ndarray, pairs: Path,
            chunk: int, as_of: dt.date) -> LinkOutcome:
    """Decide and write ``chunk`` records per transaction with their pre-scored pairs."""
    import duckdb

    total = LinkOutcome()
    con = duckdb.connect()
    try:
        for i in range(0, len(todo), chunk):
            ids = [int(x) for x in todo[i:i + chunk]]
            scored = con.execute(
                f"SELECT * EXCLUDE (record_id) FROM read_parquet('{pairs}') "
                "WHERE record_id BETWEEN ? AND ?", [min(ids), max(ids)]).df()
            with store.batch(policy.version_hash) as b:
                recs = link_inputs(b.conn, ids)
                b.flush()
                out = ProbabilisticLinker(b, policy, model).link(recs, scored=scored)
                b.flush()
                if out.touched:
                    evaluate_subjects(b, policy, out.touched, as_of)
            total.linked += out.linked
            total.pending += out.pending
            total.unlinked += out.unlinked
            total.scored_pairs += out.scored_pairs
    finally:
        con.close()
    return total
