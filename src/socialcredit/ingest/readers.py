"""Readers of furnisher files: CSV, JSON Lines and Parquet, one raw row at a time.

Each reader yields :class:`RawRow` (``line``: 1-based physical line where the row starts, the
header being line 1 for CSV, each row on its own line; row number for Parquet; ``data``:
field → value as strings or JSON scalars; ``problem``: why the row could not be read at all,
e.g. bytes that are not UTF-8; ``problems``: (field, reason) pairs where a reader found
problems in named fields (a Metro 2 record: ``line`` is then its byte position); ``raw``: the
row's text, safe to store: NUL and undecodable bytes escaped as ``\\x00``/``\\xff``).
Metro 2 files (``fmt`` ``metro2``, never guessed from the suffix) are read by
:func:`socialcredit.ingest.metro2_map.metro2_rows`, which needs the policy.
A reader never raises for one bad row; it raises :class:`~socialcredit.errors.InputError` for a
problem of the whole file, before yielding any row: a file it cannot open, an unknown format,
UTF-16/UTF-32 text (a byte-order mark), or a CSV header that is unreadable, not UTF-8, holds
control characters, names a column twice or lacks a required column
(:data:`REQUIRED_COLUMNS`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from socialcredit.errors import InputError
from socialcredit.store.ledger import parse_json

__all__ = ["FORMATS", "MAX_LINE_BYTES", "REQUIRED_COLUMNS", "RawRow", "detect_format",
           "file_sha256", "read_rows", "row_of", "storable"]

FORMATS = ("csv", "jsonl", "parquet", "metro2")
_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet"}
#: Columns every CSV header names (every row needs them, so a header without one would only
#: quarantine every row).
REQUIRED_COLUMNS = ("furnisher_record_id", "kind", "occurred_at")
#: Byte-order marks of encodings other than UTF-8 (longest first: UTF-32 LE starts like UTF-16).
_OTHER_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
               (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


@dataclass
class RawRow:
    line: int
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    raw: str | None = None
    problems: tuple[tuple[str | None, str], ...] = ()

    def issues(self) -> list[tuple[str | None, str]]:
        """Every (field, reason) that keeps the row from validation; [] for a readable row."""
        return ([(None, self.problem)] if self.problem is not None else []) + list(
            self.problems)


def detect_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the suffix (raises InputError otherwise)."""
    fmt = _SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unknown file type {path.suffix!r}; use .csv, .jsonl or .parquet (or "
            "name the format, e.g. --format metro2)",
            details={"file": str(path)},
        )
    return fmt


def storable(text: str) -> str:
    """``text`` with NUL characters and undecodable bytes (lone surrogates) escaped
    (``\\x00``, ``\\xff``), so that every store can hold it (PostgreSQL refuses NUL in
    text; no store takes a lone surrogate)."""
    try:  # bytes kept by surrogateescape come back as backslash, x, hex digits
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # other lone surrogates, e.g. from a JSON "\\ud800" escape
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def _bad_utf8(text: str) -> int | None:
    """Index of the first undecodable byte (kept as a lone surrogate), or None."""
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            return i
    return None


def _check_encoding(data: bytes, where: str) -> None:
    for bom, encoding in _OTHER_BOMS:
        if data.startswith(bom):
            raise InputError(f"{where}: the file is {encoding} (it starts with a {encoding} "
                             "byte-order mark); re-encode it as UTF-8",
                             details={"file": where, "encoding": encoding})


def _header(header: list[str], where: str) -> list[str]:
    """Column names of a CSV header, stripped and lower-case (raises InputError)."""
    def refuse(why: str) -> InputError:
        return InputError(f"{where}: line 1, the header, {why}",
                          details={"file": where, "line": 1})

    text = ",".join(header)
    if _bad_utf8(text) is not None:
        raise refuse("holds bytes that are not UTF-8; re-encode the file as UTF-8")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise refuse("holds control characters (is this a binary or UTF-16 file?)")
    names = [h.strip().lower() for h in header]
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in first and name:
            raise refuse(f"names the column {name!r} twice (columns {first[name]} and {i})")
        first.setdefault(name, i)
    missing = [c for c in REQUIRED_COLUMNS if c not in first]
    if missing:
        raise refuse(f"lacks the required column(s) {', '.join(missing)}; the first line "
                     f"must name the columns, e.g. {','.join(REQUIRED_COLUMNS)},…")
    return names


