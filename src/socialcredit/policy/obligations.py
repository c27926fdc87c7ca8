"""One obligation, many reports; and no re-aging of its date of first delinquency.

An **obligation** is one debt or case, however many furnishers report it (DESIGN §4): the
lender, the same lender again under a new record id, a collector or debt buyer after a sale or
a placement for collection. A catalogue kind names how its reports say which obligation they
are of (:class:`~socialcredit.policy.model.ObligationSpec`); :func:`obligation_key` reads it.

**Merge** (:func:`merge_obligations`, the reference; the batch engines do the same in
:meth:`socialcredit.policy.compile.CompiledPolicy.expressions`). Of one subject's reports dated
on or before the evaluation day, those of one obligation become one record view: the *latest*
report (by ``(occurred_at, id)``) gives its state — id, furnisher, payload — and its date
(``occurred_at``) is the obligation's **anchor**, the earliest of every report's
``occurred_at`` and date of first delinquency. Criteria, sums, scores and listings read these
views, so a 30,000 CNY default reported twice sums to 30,000, not 60,000. Reports of a kind
without an obligation, or lacking a key field, pass through unchanged.

**No re-aging** (US FCRA §605(c), 15 U.S.C. 1681c(c): the seven-year period of a delinquent
account runs from 180 days after the delinquency began, whoever reports it later; §623(a)(5),
1681s-2(a)(5): the furnisher reports that date). As the anchor is a minimum, no later report
can move a listing period, a score's decay or retention later. Retention runs from the anchor
too, every report of an obligation retiring together (:func:`due_by_anchor`). At ingest,
:func:`check_obligation` also keeps the held date in the stored payload of a report that
states a later one: the report is accepted for its other fields and flagged
(:data:`DATE_KEPT_FLAG`) to the furnisher (the ingest result's ``flagged``) and to the operator
(a ``record.first_delinquency_kept`` ledger event; :func:`kept_dates` lists them). The date as
reported stays in that event, so the ledger says both what was sent and what was kept.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from socialcredit.policy.model import ObligationSpec, Policy
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import events, furnishers, records, subjects

__all__ = ["DATE_KEPT_EVENT", "DATE_KEPT_FLAG", "UNMATCHED_EVENT", "UNMATCHED_FLAG",
           "HeldReports", "KeptDate", "ObligationKey", "ReportNote", "UnmatchedTransfer",
           "anchor_of", "check_obligation", "due_by_anchor", "flag_note", "kept_dates",
           "merge_obligations", "obligation_key", "show_key", "transfer_problems"]

#: ``(creditor or None, *key values)``: the creditor is None when the kind's obligation has no
#: ``creditor_field`` (the key alone names it).
ObligationKey = tuple[str | None, ...]
#: The flag of an accepted report whose later date of first delinquency was not taken.
DATE_KEPT_FLAG = "first_delinquency_kept"
#: The ledger event that tells the operator (see :func:`kept_dates`).
DATE_KEPT_EVENT = "record.first_delinquency_kept"
#: The flag of an accepted transferred report of an obligation of which nothing is held.
UNMATCHED_FLAG = "transfer_unmatched"
#: Its ledger event (see :func:`kept_dates`).
UNMATCHED_EVENT = "record.transfer_unmatched"


def _text(value: Any) -> str | None:
    """A key value as compared: ``str(value)`` in lower case without spaces, so ``BANK-ICBC``
    and ``bank-icbc``, ``L-77`` and ``l 77`` name one creditor and one account (the batch
    engines do the same: :func:`socialcredit.policy.compile.key_text`)."""
    return None if value is None else str(value).lower().replace(" ", "")


def obligation_key(spec: ObligationSpec, furnisher: str, payload: dict[str, Any], *,
                   as_sent: bool = False) -> ObligationKey | None:
    """The obligation a report is of, or None (a key field is missing: the report is an
    obligation of its own). Values are compared as ``str(value)`` in lower case without
    spaces (as sent, for people, with ``as_sent``); a transferred report (it names the
    creditor and every ``transferred_key`` field) is keyed by the account reference at the
    original creditor."""
    text = (lambda v: None if v is None else str(v)) if as_sent else _text
    creditor: str | None = None
    named = False
    if spec.creditor_field is not None:
        named = payload.get(spec.creditor_field) is not None
        creditor = text(payload[spec.creditor_field] if named else furnisher)
    fields = spec.key
    if (named and spec.transferred_key is not None
            and all(payload.get(f) is not None for f in spec.transferred_key)):
        fields = spec.transferred_key
    values = [text(payload.get(f)) for f in fields]
    if any(v is None for v in values):
        return None
    return (creditor, *values)


def transfer_problems(spec: ObligationSpec, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) for a transferred report that names its original account reference
    but not the original creditor: it could not be linked to the original report."""
    if spec.transferred_key is None or spec.creditor_field is None:
        return []
    if payload.get(spec.creditor_field) is not None:
        return []
    return [(f, f"a transferred report names the original creditor ({spec.creditor_field}) "
                "beside the account reference there; send both or neither")
            for f in spec.transferred_key if payload.get(f) is not None]


