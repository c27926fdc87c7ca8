"""The local day (issue #19, item 3): "today" is the policy's local day everywhere, and a
listing ends at local midnight of its ``until``.

The default policy's zone is ``Asia/Shanghai`` (UTC+8, no summer time): 23:30 UTC on
2026-12-07 is 07:30 on 2026-12-08 in Beijing. The clock is fixed with ``time_machine`` where
the code reads the clock itself (ingest and the gate without a fixed ``today``), and passed
as ``now`` to the clocks' tick.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from conftest import make_id, write_csv
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.clocks import tick
from socialcredit.disclosure.delivery import FileAdapter
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.jurisdiction import local_today
from socialcredit.settings import Settings
from socialcredit.store.tables import list_entries, subjects

UTC = dt.UTC
#: 07:30 in Beijing on 2026-12-08, still 2026-12-07 in UTC
BEFORE_8AM = dt.datetime(2026, 12, 7, 23, 30, tzinfo=UTC)


def _finding(nid: str, frid: str, day: str) -> dict[str, Any]:
    return {"furnisher_record_id": frid, "kind": "dishonesty_finding", "occurred_at": day,
            "national_id": nid, "name": "陈静", "case_number": f"(2026)京01执{frid}号",
            "ground": 1, "amount_minor": 50_000_00, "currency": "CNY"}


@pytest.fixture
def reg(db_url: str) -> Any:
    """A registry on the real (here: fixed) clock: no ``today`` of its own."""
    registry = Registry(Settings(database_url=db_url))
    registry.ensure_schema()
    add_furnisher(registry.store, name="court-a", kind="court")
    yield registry
    registry.close()


def _ingest(reg: Registry, tmp_path: Path, rows: list[dict[str, Any]],
            as_of: dt.date | None = None) -> None:
    path = write_csv(tmp_path / f"f{len(list(tmp_path.iterdir()))}.csv", rows)
    r = ingest_file(reg.store, reg.policy, furnisher_id=furnisher_id(reg.store, "court-a"),
                    path=path, as_of=as_of)
    assert r.accepted == len(rows), r.problems


def _entry(reg: Registry, nid: str) -> Any:
    with reg.store.read() as conn:
        return conn.execute(select(list_entries).join(
            subjects, subjects.c.id == list_entries.c.subject_id).where(
            subjects.c.national_id == nid)).first()


def test_today_is_the_local_day_of_the_utc_now() -> None:
    from socialcredit.policy.model import load_policy

    j = load_policy(Settings().policy_path).jurisdiction
    assert j.time_zone == "Asia/Shanghai"
    assert local_today(j, BEFORE_8AM) == dt.date(2026, 12, 8)
    assert local_today(j, dt.datetime(2026, 12, 7, 15, 59, 59, tzinfo=UTC)) == dt.date(2026, 12, 7)
    assert local_today(j, dt.datetime(2026, 12, 7, 16, 0, tzinfo=UTC)) == dt.date(2026, 12, 8)
    with time_machine.travel(BEFORE_8AM, tick=False):
        assert local_today(j) == dt.date(2026, 12, 8)


def test_a_finding_dated_today_ingested_before_8am_beijing_is_listed(
        reg: Registry, tmp_path: Path) -> None:
    """Before, the registry's day was the UTC day until 08:00 Beijing: the finding dated
    today was evaluated as of yesterday (ignored as a future record) and the daily clock,
    which only expired and started entries, never listed it."""
    early, replayed = make_id(seq=301), make_id(seq=302)
    adapter = FileAdapter(tmp_path / "notices")
    # the clock ran on 2026-12-07 (local), at 11:00 Beijing
    tick(reg.store, reg.policy, adapter, now=dt.datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    with time_machine.travel(BEFORE_8AM, tick=False):
        # ingest reads the clock: its day is the local 2026-12-08, so the finding lists
        _ingest(reg, tmp_path, [_finding(early, "1", "2026-12-08")])
        e = _entry(reg, early)
        assert (e.status, e.since, e.until) == ("active", "2026-12-08", "2028-12-09")
        # a file evaluated as of the UTC day (as every ingest was before): the finding is
        # accepted (dated the next day) but not yet evaluated ...
        _ingest(reg, tmp_path, [_finding(replayed, "2", "2026-12-08")],
                as_of=dt.date(2026, 12, 7))
        assert _entry(reg, replayed) is None
        # ... until the daily clock's first tick of the local 2026-12-08, ten minutes later
        out = tick(reg.store, reg.policy, adapter, now=BEFORE_8AM + dt.timedelta(minutes=10))
    assert out.listed == 1
    e = _entry(reg, replayed)
    assert (e.status, e.since, e.until) == ("active", "2026-12-08", "2028-12-09")


def test_a_two_year_listing_refuses_through_its_last_day_and_ends_at_local_midnight(
        reg: Registry, tmp_path: Path) -> None:
    """Two years from 2024-12-08 end with 2026-12-08 (PRC Civil Code arts. 201-202): the gate
    refuses until 23:59 Beijing that day (15:59 UTC) and allows from 00:00 on 2026-12-09; the
    daily clock of 2026-12-09 (local) expires the entry."""
    nid = make_id(seq=303)
    _ingest(reg, tmp_path, [_finding(nid, "3", "2024-12-08")], as_of=dt.date(2024, 12, 8))
    assert (_entry(reg, nid).since, _entry(reg, nid).until) == ("2024-12-08", "2026-12-09")
    last_minute = dt.datetime(2026, 12, 8, 15, 59, tzinfo=UTC)
    for moment, decision in ((dt.datetime(2026, 12, 8, 0, 1, tzinfo=UTC), "deny"),
                             (last_minute, "deny"),
                             (last_minute + dt.timedelta(minutes=1), "allow")):
        with time_machine.travel(moment, tick=False):
            reg.gate_index.refresh()
            got = reg.decisions.decide(service="air", national_id=nid).decision
        assert got == decision, moment
    adapter = FileAdapter(tmp_path / "notices")
    out = tick(reg.store, reg.policy, adapter, now=last_minute)
    assert out.expired == 0 and _entry(reg, nid).status == "active"
    out = tick(reg.store, reg.policy, adapter, now=last_minute + dt.timedelta(minutes=1))
    assert out.expired == 1
    e = _entry(reg, nid)
    assert (e.status, e.ended_on) == ("expired", "2026-12-09")


def test_a_record_time_with_an_offset_is_dated_on_the_local_day(
        reg: Registry, tmp_path: Path) -> None:
    nid = make_id(seq=304)
    row = _finding(nid, "4", "2026-06-29T23:30:00+00:00")  # 07:30 on 06-30 in Beijing
    _ingest(reg, tmp_path, [row], as_of=dt.date(2026, 6, 30))
    assert _entry(reg, nid).since == "2026-06-30"


def test_a_refusal_notice_names_the_local_day(reg: Registry, tmp_path: Path) -> None:
    from socialcredit.api.keys import add_gate, authenticate
    from socialcredit.disclosure.notices import project_notices
    from socialcredit.store.tables import notices

    nid = make_id(seq=305)
    _ingest(reg, tmp_path, [_finding(nid, "5", "2026-12-01")], as_of=dt.date(2026, 12, 7))
    air = authenticate(reg.store, add_gate(reg.store, reg.policy, name="airline",
                                           services=["air"]))
    with time_machine.travel(BEFORE_8AM, tick=False):
        reg.gate_index.refresh()
        assert reg.decisions.decide(service="air", national_id=nid, gate=air).decision == "deny"
        reg.decisions.flush()
        project_notices(reg.store, reg.policy, now=BEFORE_8AM)
    with reg.store.read() as conn:
        (body,) = conn.execute(select(notices.c.body).where(notices.c.kind == "refusal")
                               ).scalars().all()
    assert "air on 2026-12-08." in body, body
