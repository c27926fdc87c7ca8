"""Furnisher rows spooled per block, then merged into date order and written in chunks.

Each block of people yields, per furnisher, an Arrow table of rows (the furnisher's columns
except ``furnisher_record_id`` and ``corrects``, plus ``_day`` — days since 1970-01-01 —,
``_key`` — a block-unique row key — and ``_corrects`` — the key of the row a correction
supersedes), sorted by ``_day`` in generation order.  :class:`Spool` appends them to one Arrow
IPC file per furnisher in a scratch folder, in batches of :data:`BUCKET_DAYS` days.
:meth:`Spool.finish` then reads those files a window of days at a time (about
:data:`WINDOW_ROWS` rows; each batch is read once), orders the window
stably by day (so the output is the same as one stable sort of every row), numbers the rows
(``<prefix>-00000001`` …), resolves ``corrects``, mixes in the deliberately broken rows
(:mod:`socialcredit.simulate.faults`) and appends the window to the furnisher's file.  Memory
is bounded by the block and the window, never by the population.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.faults import FaultCursor, inject_table_faults
from socialcredit.simulate.lines import csv_header, write_csv, write_jsonl
from socialcredit.simulate.records import Draft, FurnisherSpec

__all__ = [
    "BOOL_FIELDS",
    "BUCKET_DAYS",
    "INT_FIELDS",
    "WINDOW_ROWS",
    "Spool",
    "conform",
    "drafts_table",
    "row_schema",
]

INT_FIELDS = frozenset({"amount_minor", "ground", "days_past_due", "rating", "years",
                        "rating_year"})
BOOL_FIELDS = frozenset({"full", "full_time"})
WINDOW_ROWS = 250_000
BUCKET_DAYS = 8
_EPOCH = dt.date(1970, 1, 1).toordinal()
_INTERNAL = ("_day", "_key", "_corrects")


def row_schema(spec: FurnisherSpec) -> pa.Schema:
    """The spooled row schema of ``spec`` (see the module docstring)."""
    fields = [pa.field("_day", pa.int32()), pa.field("_key", pa.int64()),
              pa.field("_corrects", pa.int64())]
    for name in spec.columns:
        if name in ("furnisher_record_id", "corrects"):
            continue
        kind = (pa.int64() if name in INT_FIELDS
                else pa.bool_() if name in BOOL_FIELDS else pa.string())
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def sort_by_day(table: pa.Table) -> pa.Table:
    """``table`` stably sorted by ``_day``."""
    order = np.argsort(table["_day"].to_numpy(), kind="stable")
    return table.take(order)


def conform(spec: FurnisherSpec, columns: dict[str, pa.Array]) -> pa.Table:
    """A table of :func:`row_schema` from ``columns`` (absent columns null), sorted by day."""
    schema = row_schema(spec)
    n = len(columns["_day"])
    arrays = [
        pc.cast(columns[f.name], f.type) if f.name in columns else pa.nulls(n, f.type)
        for f in schema
    ]
    return sort_by_day(pa.Table.from_arrays(arrays, schema=schema))


def drafts_table(spec: FurnisherSpec, drafts: Sequence[Draft], block: int) -> pa.Table:
    """The spooled rows of ``drafts`` (one block's drafts of ``spec``, in generation order)."""
    keys = {id(d): (block << 32) | n for n, d in enumerate(drafts)}
    rows = []
    for draft in drafts:
        row: dict[str, object] = {
            "_day": draft.occurred_at.toordinal() - _EPOCH,
            "_key": keys[id(draft)],
            "kind": draft.kind,
            "occurred_at": draft.occurred_at.isoformat(),
        }
        if draft.corrects is not None:
            row["_corrects"] = keys[id(draft.corrects)]
        if draft.with_national_id:
            row["national_id"] = draft.person.national_id
        if draft.with_phone:
            row["phone"] = draft.person.phone
        if draft.with_name:
            row["name"] = draft.person.name
        row.update(draft.fields)
        rows.append(row)
    return sort_by_day(pa.Table.from_pylist(rows, schema=row_schema(spec)))


def record_ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """``furnisher_record_id``s ``<prefix>-00000042`` for ``numbers``."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), 8, "0")
    return pc.binary_join_element_wise(f"{prefix}-", digits, "")


def _windows(buckets: list[tuple[int, int]], rows: int) -> list[list[int]]:
    """Batch numbers grouped into windows of consecutive buckets of about ``rows`` rows (one
    bucket is never split); ``buckets`` holds (bucket, rows) per batch, in batch order."""
    by_bucket: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    for number, (bucket, n) in enumerate(buckets):
        by_bucket.setdefault(bucket, []).append(number)
        sizes[bucket] = sizes.get(bucket, 0) + n
    windows: list[list[int]] = []
    current: list[int] = []
    size = 0
    for bucket in sorted(by_bucket):
        if current and size + sizes[bucket] > rows:
            windows.append(sorted(current))
            current, size = [], 0
        current += by_bucket[bucket]
        size += sizes[bucket]
    if current:
        windows.append(sorted(current))
    return windows


class Spool:
    """Scratch files of spooled rows, one per furnisher, under ``folder``: each block's rows
    are cut into record batches of :data:`BUCKET_DAYS` days, so that a window reads only its
    own batches, once."""

    def __init__(self, folder: Path, specs: Sequence[FurnisherSpec]) -> None:
        self.folder = folder
        self.specs = tuple(specs)
        self._writers: dict[str, pa.ipc.RecordBatchFileWriter] = {}
        self._buckets: dict[str, list[tuple[int, int]]] = {}

    def add(self, spec: FurnisherSpec, table: pa.Table) -> None:
        """Append one block's rows of ``spec`` (sorted by day, :func:`row_schema`)."""
        if table.num_rows == 0:
            return
        writer = self._writers.get(spec.name)
        if writer is None:
            writer = pa.ipc.new_file(self.folder / f"{spec.name}.arrow", row_schema(spec))
            self._writers[spec.name] = writer
            self._buckets[spec.name] = []
        table = table.combine_chunks()
        bucket = table["_day"].to_numpy() // BUCKET_DAYS
        cuts = np.concatenate([[0], np.nonzero(np.diff(bucket))[0] + 1, [len(bucket)]])
        for start, stop in zip(cuts[:-1], cuts[1:], strict=True):
            for batch in table.slice(int(start), int(stop - start)).to_batches():
                writer.write_batch(batch)
                self._buckets[spec.name].append((int(bucket[start]), batch.num_rows))

    def finish(
        self, out_dir: Path, rng: random.Random, bad_row_rate: float
    ) -> dict[str, tuple[int, int]]:
        """Write every furnisher's file into ``out_dir``; return name → (rows, bad rows)."""
        for writer in self._writers.values():
            writer.close()
        cursor = FaultCursor()
        return {spec.name: self._merge(spec, out_dir / spec.file, rng, bad_row_rate, cursor)
                for spec in self.specs}

    def _merge(self, spec: FurnisherSpec, path: Path, rng: random.Random, rate: float,
               cursor: FaultCursor) -> tuple[int, int]:
        buckets = self._buckets.get(spec.name, [])
        number, bad_rows = 0, 0
        bad_number = sum(n for _, n in buckets)
        write = write_csv if spec.fmt == "csv" else write_jsonl
        with path.open("wb") as fh:
            if spec.fmt == "csv":
                fh.write(csv_header(spec.columns))
            if not buckets:
                return 0, 0
            with pa.OSFile(str(self.folder / f"{spec.name}.arrow")) as source:
                reader = pa.ipc.open_file(source)
                for batches in _windows(buckets, WINDOW_ROWS):
                    window = sort_by_day(pa.Table.from_batches(
                        [reader.get_batch(i) for i in batches], row_schema(spec)))
                    numbers = np.arange(number + 1, number + window.num_rows + 1)
                    number += window.num_rows
                    table = self._numbered(spec, window, numbers)
                    table, bad, bad_number = inject_table_faults(rng, spec, table, rate, cursor,
                                                                 bad_number)
                    bad_rows += bad
                    write(fh, table, spec.columns)
        return number + bad_rows, bad_rows

    @staticmethod
    def _numbered(spec: FurnisherSpec, window: pa.Table, numbers: np.ndarray) -> pa.Table:
        """``window`` with ``furnisher_record_id`` and ``corrects`` and without ``_`` columns."""
        ids = record_ids(spec.id_prefix, numbers)
        corrects: pa.Array = pa.nulls(window.num_rows, pa.string())
        if window["_corrects"].null_count < window.num_rows:
            wanted = pc.fill_null(window["_corrects"], -1).to_numpy()
            keys = window["_key"].to_numpy()
            at = np.nonzero(wanted >= 0)[0]
            order = np.argsort(keys)
            pos = order[np.minimum(np.searchsorted(keys[order], wanted[at]), len(keys) - 1)]
            if (keys[pos] != wanted[at]).any() or (pos >= at).any():
                raise ValueError("a correction must follow the record it corrects")
            full = np.full(window.num_rows, -1, np.int64)
            full[at] = pos
            corrects = pc.if_else(pa.array(full >= 0), ids.take(pa.array(np.maximum(full, 0))),
                                  pa.scalar(None, pa.string()))
        table = window.drop_columns(list(_INTERNAL))
        table = table.append_column("furnisher_record_id", ids).append_column("corrects", corrects)
        return table.select(list(spec.columns))
