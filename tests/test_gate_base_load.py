"""The gate's base table read from the store in columns (gate/base_load.py) is the table built
from one Python object per entry (``CompactTable.from_entries``), column by column, on a
simulated population with every list of the default policy, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.gate import base_load
from socialcredit.gate.base_load import load_base
from socialcredit.gate.codes import encode_key
from socialcredit.gate.compact import CompactTable
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.simulate import simulate

AS_OF = dt.date(2026, 6, 30)

COLUMNS = ("codes", "key_row", "subject_ids", "row_start", "row_mask", "row_until", "entry_id",
           "entry_list", "entry_ground", "entry_since", "entry_until", "entry_furnisher",
           "entry_platform", "entry_mask")


def test_columns_from_the_store_equal_the_table_built_from_entry_rows(
        registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base_load, "BLOCK_ROWS", 7)  # many blocks, a partial last one
    manifest = simulate(tmp_path / "sim", subjects=1500, seed=3, as_of=AS_OF)
    for f in manifest.furnishers:
        add_furnisher(registry.store, name=f.name, kind=f.kind)
        ingest_file(registry.store, registry.policy, as_of=AS_OF, path=tmp_path / "sim" / f.file,
                    furnisher_id=furnisher_id(registry.store, f.name))
    index = registry.gate_index
    with registry.store.read() as conn:
        entries, keys, names = index._load(conn, None)
        columns, hashed, name_keys = load_base(conn, registry.policy, index.services)
    reference = CompactTable.from_entries(index.services, entries,
                                          [(encode_key(k), sid) for k, sid in keys])
    assert len(reference.entry_id) > 15 and len(reference.codes) > 15  # a real population
    assert len(set(reference.lists)) > 1
    assert columns.lists == reference.lists and columns.labels == reference.labels
    for name in COLUMNS:
        mine, theirs = getattr(columns, name), getattr(reference, name)
        assert mine.dtype == theirs.dtype, name
        # keys come in the store's order in both, but compare as sets of (code, row) pairs
        if name in ("codes", "key_row"):
            continue
        assert np.array_equal(mine, theirs), name
    pairs = sorted(zip(columns.codes.tolist(), columns.key_row.tolist(), strict=True))
    assert pairs == sorted(zip(reference.codes.tolist(), reference.key_row.tolist(),
                               strict=True))
    assert {c: k for c, k in hashed.items() if c in set(columns.codes.tolist())} == {
        encode_key(k): k for k, _ in keys if encode_key(k) in hashed}
    assert dict(name_keys) == dict(names)
