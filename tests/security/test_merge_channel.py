"""An operator's merge never decides where a person's codes and notices go (issue #20; a
newcomer's review found it did).

Two furnisher keys could give a made-up duplicate of a real person their own phone as its
channel (when furnishers still corroborated one), with the same name and birth date; an
operator merging the real person into that duplicate then sent the person's notices and
whole file to the attacker's phone, with no event and no notice, and the person's own ID
signed into an empty subject. Now:

* a merge of two subjects with different trusted channels is refused (409) until an operator
  has confirmed the person's phone on one of them so that both agree;
* when only the absorbed subject has a channel, the survivor takes it (``contact.channel_set``,
  ``source: merge``), and the person's own ID and phone sign into the merged file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from conftest import TODAY, make_id, subject_session, trust_channel
from socialcredit.api.registry import Registry
from socialcredit.errors import Conflict
from socialcredit.identity.channel import channel_of
from socialcredit.identity.review import merge_subjects
from socialcredit.settings import Settings
from socialcredit.store.tables import events, subjects
from test_linkage import _court, _ingest

PERSON = make_id("110105", "19840404", 989)      # the real person
DUPLICATE = make_id("110105", "19840404", 870)   # a made-up one with the same birth date
OWN_PHONE, ATTACKER_PHONE = "+8613800000006", "+8613900000090"


@pytest.fixture
def reg(db_url: str, tmp_path: Path) -> Registry:
    r = Registry(Settings(database_url=db_url, notices_dir=tmp_path / "notices"), today=TODAY)
    r.ensure_schema()
    _ingest(r, "court", "court", tmp_path / "c.csv", [
        _court(PERSON, "c1", phone=None), _court(DUPLICATE, "c2", phone=None,
                                                 case="(2026)京0105执2号")])
    return r


def _ids(reg: Registry) -> dict[str, int]:
    with reg.store.read() as conn:
        return {n: int(i) for n, i in conn.execute(select(subjects.c.national_id,
                                                          subjects.c.id))}


def test_a_merge_of_subjects_with_different_channels_is_refused(reg: Registry) -> None:
    trust_channel(reg, PERSON, OWN_PHONE)
    trust_channel(reg, DUPLICATE, ATTACKER_PHONE)
    sid = _ids(reg)
    with pytest.raises(Conflict, match="different trusted channels"):
        merge_subjects(reg.store, reg.policy, survivor=sid[DUPLICATE], absorbed=sid[PERSON],
                       by="operator:ops", reason="ID re-issued", as_of=TODAY)
    with reg.store.read() as conn:  # nothing moved
        assert channel_of(conn, sid[DUPLICATE]) == ATTACKER_PHONE
        assert conn.execute(select(subjects.c.merged_into).where(
            subjects.c.id == sid[PERSON])).scalar() is None
    # once an operator has confirmed the person's phone on both, the merge goes ahead
    trust_channel(reg, DUPLICATE, OWN_PHONE)
    merge_subjects(reg.store, reg.policy, survivor=sid[DUPLICATE], absorbed=sid[PERSON],
                   by="operator:ops", reason="ID re-issued", as_of=TODAY)
    reg.close()


def test_the_survivor_takes_the_absorbed_channel_and_the_person_signs_into_it(
        reg: Registry) -> None:
    trust_channel(reg, PERSON, OWN_PHONE)
    sid = _ids(reg)
    merge_subjects(reg.store, reg.policy, survivor=sid[DUPLICATE], absorbed=sid[PERSON],
                   by="operator:ops", reason="ID re-issued", as_of=TODAY)
    with reg.store.read() as conn:
        assert channel_of(conn, sid[DUPLICATE]) == OWN_PHONE
        set_events = [json.loads(p) for p in conn.execute(select(events.c.payload).where(
            events.c.type == "contact.channel_set", events.c.subject_id == sid[DUPLICATE]))
            .scalars()]
    assert set_events == [{"subject_id": sid[DUPLICATE], "phone": OWN_PHONE, "source": "merge",
                           "merged_from": sid[PERSON]}]
    session = subject_session(reg, PERSON, OWN_PHONE)  # her own ID and phone
    assert session.subject_id == sid[DUPLICATE]  # the merged file, not the emptied subject
    reg.close()
