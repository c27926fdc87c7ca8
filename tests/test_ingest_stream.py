"""Ingest at any size: files are streamed, an overlong line is quarantined unread, a bad row
late in a file loses nothing before or after it, and chunking never changes an outcome.

The chunk-invariance property test is the reference check of the set-based write path: the
same random furnisher file ingested one row per transaction (the row path) and in large chunks
(the set-based path) must leave the same records, quarantine, subjects, identifiers, links,
entries, scores and ledger payloads, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, select

from conftest import PG_ENV, TODAY, make_id, write_csv, write_jsonl
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.ingest.readers import MAX_LINE_BYTES
from socialcredit.settings import Settings
from socialcredit.store.replay import replay
from socialcredit.store.scratch import scratch_database
from socialcredit.store.tables import (
    events,
    identifiers,
    link_candidates,
    links,
    list_entries,
    quarantine,
    records,
    scores,
    subjects,
)


def finding(frid: str, nid: str | None, phone: str | None = None, **kw: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"furnisher_record_id": frid, "kind": "dishonesty_finding",
                           "occurred_at": "2026-03-01", "name": "张伟",
                           "case_number": f"(2026)京0101执{frid}号", "ground": 1,
                           "amount_minor": 500_000, "currency": "CNY"}
    if nid:
        row["national_id"] = nid
    if phone:
        row["phone"] = phone
    row.update(kw)
    return row


def _court(reg: Registry) -> int:
    add_furnisher(reg.store, name="court-stream", kind="court")
    return furnisher_id(reg.store, "court-stream")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_overlong_line_is_quarantined_unread_in_bounded_memory(
        registry: Registry, tmp_path: Path, fmt: str) -> None:
    rows = [finding(str(i), make_id(seq=100 + i)) for i in range(6)]
    path = (write_csv if fmt == "csv" else write_jsonl)(tmp_path / f"f.{fmt}", rows)
    lines = path.read_bytes().splitlines(keepends=True)
    huge = 8 * MAX_LINE_BYTES  # a line eight times the limit, in the middle of the file
    bad_line = 4 if fmt == "csv" else 3  # CSV: line 1 is the header
    lines.insert(bad_line - 1, b"x" * huge + b"\n")
    path.write_bytes(b"".join(lines))
    fid = _court(registry)
    tracemalloc.start()
    try:
        result = ingest_file(registry.store, registry.policy, furnisher_id=fid, path=path,
                             as_of=TODAY, chunk_rows=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < huge / 2, f"the overlong line was held: peak {peak:,} bytes"
    assert result.accepted == 6 and result.rejected == 1
    assert result.problems == [{"file": str(path), "line": bad_line, "field": None,
                                "reason": f"line longer than {MAX_LINE_BYTES:,} bytes (the "
                                          "limit of one row); not read"}]
    again = ingest_file(registry.store, registry.policy, furnisher_id=fid, path=path,
                        as_of=TODAY, chunk_rows=2)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 6, 1)
    with registry.store.read() as conn:
        assert len(conn.execute(select(quarantine.c.id)).all()) == 1
        assert len(conn.execute(select(records.c.id)).all()) == 6


def test_a_bad_row_late_in_a_file_loses_nothing(registry: Registry, tmp_path: Path) -> None:
    n = 3000
    rows = [finding(str(i), make_id(birth="19700101", seq=i % 1000) if i % 1000 else None,
                    phone=None if i % 1000 else "13800000000") for i in range(n)]
    rows[n - 7]["amount_minor"] = "lots"  # the bad row: line n - 7 + 2 of the CSV
    path = write_csv(tmp_path / "late.csv", rows)
    fid = _court(registry)
    result = ingest_file(registry.store, registry.policy, furnisher_id=fid, path=path,
                         as_of=TODAY, chunk_rows=500)
    assert result.rejected == 1 and result.accepted + result.duplicates == n - 1
    assert result.problems[0]["line"] == n - 7 + 2
    assert result.problems[0]["field"] == "amount_minor"
    again = ingest_file(registry.store, registry.policy, furnisher_id=fid, path=path,
                        as_of=TODAY, chunk_rows=500)
    assert again.accepted == 0 and again.duplicates == n - 1


# -- chunk invariance --------------------------------------------------------------------------

PEOPLE = [make_id(birth=f"19{60 + i}0{1 + i % 9}1{i % 10}", seq=10 + 2 * i) for i in range(5)]
PHONES = ["13800000001", "13800000002", "13900000003"]


def _typo(nid: str) -> str:
    """``nid`` with a wrong check character: kept as a claimed ID, linked probabilistically."""
    return nid[:-1] + ("0" if nid[-1] != "0" else "1")


@st.composite
def furnisher_file(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows of one court: valid IDs, typo'd IDs (left to probabilistic linkage, possibly before
    the person's first valid row) and IDs that are no ID at all, shared phones, re-sends,
    conflicting re-sends, corrections (of earlier rows, or of nothing) and bad rows."""
    rows: list[dict[str, Any]] = []
    for i in range(draw(st.integers(3, 9))):
        what = draw(st.sampled_from(["new", "new", "new", "resend", "correct", "bad"]))
        if what in ("resend", "correct") and rows:
            earlier = draw(st.sampled_from(rows))
            if what == "resend":
                rows.append(dict(earlier) if draw(st.booleans())
                            else {**earlier, "amount_minor": 1})
            else:
                rows.append({**earlier, "furnisher_record_id": f"c{i}",
                             "corrects": earlier["furnisher_record_id"],
                             "amount_minor": draw(st.integers(0, 10**7))})
            continue
        person = draw(st.sampled_from(PEOPLE))
        # a typo'd check character, and last, not an ID at all
        nid = draw(st.sampled_from([person, person, _typo(person), "110101"]))
        phone = draw(st.sampled_from([*PHONES, None]))
        row = finding(f"r{i}", nid, phone, occurred_at=f"2026-0{draw(st.integers(1, 5))}-15",
                      ground=draw(st.integers(1, 6)))
        if what == "bad":
            row[draw(st.sampled_from(["amount_minor", "occurred_at", "ground"]))] = "x"
        rows.append(row)
    return rows