#: Longest physical line read, in bytes (1 MiB). A furnisher row is a few hundred bytes (every
#: text field is capped, ``validate.MAX_CHARS``); a longer line is quarantined unread, so that a
#: file with a line of a billion characters is read in bounded memory.
MAX_LINE_BYTES = 1 << 20
#: Bytes read at a time when hashing or skipping the rest of an overlong line.
_BLOCK = 1 << 20


def _lines(fh: BinaryIO, too_long: list[int]) -> Iterator[str]:
    """The physical lines of ``fh`` (ending ``\\n``) decoded as UTF-8 with undecodable bytes
    kept as lone surrogates (a UTF-8 sequence never spans a newline byte). A line longer than
    :data:`MAX_LINE_BYTES` is consumed in blocks without being held, its 1-based number is
    appended to ``too_long``, and an empty line stands in for it."""
    n = 0
    while True:
        chunk = fh.readline(MAX_LINE_BYTES + 1)
        if not chunk:
            return
        n += 1
        if len(chunk) > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
            while chunk and not chunk.endswith(b"\n"):
                chunk = fh.readline(_BLOCK)
            too_long.append(n)
            yield "\n"
            continue
        text = chunk.decode("utf-8", errors="surrogateescape")
        yield text.removeprefix("\ufeff") if n == 1 else text


def _too_long(line: int) -> RawRow:
    return RawRow(line, problem=f"line longer than {MAX_LINE_BYTES:,} bytes (the limit of one "
                  "row); not read")


def _open(path: Path) -> BinaryIO:
    try:
        fh: BinaryIO = path.open("rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read file: {e.strerror}",
                         details={"file": str(path)}) from e
    try:
        _check_encoding(fh.read(4), str(path))
    except InputError:
        fh.close()
        raise
    fh.seek(0)
    return fh


def _read_csv(fh: BinaryIO, where: str) -> Iterator[RawRow]:
    too_long: list[int] = []
    reader = csv.reader(_lines(fh, too_long))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"{where}: line 1, the header, is not readable CSV: {e}",
                         details={"file": where, "line": 1}) from e
    if too_long:
        raise InputError(f"{where}: line 1, the header, is longer than {MAX_LINE_BYTES:,} "
                         "bytes", details={"file": where, "line": 1})
    names = _header(header, where)
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            yield from (_too_long(n) for n in too_long)
            return
        except csv.Error as e:
            line = reader.line_num
            yield RawRow(start, problem=f"malformed CSV: {e}")
            cells = []
        line = reader.line_num
        while too_long and too_long[0] <= line:
            yield _too_long(too_long.pop(0))
        if not cells:
            continue
        raw = ",".join(cells)
        if not any(c.strip() for c in cells):
            continue  # blank line
        if _bad_utf8(raw) is not None:
            yield RawRow(start, problem="bytes that are not UTF-8 in this row "
                         "(re-encode the file as UTF-8)", raw=storable(raw))
            continue
        if len(cells) != len(names):
            span = (f" (the row runs over lines {start}-{line}: is a quote left open?)"
                    if line > start else "")
            yield RawRow(start, problem=f"{len(cells)} cells where the header has "
                         f"{len(names)}{span}", raw=storable(raw))
            continue
        yield RawRow(start, {k: v for k, v in zip(names, cells, strict=True) if v.strip()},
                     raw=storable(raw))


