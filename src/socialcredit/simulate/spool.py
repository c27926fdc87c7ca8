"""Furnisher rows spooled per block, then merged into date order and written in chunks.

Each block of people yields, per furnisher, an Arrow table of rows (the furnisher's columns
except ``furnisher_record_id`` and ``corrects``, plus ``_day`` — days since 1970-01-01 —,
``_key`` — a block-unique row key — and ``_corrects`` — the key of the row a correction
supersedes), sorted by ``_day`` in generation order.  :class:`Spool` appends them to one Arrow
IPC file per furnisher in a scratch folder.  :meth:`Spool.finish` then reads those files
memory-mapped, a window of days at a time (about :data:`WINDOW_ROWS` rows), orders the window
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

__all__ = ["BOOL_FIELDS", "INT_FIELDS", "WINDOW_ROWS", "Spool", "drafts_table", "row_schema"]

INT_FIELDS = frozenset({"amount_minor", "ground", "days_past_due", "rating", "years"})
BOOL_FIELDS = frozenset({"full", "full_time"})
WINDOW_ROWS = 500_000
_EPOCH = dt.date(1970, 1, 1).toordinal()
_INTERNAL = ("_day", "_key", "_corrects")


def row_schema(spec: FurnisherSpec) -> pa.Schema:
    """The spooled row schema of ``spec`` (see the module docstring)."""
    fields = [pa.field("_day", pa.int32()), pa.field("_key", pa.int64()),
              pa.field("_corrects", pa.int64())]
    for name in spec.columns:
        if name in ("furnisher_record_id", "corrects"):
            continue
        kind = pa.int64() if name in INT_FIELDS else pa.bool_() if name in BOOL_FIELDS else pa.string()
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


def _windows(days: list[np.ndarray], rows: int) -> list[tuple[int, int]]:
    """Day ranges [lo, hi) holding about ``rows`` rows each (a busier day is never split)."""
    days = [d for d in days if len(d)]
    if not days:
        return []
    lo = min(int(d[0]) for d in days)
    hi = max(int(d[-1]) for d in days) + 1
    counts = sum(np.bincount(d - lo, minlength=hi - lo) for d in days)
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, np.arange(rows, int(cum[-1]), rows), side="left") + 1
    bounds = np.unique(np.concatenate([[0], cuts, [hi - lo]])) + lo
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class Spool:
    """Scratch files of spooled rows, one per furnisher, under ``folder``."""

    def __init__(self, folder: Path, specs: Sequence[FurnisherSpec]) -> None:
        self.folder = folder
        self.specs = tuple(specs)
        self._writers: dict[str, pa.ipc.RecordBatchFileWriter] = {}

    def add(self, spec: FurnisherSpec, table: pa.Table) -> None:
        """Append one block's rows of ``spec`` (sorted by day, :func:`row_schema`)."""
        if table.num_rows == 0:
            return
        writer = self._writers.get(spec.name)
        if writer is None:
            writer = pa.ipc.new_file(self.folder / f"{spec.name}.arrow", row_schema(spec))
            self._writers[spec.name] = writer
        writer.write_table(table.combine_chunks(), max_chunksize=1 << 30)

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
        batches: list[pa.RecordBatch] = []
        if spec.name in self._writers:
            reader = pa.ipc.open_file(pa.memory_map(str(self.folder / f"{spec.name}.arrow")))
            batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        days = [b.column("_day").to_numpy() for b in batches]
        number, bad_number, bad_rows = 0, sum(len(d) for d in days), 0
        columns = spec.columns
        write = write_csv if spec.fmt == "csv" else write_jsonl
        with path.open("wb") as fh:
            if spec.fmt == "csv":
                fh.write(csv_header(columns))
            for lo, hi in _windows(days, WINDOW_ROWS):
                pieces = []
                for batch, d in zip(batches, days, strict=True):
                    start, stop = np.searchsorted(d, [lo, hi], side="left")
                    if stop > start:
                        pieces.append(batch.slice(int(start), int(stop - start)))
                window = sort_by_day(pa.Table.from_batches(pieces, row_schema(spec)))
                numbers = np.arange(number + 1, number + window.num_rows + 1)
                number += window.num_rows
                table = self._numbered(spec, window, numbers)
                table, bad, bad_number = inject_table_faults(rng, spec, table, rate, cursor,
                                                             bad_number)
                bad_rows += bad
                write(fh, table, columns)
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