#: A model link's weights carry the term frequencies of the names the registry held when the
#: record was scored (identity/frames.py), so the row path, scoring a record again as its
#: namesakes arrive, may state other weights for the same decision: the decision is compared.
_WEIGHTS = frozenset({"match_weight", "match_probability", "explanation"})


def _state(reg: Registry) -> dict[str, list[Any]]:
    """Every projection the write path fills, and the ledger's events without timestamps."""
    out: dict[str, list[Any]] = {}
    table: Table
    with reg.store.read() as conn:
        for table in (records, quarantine, subjects, identifiers, links, list_entries, scores):
            # ledger positions and times differ by construction (the row path interleaves)
            cols = [c for c in table.c if c.name not in ("at", "created_at", "ingest_id", "id")
                    and not c.name.endswith("seq")
                    and (table is not links or c.name not in _WEIGHTS)]
            out[table.name] = sorted(
                tuple(str(v) for v in r) for r in conn.execute(select(*cols)))
        # the events of records, subjects and identifiers, as a set: the row path interleaves
        # them with evaluation, and evaluates (and emits) the entries after each row, where a
        # chunk emits only the final state (compared above as the entries themselves)
        # (and ``link.queued``, evaluation queueing a link an entry rests on); and of a
        # record's links, the last: the row path may link a record before the person's
        # namesake arrives and send it back to review after (identity/waiting.py)
        last_link: dict[Any, str] = {}
        rest = []
        for r in conn.execute(
                select(events.c.type, events.c.subject_id, events.c.payload)
                .where(events.c.type.not_in(("ingest.completed", "link.queued")),
                       events.c.type.not_like("entry.%"),
                       events.c.type.not_like("score.%")).order_by(events.c.seq)):
            payload = json.loads(r.payload)
            if r.type == "record.linked":  # the decision (see _WEIGHTS)
                payload = {k: v for k, v in payload.items() if k not in _WEIGHTS}
                payload["queued"] = sorted(q["subject_id"] for q in payload.get("queued", ()))
            text = json.dumps([r.type, r.subject_id, payload], sort_keys=True,
                              ensure_ascii=False)
            if r.type == "record.linked":
                last_link[payload["record_id"]] = text
            else:
                rest.append(text)
        out["events"] = sorted([*rest, *last_link.values()])
        # the review queue as an operator sees it: the open (record, subject) pairs
        out["open_review_pairs"] = sorted(
            (str(r.record_id), str(r.subject_id)) for r in conn.execute(
                select(link_candidates.c.record_id, link_candidates.c.subject_id)
                .where(link_candidates.c.status == "open")))
    return out


