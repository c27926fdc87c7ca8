"""Deterministic linkage: one subject per verified national ID; phones follow their holder.

Rules (DESIGN §7, issues "Registry end to end" and #3):

1. A record with a valid national ID links to the subject with that ID, created on first sight
   (ledger event ``subject.created``).
2. Its phone becomes an identifier of the subject from the record's date (``identifier.added``
   with ``valid_from``), unless the subject holds it already. A number is held by one subject
   at a time, over an interval ``[valid_from, valid_to)``:

   * no holder yet → the subject holds it from the record's date;
   * another subject holds it, and this record is dated ``recycle_after_days`` (policy, 90) or
     more after that holder's last record with the number → the number was **recycled**: the
     old interval ends on this date (``identifier.ended``) and the new holder's starts, so the
     new subscriber never inherits
     the previous holder's records or listings (gates look up current holders only);
   * this record is dated before the holder's ``valid_from`` → the subject held it earlier: a
     closed interval up to the holder's start is recorded;
   * otherwise the number is in use by both (a shared family phone): nothing moves; the
     holder's identifier is marked ``shared_since`` (``identifier.shared``), after which the
     number alone links no record, and records it linked alone from that date go back to the
     review queue (:func:`requeue_phone_links`).
3. Where codes and notices go is not linkage (:mod:`socialcredit.identity.channel`). A
   subject with no trusted contact channel gets one (``contact.channel_set``) from a furnisher
   of a kind the policy names authoritative (``authoritative_by``: a carrier's real-name
   registration in the default policy). Other furnishers give none, however many agree:
   corroboration is off unless the policy sets ``corroborating_furnishers`` (0 by default)
   to N ≥ 2, when N distinct furnishers reporting the same phone, held by the subject now,
   with their verified national ID give it. No later non-authoritative row moves a channel: a
   recycling ending the interval of a holder's channel phone only flags it for an operator
   (``contact.channel_flagged``).
4. Every other record (no national ID, or one that failed its check) is left to
   :mod:`socialcredit.identity.probabilistic`: a phone held by one subject on the record's date,
   not shared, with no contradicting name, links it (rule ``phone``); otherwise the model
   weighs name, birth date, phone *within its validity interval*, ID similarity and address.

The review pairs a shared phone opens are in :mod:`socialcredit.identity.requeue`.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from socialcredit.identity.channel import (
    change_channel,
    channel_of,
    channels_of,
    flag_channel,
    set_first_channel,
)
from socialcredit.identity.legal_person import create_organisation, organisation_ids
from socialcredit.identity.names import name_forms
from socialcredit.identity.organisation import organisation_name
from socialcredit.identity.requeue import requeue_phone_links
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import (
    identifiers,
    names,
    records,
    subjects,
)

__all__ = ["DeterministicLinker", "LinkStats", "name_key", "requeue_phone_links", "survivor_of"]

_CHUNK = 500


def _add_days(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def name_key(name: str) -> str:
    """Matching key of a name, independent of word order: NFKC, case-folded, split into words
    at spaces and punctuation, words sorted and joined (``"NASRALLAH, Hasan"`` and ``"Hasan
    Nasrallah"`` give the same key; a Han name without spaces stays as it is)."""
    text = unicodedata.normalize("NFKC", name).casefold()
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return "".join(sorted(words))


@dataclass
class LinkStats:
    subjects_created: int = 0
    phones_added: int = 0
    phones_recycled: int = 0
    phone_conflicts: int = 0
    unlinked: int = 0


@dataclass(frozen=True, slots=True)
class _Holder:
    subject_id: int
    identifier_id: int
    valid_from: str
    phone_shared_since: str | None = None


def survivor_of(conn: Any, subject_id: int) -> int:
    """The live subject at the end of a chain of merges starting at ``subject_id``."""
    seen = set()
    sid = subject_id
    while sid not in seen:
        seen.add(sid)
        nxt = conn.execute(select(subjects.c.merged_into).where(subjects.c.id == sid)).scalar()
        if nxt is None:
            return sid
        sid = int(nxt)
    return sid


class DeterministicLinker:
    """Links records to subjects inside one write :class:`Batch` (see the module docstring)."""

    def __init__(self, batch: Batch, *, region_from_id: bool = True,
                 recycle_after_days: int = 90, authoritative_by: str | None = None,
                 furnisher_id: int | None = None, corroborating_furnishers: int = 0) -> None:
        self.batch = batch
        #: the furnisher of every record of this batch (it counts once toward corroboration)
        self.furnisher_id = furnisher_id
        #: 0: corroboration by ordinary furnishers is off (the policy's default)
        self.corroborating_furnishers = corroborating_furnishers
        #: subject without a channel → {phone: ids of furnishers whose earlier active records
        #: gave it with the subject's verified national ID}, loaded as needed
        self.reporters: dict[int, dict[str, set[int]]] = {}
        #: set when the furnisher is of a kind the policy names authoritative for phones
        #: (``furnisher:<id>``): its phones move the trusted channel
        self.authoritative_by = authoritative_by
        #: subject → trusted channel phone (None: none yet), loaded as needed
        self.channel: dict[int, str | None] = {}
        self.recycle_after_days = recycle_after_days
        self.region_from_id = region_from_id
        self.by_nid: dict[str, int] = {}
        #: organisation ID → subject (organisations link by their ID alone, never a phone)
        self.by_org: dict[str, int] = {}
        #: organisation IDs a prefetch found in no subject (their first record creates them)
        self._absent_orgs: set[str] = set()
        self.by_phone: dict[str, _Holder | None] = {}
        #: subjects whose phone-rule links went back to review (their entries re-evaluate)
        self.requeued: set[int] = set()
        self.stats = LinkStats()

    def prefetch(self, nids: set[str], phones: set[str]) -> None:
        """Load the subjects and phone holders a chunk of records will need (few queries)."""
        conn = self.batch.conn
        todo = sorted(nids - self.by_nid.keys())
        for i in range(0, len(todo), _CHUNK):
            part = todo[i:i + _CHUNK]
            for row in conn.execute(
                select(subjects.c.national_id, subjects.c.id, subjects.c.merged_into).where(
                    subjects.c.national_id.in_(part))
            ):
                # a subject merged into another: its records go to the survivor
                self.by_nid[row.national_id] = (row.id if row.merged_into is None
                                                else survivor_of(conn, row.merged_into))
            known = {self.by_nid[n] for n in part if n in self.by_nid} - self.channel.keys()
            found_channels = channels_of(conn, known)
            for sid in known:
                self.channel[sid] = found_channels.get(sid)
            if self.corroborating_furnishers:
                self._load_reporters({s for s in known if self.channel[s] is None})
        todo = sorted(phones - self.by_phone.keys())
        for i in range(0, len(todo), _CHUNK):
            part = todo[i:i + _CHUNK]
            found: dict[str, _Holder] = {}
            for r in conn.execute(
                select(identifiers.c.value, identifiers.c.subject_id, identifiers.c.id,
                       identifiers.c.valid_from, identifiers.c.shared_since).where(
                    identifiers.c.kind == "phone", identifiers.c.value.in_(part),
                    identifiers.c.valid_to.is_(None)).order_by(identifiers.c.id)):
                # the first holder (a shared number also has its later users' rows)
                found.setdefault(r.value, _Holder(r.subject_id, r.id, r.valid_from,
                                                  r.shared_since))
            for phone in part:
                self.by_phone[phone] = found.get(phone)

    def prefetch_organisations(self, values: set[str]) -> None:
        """Load the organisations a chunk of records names (one query per 500 codes), so that
        their records need no query of their own, not even the first record of a new one."""
        todo = values - self.by_org.keys()
        if not todo:
            return
        found = organisation_ids(self.batch.conn, todo)
        self.by_org.update(found)
        self._absent_orgs |= todo - found.keys()

    def link(self, *, national_id: str | None, phone: str | None, name: str | None,
             occurred_at: str, birth_date: str | None = None, sex: str | None = None,
             organisation_id: str | None = None,
             named_ids: tuple[tuple[str, str | None], ...] = ()) -> int | None:
        """Return the subject id of a record with a verified national ID (creating the subject
        if needed) and keep its phone's holder current; None for any other record. A record
        about an organisation links to the organisation with ``organisation_id`` (created on
        first sight) and to nothing else; the people it names by national ID in ``named_ids``
        (its representatives) get a subject of their own, never joined to it."""
        if organisation_id is not None:
            return self._organisation(organisation_id, name, occurred_at, named_ids)
        if national_id is None:
            self.stats.unlinked += 1
            return None
        sid = self.by_nid.get(national_id)
        if sid is None:
            sid = self._create(national_id, name, occurred_at, birth_date, sex)
        if phone:
            self._phone(sid, phone, occurred_at)
            self._channel(sid, phone)
        return sid

    def _organisation(self, organisation_id: str, name: str | None, day: str,
                      named_ids: tuple[tuple[str, str | None], ...]) -> int:
        sid = self.by_org.get(organisation_id)
        if sid is None:
            if organisation_id not in self._absent_orgs:
                self.batch.flush()
                sid = organisation_ids(self.batch.conn, {organisation_id}).get(organisation_id)
            self._absent_orgs.discard(organisation_id)
            if sid is None:
                region = (organisation_id[2:8] if self.region_from_id and len(organisation_id)
                          == 18 and organisation_id[2:8].isdigit() else None)
                sid = create_organisation(
                    self.batch, organisation_id,
                    organisation_name(name).text if name else None, day, region)
                self.stats.subjects_created += 1
            self.by_org[organisation_id] = sid
        for nid, person in named_ids:
            self.prefetch({nid}, set())
            self.link(national_id=nid, phone=None, name=person, occurred_at=day)
        return sid

    def _load_reporters(self, sids: set[int]) -> None:
        """Fill :attr:`reporters` for ``sids`` (subjects without a channel): which furnishers
        gave which phone in active records carrying the subject's verified national ID."""
        todo = sorted(sids - self.reporters.keys())
        for sid in todo:
            self.reporters[sid] = {}
        for i in range(0, len(todo), _CHUNK):
            for r in self.batch.conn.execute(
                select(records.c.subject_id, records.c.phone, records.c.furnisher_id)
                .distinct().where(records.c.subject_id.in_(todo[i:i + _CHUNK]),
                                  records.c.phone.is_not(None),
                                  records.c.national_id.is_not(None),
                                  records.c.status == "active")):
                self.reporters[int(r.subject_id)].setdefault(r.phone, set()).add(
                    int(r.furnisher_id))

    def _channel(self, sid: int, phone: str) -> None:
        """Give a subject without a channel its first one, or move it on an authoritative
        furnisher's word (see rule 3 of the module docstring).

        Trust on first use is gone (issue #20): the first furnisher to report a person not
        yet registered used to choose where their codes and notices go, and then any two
        furnisher keys agreeing did. Without an authoritative report (or, where the policy
        enables it, corroboration), the person has no channel and signs in like someone
        unknown; an operator sets it after an identity check (``socialcredit contact set``).
        """
        if sid not in self.channel:
            self.batch.flush()
            self.channel[sid] = channel_of(self.batch.conn, sid)
        current = self.channel[sid]
        if current == phone:
            return
        if self.authoritative_by is not None:
            if current is None:
                set_first_channel(self.batch, sid, phone, source="authoritative",
                                  by=self.authoritative_by)
            else:
                change_channel(self.batch, subject_id=sid, phone=phone, how="authoritative",
                               by=self.authoritative_by)
            self.channel[sid] = phone
            return
        if current is not None or not self.corroborating_furnishers:
            return  # furnisher data never moves a channel, nor sets one uncorroborated
        holder = self.by_phone.get(phone)
        if holder is None or holder.subject_id != sid:
            return  # a phone held by another
        if sid not in self.reporters:
            self.batch.flush()
            self._load_reporters({sid})
        known = self.reporters[sid].setdefault(phone, set())
        if self.furnisher_id is not None:
            known.add(self.furnisher_id)
        if len(known) >= self.corroborating_furnishers:
            set_first_channel(self.batch, sid, phone, source="corroborated",
                              furnishers=sorted(known))
            self.channel[sid] = phone

    def _phone(self, sid: int, phone: str, day: str) -> None:
        holder = self.by_phone.get(phone)
        if holder is None:
            self.by_phone[phone] = self._add_identifier(sid, "phone", phone, day)
            self.stats.phones_added += 1
            return
        if holder.subject_id == sid:
            return
        conn = self.batch.conn
        self.batch.flush()
        if day < holder.valid_from:
            # this subject held the number before the current holder: a closed interval
            exists = conn.execute(select(identifiers.c.id).where(
                identifiers.c.kind == "phone", identifiers.c.value == phone,
                identifiers.c.subject_id == sid)).first()
            if exists is None:
                self._add_identifier(sid, "phone", phone, day, until=holder.valid_from)
                self.stats.phones_added += 1
            return
        last_use = conn.execute(select(func.max(records.c.occurred_at)).where(
            records.c.subject_id == holder.subject_id, records.c.phone == phone)).scalar()
        if last_use is not None and day < _add_days(last_use, self.recycle_after_days):
            # both use it now: a shared phone. Nothing moves, but from now on the number alone
            # links no record to its holder (the probabilistic stage weighs the name too)
            self.stats.phone_conflicts += 1
            if holder.phone_shared_since is None:
                since = day  # first seen used by two people on this date
                b = self.batch
                b.emit("identifier.shared", {"subject_id": holder.subject_id, "kind": "phone",
                                             "value": phone, "shared_since": since,
                                             "with_subject_id": sid},
                       subject_id=holder.subject_id)
                conn.execute(update(identifiers).where(
                    identifiers.c.id == holder.identifier_id).values(shared_since=since))
                self.by_phone[phone] = _Holder(holder.subject_id, holder.identifier_id,
                                               holder.valid_from, since)
                # the other user holds it too, marked shared: a candidate for the records the
                # number brings, never a gate key (GateIndex skips shared numbers)
                if day != holder.valid_from:
                    self._add_identifier(sid, "phone", phone, day, shared_since=since)
                self.requeued |= requeue_phone_links(b, phone, since, (holder.subject_id, sid))
            return
        b = self.batch
        b.emit("identifier.ended", {"subject_id": holder.subject_id, "kind": "phone",
                                    "value": phone, "valid_from": holder.valid_from,
                                    "valid_to": day, "reason": "recycled"},
               subject_id=holder.subject_id)
        conn.execute(update(identifiers).where(identifiers.c.id == holder.identifier_id)
                     .values(valid_to=day))
        if channel_of(conn, holder.subject_id) == phone:
            # furnisher rows alone never move where a person's codes and notices go
            flag_channel(b, subject_id=holder.subject_id, phone=phone,
                         reason="furnisher data suggest this number was recycled",
                         new_holder_subject_id=sid, on=day)
        self.by_phone[phone] = self._add_identifier(sid, "phone", phone, day)
        self.stats.phones_recycled += 1

    def _create(self, nid: str, name: str | None, since: str, birth: str | None,
                sex: str | None) -> int:
        b = self.batch
        sid = b.next_id(subjects)
        region = nid[:6] if self.region_from_id and nid[:6].isdigit() else None
        seq = b.emit("subject.created", {"subject_id": sid, "national_id": nid, "name": name,
                                         "birth_date": birth, "sex": sex,
                                         "region_code": region, "valid_from": since},
                     subject_id=sid)
        b.add(subjects, {"id": sid, "national_id": nid, "name": name, "birth_date": birth,
                         "sex": sex, "region_code": region, "source": "registry",
                         "created_seq": seq, "kind": "person", "organisation_id": None})
        self._add_identifier(sid, "national_id", nid, since, emit=False)
        if name:
            b.add(names, {"subject_id": sid, "name": name, "name_key": name_key(name),
                          "full_name": name_forms(name).full_name})
        self.by_nid[nid] = sid
        self.channel[sid] = None
        self.reporters[sid] = {}
        self.stats.subjects_created += 1
        return sid

    def _add_identifier(self, sid: int, kind: str, value: str, since: str,
                        *, emit: bool = True, until: str | None = None,
                        shared_since: str | None = None) -> _Holder:
        b = self.batch
        if emit:
            body = {"subject_id": sid, "kind": kind, "value": value, "valid_from": since}
            if until is not None:
                body["valid_to"] = until
            if shared_since is not None:
                body["shared_since"] = shared_since
            b.emit("identifier.added", body, subject_id=sid)
        iid = b.next_id(identifiers)
        b.add(identifiers, {"id": iid, "subject_id": sid, "kind": kind, "value": value,
                            "valid_from": since, "valid_to": until,
                            "shared_since": shared_since})
        return _Holder(sid, iid, since, shared_since)
