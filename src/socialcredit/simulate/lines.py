"""Arrow tables → CSV / JSON Lines bytes, a chunk at a time, with the simulator's conventions.

CSV: UTF-8, ``\\n`` line ends, a cell quoted only when it holds a comma, a double quote or a
line break (as :mod:`csv`'s ``QUOTE_MINIMAL`` does), nulls as empty cells, booleans as
``true``/``false``.  JSON Lines: one compact object per line, keys in column order, null values
omitted, non-ASCII characters kept as they are (``ensure_ascii=False``).  Arrow's CSV writer writes
CSV chunks with nothing to quote; JSON lines are joined by Arrow compute kernels; no Python
code runs per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

__all__ = ["csv_header", "write_csv", "write_jsonl"]


def _text(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as strings (nulls kept)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    return pc.cast(column, pa.string())


def _bytes(arrays: list[pa.Array]) -> np.ndarray:
    """The UTF-8 bytes of string arrays, concatenated (offsets ignored: a superset is fine)."""
    parts = [np.frombuffer(a.buffers()[2], np.uint8) for a in arrays
             if len(a) and a.buffers()[2] is not None]
    return np.concatenate(parts) if parts else np.empty(0, np.uint8)


def _has_any(arrays: list[pa.Array], chars: str) -> bool:
    data = _bytes(arrays)
    return any(bool((data == ord(c)).any()) for c in chars) or (
        "\x00" in chars and bool((data < 0x20).any()))


def csv_header(columns: Sequence[str]) -> bytes:
    """The header line of a CSV file with ``columns``."""
    return (",".join(columns) + "\n").encode("utf-8")


def _write(fh: BinaryIO, lines: pa.Array) -> None:
    """Write the concatenated bytes of a string array without nulls."""
    if len(lines) == 0:
        return
    _, offsets_buf, data = lines.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)
    offsets = offsets[lines.offset : lines.offset + len(lines) + 1]
    fh.write(memoryview(data)[int(offsets[0]) : int(offsets[-1])])


def _quoted(cells: pa.Array) -> pa.Array:
    if not _has_any([cells], ',"\n\r'):
        return cells
    needs = pc.match_substring_regex(cells, r'[,"\n\r]')
    escaped = pc.binary_join_element_wise('"', pc.replace_substring(cells, '"', '""'), '"', "")
    return pc.if_else(needs, escaped, cells)


def write_csv(fh: BinaryIO, table: pa.Table, columns: Sequence[str]) -> None:
    """Append ``table``'s rows as CSV lines (``columns`` in that order, absent ones empty)."""
    n = table.num_rows
    if n == 0:
        return
    cells = {}
    plain = True
    for name in columns:
        if name in table.column_names:
            column = table[name].combine_chunks()
            cells[name] = column
            if pa.types.is_string(column.type) and _has_any([column], ',"\n\r'):
                plain = False
        else:
            cells[name] = pa.nulls(n, pa.string())
    if plain:  # Arrow's writer, nothing to quote
        pcsv.write_csv(pa.table(cells), fh,
                       pcsv.WriteOptions(include_header=False, quoting_style="none"))
        return
    quoted = [_quoted(pc.fill_null(_text(cells[name]), "")) for name in columns]
    _write(fh, pc.binary_join_element_wise(pc.binary_join_element_wise(*quoted, ","), "\n", ""))


def _json_string(cells: pa.Array) -> pa.Array:
    if _has_any([cells], '"\\\x00'):
        if pc.any(pc.match_substring_regex(cells, r"[\x00-\x1f]")).as_py():
            raise ValueError("control characters in a simulated value")
        cells = pc.replace_substring(cells, "\\", "\\\\")
        cells = pc.replace_substring(cells, '"', '\\"')
    return cells


def write_jsonl(fh: BinaryIO, table: pa.Table, columns: Sequence[str]) -> None:
    """Append ``table``'s rows as JSON Lines (keys in ``columns`` order, nulls omitted; the
    first column must have no nulls)."""
    n = table.num_rows
    if n == 0:
        return
    present = [c for c in columns if c in table.column_names]
    if table[present[0]].null_count:
        raise ValueError(f"{present[0]} must be present in every JSON line")
    parts = []
    for i, name in enumerate(present):
        column = table[name].combine_chunks()
        quote = '"' if pa.types.is_string(column.type) else ""
        values = _json_string(column) if quote else _text(column)
        opening = pa.repeat(pa.scalar(f'{"," if i else "{"}"{name}":{quote}'), n)
        if quote:
            parts.append(pc.binary_join_element_wise(opening, values, pa.repeat(quote, n), ""))
        else:
            parts.append(pc.binary_join_element_wise(opening, values, ""))
    parts.append(pa.repeat(pa.scalar("}\n"), n))
    _write(fh, pc.binary_join_element_wise(*parts, "", null_handling="skip"))
