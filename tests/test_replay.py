"""``audit replay`` (issue #15): the projections rebuilt from the ledger alone equal the live
tables, and a row changed behind the ledger's back is found and named — a deleted entry, a
changed ``until``, a moved record, a changed score, an added subject — on a real SQLite file
and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from conftest import furnish, make_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.retention import run_retention
from socialcredit.store.replay import replay
from socialcredit.store.tables import list_entries, records, scores, subjects

DEBTOR = make_id(birth="19800101", seq=123)
OTHER = make_id(birth="19900305", seq=111)


def _finding(frid: str, nid: str, case: str) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding",
            "occurred_at": "2026-05-01", "national_id": nid, "name": "张伟",
            "phone": "+8613812345678" if nid == DEBTOR else "+8613912345678",
            "case_number": case, "ground": 2, "amount_minor": 1_000_000_00, "currency": "CNY"}


@pytest.fixture
def populated(registry: Registry, tmp_path: Path) -> Registry:
    """Two people found dishonest by a court, fare evasions (a score), one correction."""
    furnish(registry, tmp_path, "court-bj", "court", [
        _finding("c1", DEBTOR, "(2026)京01执1号"), _finding("c2", OTHER, "(2026)京01执2号")])
    furnish(registry, tmp_path, "rail-12306", "transport", [
        {"furnisher_record_id": f"fe{i}", "kind": "fare_evasion", "occurred_at": day,
         "national_id": OTHER, "name": "王芳", "service": "metro", "amount_minor": 300,
         "currency": "CNY"} for i, day in enumerate(("2026-01-05", "2026-02-05"))])
    furnish(registry, tmp_path, "rail-12306", "transport", [
        {"furnisher_record_id": "fe9", "kind": "fare_evasion", "occurred_at": "2026-02-06",
         "national_id": OTHER, "name": "王芳", "service": "metro", "amount_minor": 400,
         "currency": "CNY", "corrects": "fe1"}])
    return registry


def _public(reg: Registry) -> dict[str, bool]:
    return {name: spec.public for name, spec in reg.policy.lists.items()}


def assert_tamper_named(reg: Registry, found: tuple[str, dict[str, Any], str, str | None],
                        shown: str) -> None:
    """Replay names the tampered row — ``found`` = (table, key, what, column) — and ``audit
    replay`` exits 1 printing ``shown``; the ledger itself still verifies (only a projection
    was touched)."""
    from typer.testing import CliRunner

    from socialcredit.cli import app

    diff = replay(reg.store, list_public=_public(reg),
                  adverse_kinds=reg.policy.adverse_kinds()).first_difference
    assert diff is not None
    assert (diff.table, diff.key, diff.what, diff.column) == found
    bad = CliRunner().invoke(app, ["--database-url", reg.settings.database_url, "audit",
                                   "replay"], env={"COLUMNS": "400"})
    assert bad.exit_code == 1 and shown in bad.output, bad.output
    assert reg.store.verify().ok


def test_an_untouched_registry_replays_to_the_same_tables(populated: Registry) -> None:
    result = replay(populated.store, list_public=_public(populated))
    assert result.first_difference is None, result.first_difference.describe()
    counts = {t.table: t.rows for t in result.tables}
    assert counts["subjects"] == 2 and counts["records"] == 5
    assert counts["list_entries"] >= 2 and counts["scores"] >= 1
    assert all(t.rows == t.live_rows for t in result.tables)
    assert result.unknown_event_types == []
    assert "decisions" in result.not_projections and "quarantine" in result.not_projections


def _entry_id(reg: Registry, nid: str) -> int:
    with reg.store.read() as conn:
        sid = conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid)).scalar()
        return int(conn.execute(select(list_entries.c.id).where(
            list_entries.c.subject_id == sid).order_by(list_entries.c.id)).scalars().first())


def _delete_entry(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    eid = _entry_id(reg, DEBTOR)
    with reg.store.engine.begin() as conn:
        conn.execute(delete(list_entries).where(list_entries.c.id == eid))
    return "list_entries", {"id": eid}, "missing", None


def _change_until(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    eid = _entry_id(reg, DEBTOR)
    with reg.store.engine.begin() as conn:
        conn.execute(update(list_entries).where(list_entries.c.id == eid).values(
            until="2026-06-01"))
    return "list_entries", {"id": eid}, "changed", "until"


def _move_record(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        rid, sid = conn.execute(select(records.c.id, records.c.subject_id).where(
            records.c.furnisher_record_id == "c1")).one()
        other = conn.execute(select(subjects.c.id).where(subjects.c.id != sid)).scalar()
        conn.execute(update(records).where(records.c.id == rid).values(subject_id=other))
    return "records", {"id": rid}, "changed", "subject_id"


def _change_score(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        sid = conn.execute(select(scores.c.id).order_by(scores.c.id.desc())).scalars().first()
        conn.execute(update(scores).where(scores.c.id == sid).values(value=1000))
    return "scores", {"id": sid}, "changed", "value"


def _add_subject(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        conn.execute(insert(subjects).values(
            id=999, national_id=make_id(seq=777), name="李四", source="registry",
            created_seq=1))
    return "subjects", {"id": 999}, "extra", None


@pytest.mark.parametrize("tamper", [_delete_entry, _change_until, _move_record, _change_score,
                                    _add_subject],
                         ids=["deleted-entry", "changed-until", "moved-record",
                              "changed-score", "added-subject"])
def test_a_tampered_projection_is_found_and_named(
        populated: Registry,
        tamper: Callable[[Registry], tuple[str, dict[str, Any], str, str | None]]) -> None:
    assert replay(populated.store, list_public=_public(populated)).ok
    table, key, what, column = tamper(populated)
    diff = replay(populated.store, list_public=_public(populated)).first_difference
    assert diff is not None
    assert (diff.table, diff.key, diff.what, diff.column) == (table, key, what, column)
    assert table in diff.describe() and str(next(iter(key.values()))) in diff.describe()
    # the ledger itself still verifies: only replay sees this
    assert populated.store.verify().ok


def test_retired_records_replay_from_their_retired_event(populated: Registry) -> None:
    import datetime as dt

    assert run_retention(populated.store, populated.policy, today=dt.date(2045, 1, 1)) > 0
    result = replay(populated.store, list_public=_public(populated))
    assert result.first_difference is None, result.first_difference.describe()
    with populated.store.read() as conn:
        assert set(conn.execute(select(records.c.status)).scalars()) == {"retired"}


def test_cli_audit_replay_names_the_row_and_exits_non_zero(populated: Registry) -> None:
    from socialcredit.cli import app

    url = populated.settings.database_url
    runner = CliRunner()
    ok = runner.invoke(app, ["--database-url", url, "audit", "replay", "--json"])
    assert ok.exit_code == 0, ok.output
    body = json.loads(ok.stdout)
    assert body["ok"] is True and body["events"] > 0
    assert "decisions" in body["not_projections"]
    _, key, _, _ = _change_until(populated)
    bad = runner.invoke(app, ["--database-url", url, "audit", "replay"])
    assert bad.exit_code == 1
    assert f"list_entries row (id={key['id']})" in bad.output and "until" in bad.output


def test_an_external_list_listed_delisted_and_relisted_replays(registry: Registry,
                                                               tmp_path: Path) -> None:
    import datetime as dt

    from socialcredit.ingest.external import import_ofac_sdn

    e = ",-0- " * 6

    def sdn(folder: Path, rows: list[str]) -> Path:
        folder.mkdir()
        for name, lines in (("sdn.csv", rows), ("alt.csv", []), ("sdn_comments.csv", [])):
            (folder / name).write_bytes(("\r\n".join(lines) + "\r\n\x1a").encode("cp1252"))
        return folder

    both = [f'10,"MULLER, Hans","individual","SDGT",-0- {e},"Passport X1234567 (Germany)"',
            f'15,"GOOD, Last","individual","SDGT",-0- {e},-0- ']
    days = (dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 3))
    for i, (rows, day) in enumerate(((both, days[0]), (both[1:], days[1]), (both, days[2]))):
        import_ofac_sdn(registry.store, registry.policy, sdn(tmp_path / f"sdn{i}", rows),
                        as_of=day)
    result = replay(registry.store, list_public=_public(registry))
    assert result.first_difference is None, result.first_difference.describe()
    assert {t.table: t.rows for t in result.tables}["list_entries"] == 2


def test_disputes_merges_and_splits_replay(populated: Registry) -> None:
    import datetime as dt

    from socialcredit.disclosure.disputes import open_dispute, run_deadlines
    from socialcredit.identity.review import merge_subjects, split_merge

    reg = populated
    with reg.store.read() as conn:
        a, b = (int(conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid))
                    .scalar_one()) for nid in (DEBTOR, OTHER))
        rid = conn.execute(select(records.c.id).where(records.c.subject_id == b,
                                                      records.c.kind == "fare_evasion")
                           ).scalars().first()
    now = dt.datetime(2026, 6, 30, 9, tzinfo=dt.UTC)
    open_dispute(reg.store, reg.policy, subject_id=b, record_id=rid, reason="not me", now=now)
    assert run_deadlines(reg.store, reg.policy, now=now + dt.timedelta(days=60)) == 1
    day = dt.date(2026, 6, 30)
    merged = merge_subjects(reg.store, reg.policy, survivor=a, absorbed=b, by="ops",
                            reason="same person", as_of=day)
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    split_merge(reg.store, reg.policy, merged["merge_id"], by="ops", reason="two people",
                as_of=day)
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    with reg.store.read() as conn:
        assert conn.execute(select(records.c.status).where(records.c.id == rid)
                            ).scalar_one() == "suppressed"


def test_a_tampered_merge_is_named(populated: Registry) -> None:
    import datetime as dt

    from socialcredit.identity.review import merge_subjects
    from socialcredit.store.tables import merges

    reg = populated
    with reg.store.read() as conn:
        a, b = (int(conn.execute(select(subjects.c.id).where(subjects.c.national_id == nid))
                    .scalar_one()) for nid in (DEBTOR, OTHER))
    merged = merge_subjects(reg.store, reg.policy, survivor=a, absorbed=b, by="ops",
                            reason="same person", as_of=dt.date(2026, 6, 30))
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert {t.table: t.rows for t in result.tables}["merges"] == 1
    assert result.taken_from_live == {}
    with reg.store.engine.begin() as conn:  # the merge is made to look like an operator's
        conn.execute(update(merges).where(merges.c.id == merged["merge_id"]).values(
            merged_by="someone else"))
    diff = replay(reg.store, list_public=_public(reg),
                  adverse_kinds=reg.policy.adverse_kinds()).first_difference
    assert diff is not None and (diff.table, diff.key, diff.column) == (
        "merges", {"id": merged["merge_id"]}, "merged_by")


def test_an_undecodable_payload_is_named_by_its_event(populated: Registry) -> None:
    from socialcredit.errors import LedgerBroken
    from socialcredit.store.tables import events

    with populated.store.engine.begin() as conn:
        conn.execute(update(events).where(events.c.seq == 3).values(payload='{"cut": '))
    with pytest.raises(LedgerBroken, match="payload of event 3 is not a JSON object"):
        replay(populated.store, list_public=_public(populated))
