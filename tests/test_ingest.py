"""Ingest: validation, quarantine with file/line/field/reason, idempotency, corrections."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select

from conftest import TODAY, make_id, write_csv, write_jsonl
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.store.tables import events, list_entries, quarantine, records, subjects

A, B, C = make_id(seq=11), make_id(birth="19900202", seq=22), make_id(region="310101", seq=33)


def judgment(frid: str, nid: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {"furnisher_record_id": frid, "kind": "court_judgment",
                              "occurred_at": "2025-01-10", "national_id": nid, "name": "张伟",
                              "case_number": f"(2025)京0101执{frid}号", "amount_minor": 1_000_00,
                              "currency": "CNY"}
    row.update(kw)
    return row


def _court(reg: Registry) -> int:
    add_furnisher(reg.store, name="court-test", kind="court")
    return furnisher_id(reg.store, "court-test")


def _ingest(reg: Registry, fid: int, path: Path):  # type: ignore[no-untyped-def]
    return ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=TODAY,
                       chunk_rows=3)


def _count(reg: Registry, table) -> int:  # type: ignore[no-untyped-def]
    with reg.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_every_kind_of_bad_row_is_quarantined_and_good_rows_land(
        registry: Registry, tmp_path: Path) -> None:
    fid = _court(registry)
    wrong_check = A[:-1] + ("0" if A[-1] != "0" else "1")
    not_an_id = A[:5] + "Z" + A[6:]
    rows = [
        judgment("1", A),
        judgment("2", not_an_id),                              # line 3
        judgment("3", B, occurred_at="2023-02-30"),            # line 4
        judgment("4", B, amount_minor=-5),                     # line 5
        judgment("5", B, kind="social_media_post"),            # line 6
        {k: v for k, v in judgment("6", C).items() if k != "case_number"},  # line 7
        judgment("7", C),
        judgment("7", C),                                      # line 9: duplicate in the file
        judgment("8", wrong_check),  # line 10: a typo'd ID is kept (issue #3), not trusted
    ]
    result = _ingest(registry, fid, write_csv(tmp_path / "court.csv", rows))
    assert (result.accepted, result.rejected, result.duplicates) == (3, 6, 0)
    by_line = {p["line"]: p for p in result.problems}
    assert by_line[3]["field"] == "national_id" and "18 characters" in by_line[3]["reason"]
    assert by_line[4]["field"] == "occurred_at" and "2023-02-30" in by_line[4]["reason"]
    assert by_line[5]["field"] == "amount_minor" and "negative" in by_line[5]["reason"]
    assert by_line[6]["field"] == "kind" and "social_media_post" in by_line[6]["reason"]
    assert by_line[7]["field"] == "case_number" and "missing" in by_line[7]["reason"]
    assert by_line[9]["field"] == "furnisher_record_id" and "line 8" in by_line[9]["reason"]
    assert all(p["file"] == str(tmp_path / "court.csv") for p in result.problems)
    with registry.store.read() as conn:
        stored = conn.execute(select(quarantine.c.line, quarantine.c.field)).all()
    assert sorted(line for line, _ in stored) == [3, 4, 5, 6, 7, 9]
    assert _count(registry, records) == 3
    assert _count(registry, subjects) == 2  # A and C: one subject per verified national ID
    with registry.store.read() as conn:
        kept = conn.execute(select(records.c.national_id, records.c.claimed_id).where(
            records.c.furnisher_record_id == "8")).one()
    assert kept == (None, wrong_check)


def test_reingesting_a_file_changes_nothing(registry: Registry, tmp_path: Path) -> None:
    fid = _court(registry)
    path = write_csv(tmp_path / "c.csv", [judgment(str(i), A if i % 2 else B)
                                          for i in range(7)] + [judgment("x", "123")])
    first = _ingest(registry, fid, path)
    assert (first.accepted, first.rejected) == (7, 1)
    state = [_count(registry, t) for t in (records, subjects, list_entries)]
    second = _ingest(registry, fid, path)
    assert (second.accepted, second.duplicates, second.rejected) == (0, 7, 1)
    assert [_count(registry, t) for t in (records, subjects, list_entries)] == state
    with registry.store.read() as conn:
        types = conn.execute(select(events.c.type).where(events.c.type == "record.accepted")
                             ).scalars().all()
    assert len(types) == 7


def test_same_id_with_other_content_is_refused(registry: Registry, tmp_path: Path) -> None:
    fid = _court(registry)
    _ingest(registry, fid, write_csv(tmp_path / "a.csv", [judgment("1", A)]))
    result = _ingest(registry, fid, write_csv(tmp_path / "b.csv",
                                              [judgment("1", A, amount_minor=5)]))
    assert result.rejected == 1 and "corrects" in result.problems[0]["reason"]


def test_correction_supersedes_and_both_stay_in_the_ledger(
        registry: Registry, tmp_path: Path) -> None:
    fid = _court(registry)
    finding = {"furnisher_record_id": "f1", "kind": "dishonesty_finding",
               "occurred_at": "2025-03-01", "national_id": A, "case_number": "K1", "ground": 1,
               "amount_minor": 500, "currency": "CNY"}
    _ingest(registry, fid, write_jsonl(tmp_path / "a.jsonl", [finding]))
    fixed = dict(finding, furnisher_record_id="f1-fix", corrects="f1", ground=3)
    result = _ingest(registry, fid, write_jsonl(tmp_path / "b.jsonl", [fixed]))
    assert result.accepted == 1
    with registry.store.read() as conn:
        rows = {r.furnisher_record_id: r for r in conn.execute(select(records))}
        entry = conn.execute(select(list_entries)).one()
        n_events = conn.execute(select(func.count()).select_from(events).where(
            events.c.type == "record.accepted")).scalar_one()
    assert rows["f1"].superseded_by == rows["f1-fix"].id
    assert rows["f1-fix"].corrects_id == rows["f1"].id
    assert n_events == 2
    assert (entry.status, entry.ground, entry.record_id) == ("active", 3, rows["f1-fix"].id)
    bad = _ingest(registry, fid, write_jsonl(tmp_path / "c.jsonl", [
        dict(finding, furnisher_record_id="f2", corrects="nope")]))
    assert bad.rejected == 1 and bad.problems[0]["field"] == "corrects"


def test_unreadable_files_lose_nothing_good(registry: Registry, tmp_path: Path) -> None:
    fid = _court(registry)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text("furnisher_record_id,kind,occurred_at\n", encoding="utf-8")
    for path in (empty, header_only):
        result = _ingest(registry, fid, path)
        assert (result.accepted, result.rejected) == (0, 0)
        assert "no rows" in result.problems[0]["reason"]
    good = write_csv(tmp_path / "mixed.csv", [judgment("1", A), judgment("2", B)])
    data = good.read_bytes().replace("张伟".encode(), "张伟".encode("gb18030"), 1)
    good.write_bytes(data)
    result = _ingest(registry, fid, good)
    assert (result.accepted, result.rejected) == (1, 1)
    assert result.problems[0]["line"] == 2 and "UTF-8" in result.problems[0]["reason"]
    jl = tmp_path / "mixed.jsonl"
    jl.write_bytes(b'{"furnisher_record_id": "9", "kind": "court_judgment"\n'
                   + b"\xff\xfe\n" + write_jsonl(tmp_path / "x.jsonl",
                                                 [judgment("10", C)]).read_bytes())
    result = _ingest(registry, fid, jl)
    assert (result.accepted, result.rejected) == (1, 2)
    assert [p["line"] for p in result.problems] == [1, 2]


def test_values_the_store_cannot_hold_are_quarantined(registry: Registry,
                                                     tmp_path: Path) -> None:
    fid = _court(registry)
    rows = [judgment("ok", A), judgment("long-name", B, name="张" * 201),
            judgment("x" * 121, B), judgment("list", B, case_number=["c"]),
            judgment("when", B, occurred_at=20260601), judgment("gold", B, currency="XAU"),
            judgment("huge", B, amount_minor=10**20), judgment("ok2", C)]
    result = _ingest(registry, fid, write_jsonl(tmp_path / "odd.jsonl", rows))
    assert (result.accepted, result.rejected) == (2, 6)
    fields = [p["field"] for p in result.problems]
    assert fields == ["name", "furnisher_record_id", "case_number", "occurred_at", "currency",
                      "amount_minor"]
    assert "201 characters" in result.problems[0]["reason"]
    assert "list" in result.problems[2]["reason"] and "int" in result.problems[3]["reason"]


def test_resending_bad_rows_quarantines_them_once(registry: Registry, tmp_path: Path) -> None:
    from socialcredit.reports import summarise

    fid = _court(registry)
    path = write_csv(tmp_path / "c.csv", [judgment("1", A), judgment("2", "bad")])
    _ingest(registry, fid, path)
    head = registry.store.head()
    for _ in range(2):
        again = _ingest(registry, fid, path)
        assert (again.accepted, again.duplicates, again.rejected) == (0, 1, 1)
    assert registry.store.head() == head  # not even a ledger event
    assert _count(registry, quarantine) == 1
    assert summarise(registry.store, registry.policy)["rejected_rows"] == 1


def test_parquet_and_phone_only_records(registry: Registry, tmp_path: Path) -> None:
    add_furnisher(registry.store, name="ride", kind="platform")
    fid = furnisher_id(registry.store, "ride")
    rows = [
        {"furnisher_record_id": "r1", "kind": "ride_rating", "occurred_at": "2025-05-01",
         "national_id": A, "phone": "13812345678", "rating": 5, "trip_id": "t1"},
        {"furnisher_record_id": "r2", "kind": "ride_rating", "occurred_at": "2025-05-02",
         "phone": "+86 138 1234 5678", "rating": 4, "trip_id": "t2"},
        {"furnisher_record_id": "r3", "kind": "ride_rating", "occurred_at": "2025-05-03",
         "phone": "+8613900000000", "rating": 9, "trip_id": "t3"},
        {"furnisher_record_id": "r4", "kind": "ride_rating", "occurred_at": "2025-05-03",
         "phone": "+8613700000000", "rating": 2, "trip_id": "t4"},
    ]
    path = tmp_path / "ride.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    result = _ingest(registry, fid, path)
    assert (result.accepted, result.rejected, result.unlinked) == (3, 1, 1)
    assert result.problems[0] == {"file": str(path), "line": 3, "field": "rating",
                                  "reason": "9 is above the maximum 5"}
    with registry.store.read() as conn:
        linked = dict(conn.execute(select(records.c.furnisher_record_id, records.c.subject_id)
                                   ).all())
    assert linked["r1"] == linked["r2"] is not None and linked["r4"] is None


def test_newcomer_cases_of_impossible_or_unauthorised_records(registry: Registry,
                                                              tmp_path: Path) -> None:
    fid = _court(registry)
    finding = {"furnisher_record_id": "c1", "kind": "dishonesty_finding",
               "occurred_at": "2026-01-01", "national_id": A, "case_number": "K", "ground": 1,
               "amount_minor": 1, "currency": "CNY"}
    rows = [finding,
            dict(finding, furnisher_record_id="old", occurred_at="1979-12-31"),  # before birth
            dict(finding, furnisher_record_id="nobody", national_id=None),
            {"furnisher_record_id": "loan", "kind": "loan_default", "occurred_at": "2026-01-01",
             "national_id": A, "loan_id": "L", "amount_minor": 1, "currency": "CNY",
             "days_past_due": 9}]
    result = _ingest(registry, fid, write_jsonl(tmp_path / "a.jsonl", rows))
    assert (result.accepted, result.rejected) == (1, 3)
    reasons = [p["reason"] for p in result.problems]
    assert "before the birth date" in reasons[0] and "must concern someone" in reasons[1]
    assert "a court furnisher may not report loan_default" in reasons[2]
    # a correction of a record that was already corrected is refused: one current version
    fix1 = dict(finding, furnisher_record_id="c1b", corrects="c1", ground=3)
    fix2 = dict(finding, furnisher_record_id="c1c", corrects="c1", ground=4)
    result = _ingest(registry, fid, write_jsonl(tmp_path / "b.jsonl", [fix1, fix2]))
    assert (result.accepted, result.rejected) == (1, 1)
    assert "already corrected by 'c1b'" in result.problems[0]["reason"]


def test_entries_created_already_expired_are_not_counted_as_listed(
        registry: Registry, tmp_path: Path) -> None:
    """A finding whose listing period ended before it arrived makes an entry that is expired
    from the start: the ingest answer counts it under ``already_expired``, not ``listed`` nor
    ``expired`` (nothing was listed, nothing expired now), and the gate does not refuse."""
    fid = _court(registry)
    old = {"furnisher_record_id": "F-1", "kind": "dishonesty_finding",
           "occurred_at": "2023-01-02", "national_id": A, "case_number": "(2023)京执1号",
           "ground": 1, "amount_minor": 1_000_00, "currency": "CNY"}
    fresh = {**old, "furnisher_record_id": "F-2", "national_id": B,
             "occurred_at": "2026-01-02", "case_number": "(2026)京执2号"}
    result = _ingest(registry, fid, write_csv(tmp_path / "f.csv", [old, fresh]))
    ev = result.as_dict()["evaluation"]
    assert ev["listed"] == {"dishonest_judgment_debtors": 1}
    assert ev["already_expired"] == {"dishonest_judgment_debtors": 1}
    assert ev["expired"] == {} and ev["already_removed"] == {}
    with registry.store.read() as conn:
        assert sorted(conn.execute(select(list_entries.c.status)).scalars()) == [
            "active", "expired"]
    refused = [registry.decisions.decide(service="air", national_id=n).decision for n in (A, B)]
    assert refused == ["allow", "deny"]


def test_a_bad_phone_is_dropped_and_told_and_the_record_lands(
        registry: Registry, tmp_path: Path) -> None:
    """A row whose only fault is its phone lands without it (listed, refused at the gate), and
    the furnisher is told the line, field and reason; a row with nothing but a bad phone to
    say who it concerns is quarantined, as is a row with another fault (every problem told)."""
    fid = _court(registry)
    rows = [{"furnisher_record_id": "F-1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": A, "phone": "12345",
             "case_number": "(2026)京执1号", "ground": 1, "amount_minor": 1_000_00,
             "currency": "CNY"},
            {"furnisher_record_id": "F-2", "kind": "court_judgment",
             "occurred_at": "2026-01-02", "phone": "12345", "case_number": "K-2",
             "amount_minor": 1_000_00, "currency": "CNY"},                         # line 3
            judgment("F-3", B, phone="12345", amount_minor=-5)]                   # line 4
    result = _ingest(registry, fid, write_csv(tmp_path / "p.csv", rows))
    assert (result.accepted, result.rejected) == (1, 2)
    (told,) = result.flagged
    assert (told["line"], told["field"], told["flag"]) == (2, "phone", "field_dropped")
    assert "'12345'" in told["reason"] and told["reason"].endswith(
        "; the record was kept without it")
    assert sorted((p["line"], p["field"]) for p in result.problems) == [
        (3, "phone"), (4, "amount_minor"), (4, "phone")]
    with registry.store.read() as conn:
        (held,) = conn.execute(select(records.c.national_id, records.c.phone)).all()
    assert tuple(held) == (A, None)
    assert result.evaluation.listed == {"dishonest_judgment_debtors": 1}
    assert registry.decisions.decide(service="air", national_id=A).decision == "deny"
