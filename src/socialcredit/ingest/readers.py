"""Readers of furnisher files: CSV, JSON Lines and Parquet, one raw row at a time.

Each reader yields :class:`RawRow` (``line``: 1-based physical line of the row in the file, the
header being line 1 for CSV; row number for Parquet; ``data``: field → value as strings or JSON
scalars; ``problem``: why the row could not be read at all, e.g. bytes that are not UTF-8).
A reader never raises for one bad row; it raises :class:`~socialcredit.errors.InputError` only
for a file it cannot open or whose format is unknown.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socialcredit.errors import InputError

__all__ = ["FORMATS", "RawRow", "detect_format", "read_rows"]

FORMATS = ("csv", "jsonl", "parquet")
_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet"}


@dataclass
class RawRow:
    line: int
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    raw: str | None = None


def detect_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the suffix (raises InputError otherwise)."""
    fmt = _SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown file type {path.suffix!r}; use .csv, .jsonl or .parquet",
            details={"file": str(path)},
        )
    return fmt


def _bad_utf8(text: str) -> int | None:
    """Index of the first undecodable byte (kept as a lone surrogate), or None."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return i
    return None


def _read_csv(data: bytes) -> Iterator[RawRow]:
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        yield RawRow(1, problem=f"unreadable CSV header: {e}")
        return
    names = [h.strip().lower() for h in header]
    line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield RawRow(reader.line_num, problem=f"malformed CSV: {e}")
            continue
        start, line = line + 1, reader.line_num
        raw = ",".join(cells)
        if not any(c.strip() for c in cells):
            continue  # blank line
        bad = _bad_utf8(raw)
        if bad is not None:
            yield RawRow(start, problem="bytes that are not UTF-8 in this row "
                         "(re-encode the file as UTF-8)", raw=raw.encode("utf-8",
                         "backslashreplace").decode())
            continue
        if len(cells) != len(names):
            yield RawRow(start, problem=f"{len(cells)} cells where the header has {len(names)}",
                         raw=raw)
            continue
        yield RawRow(start, {k: v for k, v in zip(names, cells, strict=True) if v.strip()},
                     raw=raw)


def _read_jsonl(data: bytes) -> Iterator[RawRow]:
    for n, raw_line in enumerate(data.splitlines(), start=1):
        if not raw_line.strip():
            continue
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as e:
            yield RawRow(n, problem=f"bytes that are not UTF-8 at column {e.start + 1} "
                         "(re-encode the file as UTF-8)")
            continue
        if n == 1:
            text = text.removeprefix("\ufeff")
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield RawRow(n, problem=f"not valid JSON: {e.msg} at column {e.colno}", raw=text)
            continue
        if not isinstance(obj, dict):
            yield RawRow(n, problem="a JSON Lines row must be an object", raw=text)
            continue
        yield RawRow(n, {str(k).lower(): v for k, v in obj.items() if v is not None and v != ""},
                     raw=text)


def _read_parquet(path: Path) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file: {e}",
                         details={"file": str(path)}) from e
    for n, row in enumerate(table.to_pylist(), start=1):
        yield RawRow(n, {k.lower(): v for k, v in row.items() if v is not None and v != ""})


def read_rows(path: Path, fmt: str | None = None) -> Iterator[RawRow]:
    """Yield the rows of a furnisher file (see the module docstring).

    Raises:
        InputError: the file does not exist or cannot be read, or its type is unknown.
    """
    fmt = fmt or detect_format(path)
    if fmt == "parquet":
        yield from _read_parquet(path)
        return
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read file: {e.strerror}",
                         details={"file": str(path)}) from e
    yield from (_read_csv(data) if fmt == "csv" else _read_jsonl(data))