def _read_jsonl(fh: BinaryIO, where: str) -> Iterator[RawRow]:
    n = 0
    while True:
        block = fh.readline(MAX_LINE_BYTES + 1)
        if not block:
            return
        if len(block) > MAX_LINE_BYTES and not block.endswith(b"\n"):
            while block and not block.endswith(b"\n"):
                block = fh.readline(_BLOCK)
            n += 1
            yield _too_long(n)
            continue
        for raw_line in block.splitlines():  # also splits at a lone carriage return
            n += 1
            if raw_line.strip():
                yield _jsonl_row(n, raw_line)


def _jsonl_row(n: int, raw_line: bytes) -> RawRow:
    try:
        text = raw_line.decode("utf-8")
    except UnicodeDecodeError as e:
        return RawRow(n, problem=f"bytes that are not UTF-8 at column {e.start + 1} "
                      "(re-encode the file as UTF-8)",
                      raw=storable(raw_line.decode("utf-8", "surrogateescape")))
    if n == 1:
        text = text.removeprefix("\ufeff")
    try:
        obj = parse_json(text)
    except json.JSONDecodeError as e:
        return RawRow(n, problem=f"not valid JSON: {e.msg} at column {e.colno}",
                      raw=storable(text))
    except (ValueError, RecursionError) as e:  # an integer over 4,300 digits; deep nesting
        why = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        return RawRow(n, problem=f"not valid JSON for the registry: {why}", raw=storable(text))
    if not isinstance(obj, dict):
        return RawRow(n, problem="a JSON Lines row must be an object", raw=storable(text))
    return row_of(n, obj, storable(text))


def row_of(n: int, obj: dict[Any, Any], raw: str | None = None) -> RawRow:
    """One record object (a JSON Lines line, a record of ``POST /v1/records``) as a row: keys
    lower-cased, empty values dropped. Keys that differ only in case make the row a problem
    (quarantined) rather than one silently winning."""
    keys = [str(k).lower() for k in obj]
    if len(set(keys)) < len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        return RawRow(n, problem="keys that differ only in case: "
                      + ", ".join(repr(storable(k)) for k in twice), raw=raw)
    return RawRow(n, {str(k).lower(): v for k, v in obj.items() if v is not None and v != ""},
                  raw=raw)


def _read_parquet(path: Path, batch_rows: int = 10_000) -> Iterator[RawRow]:
    import pyarrow.parquet as pq

    try:
        pfile = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several types for a corrupt file
        raise InputError(f"{path}: not a readable Parquet file: {e}",
                         details={"file": str(path)}) from e
    n = 0
    try:
        for batch in pfile.iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                n += 1
                yield RawRow(n, {k.lower(): v for k, v in row.items()
                                 if v is not None and v != ""})
    except OSError as e:  # a row group that cannot be decoded: the rows before it landed
        raise InputError(f"{path}: row group after row {n} is not readable Parquet: {e}",
                         details={"file": str(path), "line": n + 1}) from e


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks of 1 MiB (any size, bounded memory).

    Raises:
        InputError: the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while block := fh.read(_BLOCK):
                digest.update(block)
    except OSError as e:
        raise InputError(f"{path}: cannot read file: {e.strerror}",
                         details={"file": str(path)}) from e
    return digest.hexdigest()


def read_rows(path: Path, fmt: str | None = None) -> Iterator[RawRow]:
    """Yield the rows of a CSV, JSON Lines or Parquet file (see the module docstring).

    Raises:
        InputError: the file does not exist or cannot be read, its type is unknown, it is
            UTF-16/UTF-32, or its CSV header is unusable (see the module docstring).
    """
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS or fmt == "metro2":
        raise InputError(f"{path}: unknown format {fmt!r}; use {', '.join(FORMATS)}",
                         details={"file": str(path)})
    if fmt == "parquet":
        yield from _read_parquet(path)
        return
    with _open(path) as fh:
        yield from (_read_csv(fh, str(path)) if fmt == "csv" else _read_jsonl(fh, str(path)))
