"""``audit replay`` of the screening lists (issue #15): ``screen_entries`` rebuilt from
``screen.listed`` / ``screen.updated`` / ``screen.delisted`` (the party and the import day in
the event), ``screen_clearances`` from ``screen.cleared``, and the names of a listed person's
subject (its aliases in ``subject.created``); a deleted or changed row of each is found and
named, and an older ledger's events without those fields still replay — on a real SQLite file
and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from conftest import TODAY
from socialcredit.api.registry import Registry
from socialcredit.screening.cleared import clear_pair
from socialcredit.screening.index import ScreenQuery
from socialcredit.screening.lists import import_list
from socialcredit.store.replay import replay
from socialcredit.store.tables import events, names, screen_clearances, screen_entries
from test_replay import _public, assert_tamper_named

CASE = Path(__file__).parent / "fixtures" / "sdn_concatenated"


@pytest.fixture
def listed(registry: Registry, tmp_path: Path) -> Registry:
    """The SDN fixture imported, re-imported a day later without one entry (delisted), then
    with it again (relisted), and one namesake cleared."""
    folder = tmp_path / "sdn"
    folder.mkdir()
    for name in ("sdn.csv", "alt.csv", "sdn_comments.csv"):
        (folder / name).write_bytes((CASE / name).read_bytes())
    import_list(registry.store, registry.policy, "ofac-sdn", folder, as_of=TODAY)
    lines = (CASE / "sdn.csv").read_bytes().splitlines(keepends=True)
    (folder / "sdn.csv").write_bytes(b"".join(ln for ln in lines if b"JSC ARGUMENT" not in ln))
    later = TODAY + dt.timedelta(days=1)
    import_list(registry.store, registry.policy, "ofac-sdn", folder, as_of=later,
                allow_delist=True)
    (folder / "sdn.csv").write_bytes((CASE / "sdn.csv").read_bytes())
    import_list(registry.store, registry.policy, "ofac-sdn", folder, as_of=later)
    clear_pair(registry.store, query=ScreenQuery(kind="person", names=("Zhang Wei",),
                                                 birth_date="1990"),
               entry_id="ofac_sdn:9003", reason="born 1990, not 1975", by="operator:ops")
    return registry


def _same(reg: Registry) -> dict[str, int]:
    result = replay(reg.store, list_public=_public(reg))
    assert result.first_difference is None, result.first_difference.describe()
    assert result.unknown_event_types == []
    return {t.table: t.rows for t in result.tables}


def test_screening_lists_replay_to_the_same_tables(listed: Registry) -> None:
    counts = _same(listed)
    assert counts["screen_entries"] >= 7 and counts["screen_clearances"] == 1
    with listed.store.read() as conn:
        aliases = conn.execute(select(names.c.name)).scalars().all()
    assert counts["names"] == len(aliases) and "PETROV, Vanya" in aliases  # an alias
    # clearing again replaces the ruling: one row, its time and reason replaced
    clear_pair(listed.store, query=ScreenQuery(kind="person", names=("Zhang Wei",),
                                               birth_date="1990"),
               entry_id="ofac_sdn:9003", reason="passport seen", by="operator:ops")
    assert _same(listed)["screen_clearances"] == 1


def _delete_entry(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        eid = conn.execute(select(screen_entries.c.id).where(
            screen_entries.c.key == "9002")).scalar_one()
        conn.execute(delete(screen_entries).where(screen_entries.c.id == eid))
    return "screen_entries", {"id": eid}, "missing", None


def _delist_quietly(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        eid = conn.execute(select(screen_entries.c.id).where(
            screen_entries.c.key == "9002")).scalar_one()
        conn.execute(update(screen_entries).where(screen_entries.c.id == eid).values(
            status="removed"))
    return "screen_entries", {"id": eid}, "changed", "status"


def _edit_party(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        eid, party = conn.execute(select(screen_entries.c.id, screen_entries.c.party).where(
            screen_entries.c.key == "9002")).one()
        body = json.loads(party)
        body["documents"] = []  # the passport number the gate denies on, gone
        conn.execute(update(screen_entries).where(screen_entries.c.id == eid).values(
            party=json.dumps(body, sort_keys=True, separators=(",", ":"))))
    return "screen_entries", {"id": eid}, "changed", "party"


def _delete_clearance(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:
        cid = conn.execute(select(screen_clearances.c.id)).scalar_one()
        conn.execute(delete(screen_clearances).where(screen_clearances.c.id == cid))
    return "screen_clearances", {"id": cid}, "missing", None


def _stale_clearance(reg: Registry) -> tuple[str, dict[str, Any], str, str | None]:
    with reg.store.engine.begin() as conn:  # a clearance made to cover a changed entry
        cid = conn.execute(select(screen_clearances.c.id)).scalar_one()
        conn.execute(update(screen_clearances).where(screen_clearances.c.id == cid).values(
            content_hash="0" * 64))
    return "screen_clearances", {"id": cid}, "changed", "content_hash"


@pytest.mark.parametrize("tamper", [_delete_entry, _delist_quietly, _edit_party,
                                    _delete_clearance, _stale_clearance],
                         ids=["deleted-entry", "delisted-quietly", "edited-party",
                              "deleted-clearance", "stale-clearance"])
def test_a_tampered_screening_row_is_found_and_named(listed: Registry, tamper: Any) -> None:
    _same(listed)
    table, key, what, column = tamper(listed)
    assert_tamper_named(listed, (table, key, what, column), f"{table} row (id={key['id']})")


def _strip(reg: Registry, types: tuple[str, ...], *keys: str) -> None:
    """Rewrite the events of ``types`` as an older ledger wrote them (without ``keys``)."""
    with reg.store.engine.begin() as conn:
        for seq, payload in conn.execute(select(events.c.seq, events.c.payload).where(
                events.c.type.in_(types))).all():
            body = json.loads(payload)
            for k in keys:
                body.pop(k, None)
            conn.execute(update(events).where(events.c.seq == seq).values(
                payload=json.dumps(body)))


def test_an_older_ledgers_screening_events_still_replay(listed: Registry) -> None:
    _strip(listed, ("screen.listed", "screen.updated", "screen.delisted"), "party", "on")
    _strip(listed, ("screen.cleared",), "at", "content_hash")
    _strip(listed, ("subject.created",), "aliases")
    result = replay(listed.store, list_public=_public(listed))
    assert result.first_difference is None, result.first_difference.describe()
    taken = result.taken_from_live
    assert taken["screen_entries.party"] >= 7 and taken["screen_clearances.at"] == 1
    assert taken["names"] >= 1
    with listed.store.engine.begin() as conn:  # the status is still compared
        conn.execute(update(screen_entries).where(screen_entries.c.key == "9002").values(
            status="removed"))
    diff = replay(listed.store, list_public=_public(listed)).first_difference
    assert diff is not None and (diff.table, diff.column) == ("screen_entries", "status")