def show_key(key: ObligationKey) -> str:
    """A key for people: ``"bank-a / L-1"`` (the creditor first, when there is one)."""
    return " / ".join(v for v in key if v is not None)


def anchor_of(spec: ObligationSpec, occurred_at: str, payload: dict[str, Any]) -> str:
    """A report's anchor date (ISO): its date of first delinquency when it states an earlier
    one than ``occurred_at``, else ``occurred_at``."""
    field = spec.first_delinquency_field
    first = payload.get(field) if field is not None else None
    return first if isinstance(first, str) and first < occurred_at else occurred_at


def merge_obligations(policy: Policy, recs: Iterable[Any]) -> list[Any]:
    """One subject's record views (:class:`~socialcredit.policy.rules.RecordView`) with the
    reports of each obligation merged into one (see the module docstring); the others
    unchanged, in their order, the merged views after them."""
    out: list[Any] = []
    groups: dict[tuple[str, ObligationKey], list[Any]] = {}
    for r in recs:
        kind = policy.catalogue.get(r.kind)
        ob = kind.obligation if kind is not None else None
        key = obligation_key(ob, r.furnisher, r.payload) if ob is not None else None
        if ob is None or key is None:
            out.append(r)
        else:
            groups.setdefault((r.kind, key), []).append(r)
    for (name, _), group in groups.items():
        ob = policy.catalogue[name].obligation
        assert ob is not None
        latest = max(group, key=lambda x: (x.occurred_at, x.id))
        anchor = min(anchor_of(ob, x.occurred_at, x.payload) for x in group)
        out.append(dataclasses.replace(latest, occurred_at=anchor))
    return out


@dataclasses.dataclass(frozen=True)
class KeptDate:
    """A report's date of first delinquency that was not taken: ``field`` of its payload,
    the date ``reported``, the date ``kept`` (held from ``held_record_id``) and the
    obligation ``key`` as :func:`show_key` writes it."""

    field: str
    reported: str
    kept: str
    held_record_id: int
    key: str

    event = DATE_KEPT_EVENT
    flag = DATE_KEPT_FLAG

    def told(self) -> dict[str, Any]:
        """What the ledger event and the furnisher's flag say beside the record."""
        return {"field": self.field, "reported": self.reported, "kept": self.kept,
                "held_record_id": self.held_record_id}


@dataclasses.dataclass(frozen=True)
class UnmatchedTransfer:
    """A transferred report (a collector's or debt buyer's, naming the original creditor in
    ``field``) of an obligation ``key`` of which no report is held for the subject: it is
    accepted as an obligation of its own and flagged, as the lender's report may come later
    or never (issue #19: "a transfer naming an obligation nobody reported")."""

    field: str
    key: str

    event = UNMATCHED_EVENT
    flag = UNMATCHED_FLAG

    def told(self) -> dict[str, Any]:
        """What the ledger event and the furnisher's flag say beside the record."""
        return {"field": self.field}


#: What :func:`check_obligation` found worth telling about one report.
ReportNote = KeptDate | UnmatchedTransfer

#: (record id, furnisher id, kind, occurred_at, payload) of a held report.
_Held = tuple[int, int, str, str, dict[str, Any]]
_IN_CHUNK = 5_000


