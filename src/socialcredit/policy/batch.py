"""Batch evaluation over a columnar export: ``socialcredit evaluate --engine duckdb|spark``.

The operational store is exported to Parquet (:func:`export_records`, streamed in chunks), and
the policy compiled once (:mod:`socialcredit.policy.compile`) runs over it on DuckDB or local
Spark; ``engine="python"`` runs the reference :func:`socialcredit.policy.rules.evaluate_records`
per subject on the same file. All three give identical entries and scores
(``tests/test_engines.py``).

The Parquet file (:func:`record_schema`): ``id, subject_id, furnisher_id`` (int64),
``furnisher, furnisher_record_id, kind`` (string), ``occurred_at`` (date32), then one column
``f_<field>`` per payload field name of the catalogue (int64, bool or string, see
:func:`socialcredit.policy.compile.payload_columns`), null where a record's kind lacks it.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from socialcredit.errors import InputError
from socialcredit.policy.compile import compile_policy, payload_columns
from socialcredit.policy.model import Policy
from socialcredit.policy.records import record_views
from socialcredit.policy.rules import (
    DesiredEntry,
    RecordView,
    ScoreResult,
    evaluate_records,
    kinds_read,
)
from socialcredit.store import Store

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["ENTRY_ARROW", "SCORE_ARROW", "BatchResult", "entries_table", "evaluate_parquet",
           "evaluate_parquet_frames", "export_records", "record_schema", "scores_table",
           "write_records_parquet"]

Engine = Literal["python", "duckdb", "spark"]
_CHUNK = 50_000
_ARROW = {"int64": pa.int64(), "boolean": pa.bool_(), "string": pa.string()}
_INT = ("int", "money")

#: The entries frame: the fields of DesiredEntry (dates as ISO strings); ``lifted`` is
#: ``"svc:until|svc2:"`` (services sorted, empty ``until``: for good), ``""`` without lifts.
ENTRY_ARROW = pa.schema([
    ("list", pa.string()), ("subject_id", pa.int64()), ("key", pa.string()),
    ("status", pa.string()), ("since", pa.string()), ("until", pa.string()),
    ("ground", pa.int64()), ("record_id", pa.int64()), ("furnisher_id", pa.int64()),
    ("platform", pa.string()), ("ended_on", pa.string()), ("end_reason", pa.string()),
    ("end_record_id", pa.int64()), ("lifted", pa.string())])
#: The scores frame: the fields of ScoreResult; ``reasons`` is ``"A|B"`` (most costly first).
SCORE_ARROW = pa.schema([
    ("score", pa.string()), ("subject_id", pa.int64()), ("value", pa.int64()),
    ("grade", pa.string()), ("reasons", pa.string())])


def record_schema(policy: Policy) -> pa.Schema:
    """The Arrow schema of a record export for ``policy`` (see the module docstring)."""
    base = [("id", pa.int64()), ("subject_id", pa.int64()), ("furnisher_id", pa.int64()),
            ("furnisher", pa.string()), ("furnisher_record_id", pa.string()),
            ("kind", pa.string()), ("occurred_at", pa.date32())]
    return pa.schema(base + [(f"f_{name}", _ARROW[t])
                             for name, t in payload_columns(policy).items()])


def _cell(policy: Policy, rec: RecordView, field: str, column: str, value: Any) -> Any:
    """A payload value as its column stores it (see ``payload_columns``)."""
    ftype = policy.catalogue[rec.kind].fields[field].type
    ok = (isinstance(value, int) and not isinstance(value, bool) if ftype in _INT
          else isinstance(value, bool) if ftype == "bool" else isinstance(value, str))
    if not ok:
        raise InputError(f"record {rec.id} ({rec.kind}): field {field!r} holds "
                         f"{value!r}, not a {ftype} value")
    return value if column != "string" else str(value)


def _batches(policy: Policy, rows: Iterable[RecordView]) -> Iterator[pa.RecordBatch]:
    schema = record_schema(policy)
    columns = payload_columns(policy)
    chunk: list[RecordView] = []

    def flush() -> pa.RecordBatch:
        data: dict[str, list[Any]] = {name: [] for name in schema.names}
        for rec in chunk:
            data["id"].append(rec.id)
            data["subject_id"].append(rec.subject_id)
            data["furnisher_id"].append(rec.furnisher_id)
            data["furnisher"].append(rec.furnisher)
            data["furnisher_record_id"].append(rec.furnisher_record_id)
            data["kind"].append(rec.kind)
            data["occurred_at"].append(dt.date.fromisoformat(rec.occurred_at))
            kind = policy.catalogue.get(rec.kind)
            for field, column in columns.items():
                value = rec.payload.get(field)
                if value is not None and kind is not None and field in kind.fields:
                    value = _cell(policy, rec, field, column, value)
                else:  # a field outside the kind's catalogue entry is never read
                    value = None
                data[f"f_{field}"].append(value)
        chunk.clear()
        return pa.RecordBatch.from_pydict(data, schema=schema)

    for rec in rows:
        chunk.append(rec)
        if len(chunk) >= _CHUNK:
            yield flush()
    if chunk:
        yield flush()


def write_records_parquet(policy: Policy, records: Iterable[RecordView], path: Path) -> Path:
    """Write ``records`` to a Parquet file of :func:`record_schema`, in chunks.

    Raises:
        InputError: a payload value does not have its catalogue type.
    """
    path = Path(path)
    with pq.ParquetWriter(path, record_schema(policy)) as writer:
        for batch in _batches(policy, records):
            writer.write_batch(batch)
    return path


def export_records(store: Store, policy: Policy, path: Path) -> int:
    """Export the records evaluation reads — status ``active``, not superseded, linked to a
    subject, of a kind in :func:`rules.kinds_read` — to Parquet at ``path``, streaming
    ``_CHUNK`` rows at a time. Returns the number of rows written."""
    written = 0

    def rows() -> Iterator[RecordView]:
        nonlocal written
        with store.read() as conn:
            for rec in record_views(conn, kinds_read(policy)):
                written += 1
                yield rec

    write_records_parquet(policy, rows(), path)
    return written


@dataclass
class BatchResult:
    """Entries and scores of a batch evaluation (sorted by list or score, subject, key),
    the rows read, the wall time of the evaluation in seconds and the engine."""

    entries: list[DesiredEntry]
    scores: list[ScoreResult]
    rows: int
    seconds: float
    engine: str


def _read_records(policy: Policy, path: Path) -> Iterator[list[RecordView]]:
    """The file's records grouped by subject (the reference engine's input)."""
    table = pq.read_table(path).sort_by([("subject_id", "ascending"), ("id", "ascending")])
    columns = payload_columns(policy)
    current: list[RecordView] = []
    for batch in table.to_batches(_CHUNK):
        for row in batch.to_pylist():
            kind = policy.catalogue.get(row["kind"])
            payload: dict[str, Any] = {}
            for field, fspec in (kind.fields.items() if kind is not None else ()):
                value = row[f"f_{field}"]
                if value is None:
                    continue
                if columns[field] == "string" and fspec.type in _INT:
                    value = int(value)
                elif columns[field] == "string" and fspec.type == "bool":
                    value = value == "True"
                payload[field] = value
            rec = RecordView(row["id"], row["subject_id"], row["furnisher_id"],
                             row["furnisher"], row["furnisher_record_id"], row["kind"],
                             row["occurred_at"].isoformat(), payload)
            if current and current[0].subject_id != rec.subject_id:
                yield current
                current = []
            current.append(rec)
    if current:
        yield current


def _python(policy: Policy, path: Path, as_of: dt.date,
            ) -> tuple[list[DesiredEntry], list[ScoreResult]]:
    entries: list[DesiredEntry] = []
    scores: list[ScoreResult] = []
    for recs in _read_records(policy, path):
        out = evaluate_records(policy, recs[0].subject_id, recs, as_of)
        entries += out.entries
        scores += out.scores
    entries.sort(key=lambda e: (e.list, e.subject_id, e.key))
    scores.sort(key=lambda s: (s.score, s.subject_id))
    return entries, scores


def _lifted(lifted: tuple[tuple[str, str | None], ...]) -> str:
    return "|".join(f"{svc}:{until or ''}" for svc, until in lifted)


def entries_table(entries: list[DesiredEntry]) -> pa.Table:
    """DesiredEntry objects as a frame of :data:`ENTRY_ARROW`."""
    cols: dict[str, list[Any]] = {name: [] for name in ENTRY_ARROW.names}
    for e in entries:
        for name in ENTRY_ARROW.names:
            cols[name].append(_lifted(e.lifted) if name == "lifted" else getattr(e, name))
    return pa.Table.from_pydict(cols, schema=ENTRY_ARROW)


def scores_table(scores: list[ScoreResult]) -> pa.Table:
    """ScoreResult objects as a frame of :data:`SCORE_ARROW`."""
    return pa.Table.from_pydict({
        "score": [s.score for s in scores], "subject_id": [s.subject_id for s in scores],
        "value": [s.value for s in scores], "grade": [s.grade for s in scores],
        "reasons": ["|".join(s.reasons) for s in scores]}, schema=SCORE_ARROW)


def _connect(engine: Engine, spark: SparkSession | None) -> Any:
    import ibis

    if engine == "duckdb":
        return ibis.duckdb.connect()
    if engine == "spark":
        if spark is None:
            from socialcredit.engines import local_spark

            spark = local_spark(None)
        return ibis.pyspark.connect(spark)
    raise InputError(f"unknown engine {engine!r}: python, duckdb or spark")


def _frames(policy: Policy, path: Path, as_of: dt.date, engine: Engine,
            spark: SparkSession | None) -> tuple[pa.Table, pa.Table]:
    with warnings.catch_warnings():
        # Ibis 12 calls DuckDB 2.0's deprecated fetch_arrow_table()
        warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
        con = _connect(engine, spark)
        table = con.read_parquet(str(path))
        entries, scores = compile_policy(policy).expressions(table, as_of)
        e = con.to_pyarrow(entries.order_by(["list", "subject_id", "key"]))
        s = con.to_pyarrow(scores.order_by(["score", "subject_id"]))
    e = e.cast(ENTRY_ARROW)  # dates to ISO strings
    return e, s.cast(SCORE_ARROW)


def evaluate_parquet_frames(policy: Policy, path: Path, as_of: dt.date, *,
                            engine: Engine = "duckdb", spark: SparkSession | None = None,
                            ) -> tuple[pa.Table, pa.Table]:
    """(entries, scores) of every subject of the export at ``path`` on ``as_of``, as Arrow
    tables of :data:`ENTRY_ARROW` and :data:`SCORE_ARROW`, sorted like :class:`BatchResult`.

    Raises:
        InputError: an unknown engine.
        ImportError: ``engine="spark"`` without pyspark (``pip install socialcredit[spark]``).
    """
    if engine == "python":
        entries, scores = _python(policy, Path(path), as_of)
        return entries_table(entries), scores_table(scores)
    return _frames(policy, Path(path), as_of, engine, spark)


def _split_lifted(text: str | None) -> tuple[tuple[str, str | None], ...]:
    if not text:
        return ()
    out = []
    for part in text.split("|"):
        svc, _, until = part.partition(":")
        out.append((svc, until or None))
    return tuple(out)


def evaluate_parquet(policy: Policy, path: Path, as_of: dt.date, *,
                     engine: Engine = "duckdb", spark: SparkSession | None = None,
                     ) -> BatchResult:
    """Entries and scores of every subject of the export at ``path`` on ``as_of``.

    ``engine``: ``python`` (the reference, :func:`rules.evaluate_records` per subject),
    ``duckdb`` or ``spark`` (the compiled policy; ``spark=None`` starts
    :func:`socialcredit.engines.local_spark`).

    Raises:
        InputError: an unknown engine.
        ImportError: ``engine="spark"`` without pyspark (``pip install socialcredit[spark]``).
    """
    path = Path(path)
    rows = pq.ParquetFile(path).metadata.num_rows
    start = time.perf_counter()
    if engine == "python":
        entries, scores = _python(policy, path, as_of)
        return BatchResult(entries, scores, rows, time.perf_counter() - start, engine)
    e, s = _frames(policy, path, as_of, engine, spark)
    seconds = time.perf_counter() - start
    entries = [DesiredEntry(r["list"], r["subject_id"], r["key"], r["status"], r["since"],
                            r["until"], r["ground"], r["record_id"], r["furnisher_id"],
                            r["platform"], r["ended_on"], r["end_reason"],
                            r["end_record_id"], _split_lifted(r["lifted"]))
               for r in e.to_pylist()]
    scores = [ScoreResult(r["score"], r["subject_id"], r["value"], r["grade"],
                          tuple(r["reasons"].split("|")) if r["reasons"] else ())
              for r in s.to_pylist()]
    return BatchResult(entries, scores, rows, seconds, engine)