def _ingest_as(url: str, path: Path, chunk_rows: int, *, replayed: bool = False,
               ) -> dict[str, list[Any]]:
    reg = Registry(Settings(database_url=url), today=TODAY)
    try:
        reg.ensure_schema()
        fid = _court(reg)
        ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=TODAY,
                    chunk_rows=chunk_rows)
        if replayed:  # the ledger alone rebuilds what the path wrote
            rebuilt = replay(reg.store)
            assert rebuilt.first_difference is None, rebuilt.first_difference.describe()
        return _state(reg)
    finally:
        reg.close()


@settings(max_examples=int(os.environ.get("CHUNK_EXAMPLES", "5")), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(rows=furnisher_file())
def test_one_row_per_transaction_and_one_chunk_give_the_same_registry(
        rows: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("chunks")
    path = write_csv(tmp / "court.csv", rows)
    # SQLite, and PostgreSQL where CI names it
    for base in [f"sqlite:///{tmp}/{{}}.db", os.environ.get(PG_ENV)]:
        if base is None:
            continue
        sqlite = base.startswith("sqlite")
        with scratch_database(base.format("row") if sqlite else base, tmp,
                              prefix="row_") as row_url, \
                scratch_database(base.format("chunk") if sqlite else base, tmp,
                                 prefix="chunk_") as chunk_url:
            by_row = _ingest_as(row_url, path, chunk_rows=1)
            by_chunk = _ingest_as(chunk_url, path, chunk_rows=10_000)
        for name in by_row:
            assert by_row[name] == by_chunk[name], (base.split(":")[0], name)


def test_probabilistic_links_do_not_depend_on_chunk_boundaries(tmp_path: Path) -> None:
    """A record left to probabilistic linkage (a typo'd ID with the phone of a person first
    seen later in the same file) gets the same link whether that person arrives in the same
    chunk or in a later transaction (identity/waiting.py)."""
    person = PEOPLE[0]
    typo = _typo(person)
    rows = [finding("a", typo, PHONES[2]), finding("b", person, PHONES[2])]
    path = write_csv(tmp_path / "court.csv", rows)
    by_row = _ingest_as(f"sqlite:///{tmp_path / 'row.db'}", path, chunk_rows=1)
    by_chunk = _ingest_as(f"sqlite:///{tmp_path / 'chunk.db'}", path, chunk_rows=10_000)
    assert by_row["records"] == by_chunk["records"]


def test_a_record_corrected_before_its_chunk_links_it_leaves_no_open_review_pair(
        tmp_path: Path) -> None:
    """A typo'd ID left pending for review, then corrected in the same file: its review pairs
    close when it is superseded, whether the correction comes in a later transaction (the row
    path closes the pair opened before) or in the same chunk (the pair starts closed,
    ``identity.requeue.pair_status``), and ``audit replay`` rebuilds the same queue."""
    person = PEOPLE[0]
    rows = [finding("r0", person, PHONES[0]), finding("r1", _typo(person)),
            finding("r2", person, PHONES[0]),
            {**finding("c4", _typo(person), amount_minor=0), "corrects": "r1",
             "case_number": "(2026)京0101执r1号"}]
    path = write_csv(tmp_path / "court.csv", rows)
    by_row = _ingest_as(f"sqlite:///{tmp_path / 'row.db'}", path, chunk_rows=1, replayed=True)
    by_chunk = _ingest_as(f"sqlite:///{tmp_path / 'chunk.db'}", path, chunk_rows=10_000,
                          replayed=True)
    assert by_row["open_review_pairs"] == by_chunk["open_review_pairs"]
    assert len(by_chunk["open_review_pairs"]) == 1, "only the correction waits for review"