class HeldReports:
    """The active, unsuperseded reports of obligation kinds held per subject, for one ingest
    chunk (one transaction): what :func:`check_obligation` compares a report with, read with
    one set-based query for the chunk's subjects (:meth:`load`) instead of one per report.

    The caller keeps it current as the chunk writes: :meth:`add` each accepted report of a
    subject, :meth:`drop` a report a correction supersedes. A subject not loaded is read on
    first need; one created in this chunk (its id above the largest held when the chunk
    began) holds only what the chunk added."""

    def __init__(self, conn: Connection, policy: Policy) -> None:
        self.conn, self.policy = conn, policy
        self.kinds = sorted(k for k, s in policy.catalogue.items() if s.obligation is not None)
        self._by_subject: dict[int, list[_Held]] = {}
        self._subject_of: dict[int, int] = {}  # record id → subject id, for drop()
        self._names: dict[int, str] | None = None
        self._floor: int | None = None

    def names(self) -> dict[int, str]:
        """Furnisher id → name, read once."""
        if self._names is None:
            self._names = dict(self.conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
        return self._names

    def load(self, subject_ids: Iterable[int]) -> None:
        """Read the held reports of ``subject_ids`` not read yet (one query per 5,000)."""
        if self._floor is None:
            self._floor = int(self.conn.execute(select(func.max(subjects.c.id))).scalar() or 0)
        todo = sorted({int(s) for s in subject_ids} - self._by_subject.keys())
        if not self.kinds:
            return
        for i in range(0, len(todo), _IN_CHUNK):
            part = todo[i:i + _IN_CHUNK]
            for sid in part:
                self._by_subject[sid] = []
            for r in self.conn.execute(select(
                    records.c.id, records.c.subject_id, records.c.furnisher_id, records.c.kind,
                    records.c.occurred_at, records.c.payload).where(
                    records.c.subject_id.in_(part), records.c.kind.in_(self.kinds),
                    records.c.status == "active", records.c.superseded_by.is_(None))
                    .order_by(records.c.id)):
                self._by_subject[int(r.subject_id)].append(
                    (int(r.id), int(r.furnisher_id), str(r.kind), str(r.occurred_at),
                     json.loads(r.payload)))
                self._subject_of[int(r.id)] = int(r.subject_id)

    def of(self, subject_id: int, kind: str) -> list[_Held]:
        """The held reports of ``kind`` for ``subject_id``."""
        if subject_id not in self._by_subject:
            if self._floor is not None and subject_id > self._floor:
                self._by_subject[subject_id] = []  # created in this chunk
            else:
                self.load([subject_id])
        return [h for h in self._by_subject[subject_id] if h[2] == kind]

    def add(self, subject_id: int | None, record_id: int, furnisher_id: int, kind: str,
            occurred_at: str, payload: dict[str, Any]) -> None:
        """A report the chunk accepted (nothing for a kind without an obligation or a report
        linked to no subject)."""
        if subject_id is None or kind not in self.kinds:
            return
        self.of(subject_id, kind)  # read what was held before it
        self._by_subject[subject_id].append(
            (record_id, furnisher_id, kind, occurred_at, payload))
        self._subject_of[record_id] = subject_id

    def drop(self, record_id: int) -> None:
        """A report superseded by a correction in this chunk."""
        sid = self._subject_of.pop(record_id, None)
        if sid is not None:
            held = self._by_subject[sid]
            held[:] = [h for h in held if h[0] != record_id]


def check_obligation(conn: Connection, policy: Policy, *, kind: str, furnisher_id: int,
                     subject_id: int | None, payload: dict[str, Any], occurred_at: str,
                     before_query: Callable[[], object] | None = None,
                     held_reports: HeldReports | None = None,
                     ) -> tuple[dict[str, Any], list[ReportNote]]:
    """``payload`` as it is kept, and what to tell about it, against the reports of the same
    obligation held for ``subject_id``:

    * no re-aging: a date of first delinquency later than the obligation's anchor
      (:func:`anchor_of` its active reports: a report says the delinquency had begun by its
      own date at the latest) is replaced by the anchor (:class:`KeptDate`), and its days
      past due (the spec's ``days_past_due_field``) are no fewer than the days from the
      anchor to ``occurred_at`` (the report's ISO date);
    * a transferred report naming another creditor's obligation of which nothing is held
      (:class:`UnmatchedTransfer`).

    A report linked to no subject yet is not compared here: evaluation's anchor (a minimum)
    still keeps its date. With ``held_reports`` (an ingest chunk's :class:`HeldReports`, kept
    current by the caller) no query is made; without, one per report that states a date of
    first delinquency or names an original creditor (the subject's records of that kind),
    after ``before_query`` (the caller's flush of pending writes, so that reports earlier in
    the same transaction count)."""
    spec = policy.catalogue.get(kind)
    ob = spec.obligation if spec is not None else None
    if ob is None or subject_id is None:
        return payload, []
    field = ob.first_delinquency_field
    dated = field is not None and bool(payload.get(field))
    creditor = ob.creditor_field
    names_other = creditor is not None and payload.get(creditor) is not None
    if not (dated or names_other):
        return payload, []
    if held_reports is None:
        if before_query is not None:
            before_query()
        held_reports = HeldReports(conn, policy)
    names = held_reports.names()
    key = obligation_key(ob, names.get(furnisher_id, ""), payload)
    if key is None:
        return payload, []
    held: tuple[str, int] | None = None
    for rid, fid, _, day, other in held_reports.of(subject_id, kind):
        if obligation_key(ob, names.get(fid, ""), other) != key:
            continue
        # a report held says the delinquency had begun by its own date at the latest
        first = anchor_of(ob, day, other)
        if held is None or (first, rid) < held:
            held = (first, rid)
    notes: list[ReportNote] = []
    shown = show_key(obligation_key(ob, names.get(furnisher_id, ""), payload, as_sent=True)
                     or key)
    if held is None:
        if names_other and key[0] != _text(names.get(furnisher_id)):
            assert creditor is not None
            notes.append(UnmatchedTransfer(creditor, shown))
        return payload, notes
    if not dated or payload[field] <= held[0]:  # type: ignore[index]
        return payload, notes
    assert field is not None
    notes.append(KeptDate(field, str(payload[field]), held[0], held[1], shown))
    kept = {**payload, field: held[0]}
    days = ob.days_past_due_field
    if days is not None and isinstance(payload.get(days), int):
        since = (dt.date.fromisoformat(occurred_at) - dt.date.fromisoformat(held[0])).days
        kept[days] = max(payload[days], since)
    return kept, notes


def flag_note(batch: Batch, note: ReportNote, *, record_id: int, furnisher_id: int,
              furnisher_record_id: str, kind: str, subject_id: int | None,
              file: str, line: int | None) -> dict[str, Any]:
    """Tell the operator (the note's ledger event, :data:`DATE_KEPT_EVENT` ``record_id,
    furnisher_id, furnisher_record_id, kind, obligation, field, reported, kept,
    held_record_id`` or :data:`UNMATCHED_EVENT` ``record_id, furnisher_id,
    furnisher_record_id, kind, obligation, field``) and return the furnisher's flag for the
    ingest result: ``{file, line, field, flag}`` and, for a kept date, ``reported, kept``."""
    told = note.told()
    batch.emit(note.event, {
        "record_id": record_id, "furnisher_id": furnisher_id,
        "furnisher_record_id": furnisher_record_id, "kind": kind, "obligation": note.key,
        **told}, subject_id=subject_id)
    told.pop("held_record_id", None)
    return {"file": file, "line": line, "flag": note.flag, "obligation": note.key, **told}


def due_by_anchor(conn: Connection, policy: Policy, kind: str, cutoff: str) -> list[int]:
    """Ids of the (not retired) records of obligation kind ``kind`` whose obligation's anchor
    is before ``cutoff`` (ISO): retention runs from the first delinquency, so every report of
    an obligation retires together, however late the last one came (FCRA §605(c)). Reads
    every unretired record of the kind; [] for a kind without an obligation."""
    spec = policy.catalogue.get(kind)
    ob = spec.obligation if spec is not None else None
    if ob is None:
        return []
    names = dict(conn.execute(select(furnishers.c.id, furnishers.c.name)).all())
    groups: dict[tuple[Any, ...], list[tuple[int, str]]] = {}
    for r in conn.execute(select(records.c.id, records.c.subject_id, records.c.furnisher_id,
                                 records.c.occurred_at, records.c.payload).where(
            records.c.kind == kind, records.c.status != "retired")):
        payload = json.loads(r.payload)
        key = obligation_key(ob, names.get(r.furnisher_id, ""), payload)
        group = (r.subject_id, key) if key is not None else ("record", r.id)
        groups.setdefault(group, []).append(
            (int(r.id), anchor_of(ob, r.occurred_at, payload)))
    return sorted(rid for group in groups.values()
                  if min(day for _, day in group) < cutoff for rid, _ in group)


def kept_dates(conn: Connection, *, furnisher_id: int | None = None, limit: int = 500,
               event: str = DATE_KEPT_EVENT) -> list[dict[str, Any]]:
    """The operator's list of reports whose later date of first delinquency was not taken,
    newest first: ``[{seq, at, subject_id, record_id, furnisher_id, furnisher_record_id,
    kind, obligation, field, reported, kept, held_record_id}]`` (of ``furnisher_id`` only,
    when given), read from the ledger's :data:`DATE_KEPT_EVENT` events; with ``event``
    :data:`UNMATCHED_EVENT`, the transferred reports of obligations nothing held (the same
    keys, without the dates)."""
    out: list[dict[str, Any]] = []
    stmt = (select(events.c.seq, events.c.at, events.c.subject_id, events.c.payload)
            .where(events.c.type == event).order_by(events.c.seq.desc()))
    for e in conn.execute(stmt):
        p = json.loads(e.payload)
        if furnisher_id is not None and p.get("furnisher_id") != furnisher_id:
            continue
        out.append({"seq": int(e.seq), "at": e.at, "subject_id": e.subject_id, **p})
        if len(out) >= limit:
            break
    return out
