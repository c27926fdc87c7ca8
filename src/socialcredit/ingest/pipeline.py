"""Ingest: furnisher rows → validation → quarantine or ledger → linkage → policy evaluation.

Guarantees (DESIGN §3.8):

* a bad row is quarantined with file, line, field and reason; the good rows of the same file
  land;
* re-sending a row (same furnisher and ``furnisher_record_id``, same content) changes nothing and
  counts as a duplicate; the same id with *different* content is refused (send a correction);
* a correction (``corrects`` = an earlier ``furnisher_record_id`` of the same furnisher and kind)
  supersedes that record; both stay in the ledger;
* each chunk of rows is one transaction: records, subjects, entries and their ledger events land
  together, and the touched subjects are re-evaluated before commit;
* an ingest killed part-way (a crash, SIGKILL) has landed whole chunks only; sending the same
  file again completes it — the rows already held count as duplicates — and ends with the
  ``ingest.completed`` event the killed attempt did not write (tests/faults/test_crash.py).

Facets: :mod:`.result` (the counts an ingest returns) and :mod:`.held` (what the registry
already holds of a furnisher's rows: re-sends, the target of a correction, the link a
correction inherits).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select, update

from socialcredit.identity.link import DeterministicLinker
from socialcredit.identity.probabilistic import LinkInput
from socialcredit.identity.waiting import Evidence, Waiting, link_with_waiting
from socialcredit.ingest.creditors import CreditorNames
from socialcredit.ingest.held import correction_target, held_records, inherited_link
from socialcredit.ingest.metro2_map import metro2_rows
from socialcredit.ingest.organisation_rows import REGISTERED, registered_organisations, unregistered
from socialcredit.ingest.readers import RawRow, file_sha256, read_rows
from socialcredit.ingest.result import IngestResult
from socialcredit.ingest.validate import Problem, ValidRecord, validate_row
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy
from socialcredit.policy.obligations import HeldReports, check_obligation, flag_note
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import (
    furnishers,
    ingests,
    link_candidates,
    links,
    quarantine,
    records,
)

__all__ = ["IngestResult", "ingest_file", "ingest_rows"]

#: The records table's payload text (sorted keys, non-ASCII kept), one encoder for all rows.
_PAYLOAD_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)

#: Rows an ingest must have landed before it refreshes the planner's statistics.
ANALYZE_MIN_ROWS = 1000


class _Chunk:
    """State of one transaction of an ingest."""

    def __init__(self, batch: Batch, furnisher_id: int, ingest_id: int, source: str,
                 result: IngestResult, seen: dict[str, tuple[int, str]],
                 quarantined: set[tuple[int | None, str | None, str]],
                 policy: Policy, furnisher_kind: str | None = None) -> None:
        self.b, self.fid, self.ingest_id, self.source = batch, furnisher_id, ingest_id, source
        self.policy = policy
        self.creditors = CreditorNames(batch.conn, policy)  # furnisher aliases (#19)
        self.held = HeldReports(batch.conn, policy)  # one query a chunk, not one a report
        self.result, self.seen, self.quarantined = result, seen, quarantined
        self.linker = DeterministicLinker(
            batch, recycle_after_days=policy.identity.phone.recycle_after_days,
            furnisher_id=furnisher_id,
            # only a CN resident ID embeds an address code (a US SSN embeds no place)
            region_from_id=policy.identity.national_id.scheme == "cn.ric",
            corroborating_furnishers=policy.identity.phone.channel_corroborating_furnishers,
            authoritative_by=(f"furnisher:{furnisher_id}" if furnisher_kind is not None and
                              furnisher_kind in policy.identity.phone
                              .authoritative_furnisher_kinds else None))
        #: records the deterministic rules left unlinked: (record id, the record)
        self.unlinked: list[tuple[int, ValidRecord]] = []
        self.touched: set[int] = set()

    def _target(self, frid: str) -> tuple[int, str, str | None]:
        self.b.flush()
        return correction_target(self.b.conn, self.fid, frid)

    def reject(self, line: int | None, problems: list[Problem], raw: str | None) -> None:
        self.result.rejected += 1
        for p in problems:
            if (line, p.field, p.reason) in self.quarantined:
                continue  # the same file was sent before: its bad rows are quarantined once
            self.quarantined.add((line, p.field, p.reason))
            self.b.add(quarantine, {"id": self.b.next_id(quarantine), "ingest_id": self.ingest_id,
                                    "furnisher_id": self.fid, "source": self.source[:500],
                                    "line": line, "field": p.field, "reason": p.reason,
                                    "raw": raw[:2000] if raw else None})
            if len(self.result.problems) < 1000:
                self.result.problems.append({"file": self.source, "line": line,
                                             "field": p.field, "reason": p.reason})

    def run(self, rows: list[tuple[RawRow, ValidRecord | list[Problem]]]) -> None:
        valid = [v for _, v in rows if isinstance(v, ValidRecord)]
        held = held_records(self.b.conn, self.fid, {v.furnisher_record_id for v in valid}
                          | {v.corrects for v in valid if v.corrects})
        self.linker.prefetch({v.national_id for v in valid if v.national_id}
                             | {nid for v in valid for nid, _ in v.named_ids},
                             {v.phone for v in valid if v.phone})
        self.linker.prefetch_organisations({v.organisation_id for v in valid
                                            if v.organisation_id})
        self.b.flush()
        self.held.load(self.linker.by_nid.values())
        registered = registered_organisations(self.b.conn, {
            v.organisation_id for v in valid if v.organisation_id})
        for raw, v in rows:
            if not isinstance(v, ValidRecord):
                self.reject(raw.line, v, raw.raw)
                continue
            if v.kind == REGISTERED and v.organisation_id:
                registered.add(v.organisation_id)
            unknown = unregistered(self.policy, v.kind, v.organisation_id, registered)
            if unknown is not None:
                self.reject(raw.line, [Problem("organisation_id", unknown)], raw.raw)
                continue
            in_file = self.seen.get(v.furnisher_record_id)
            prior = in_file or held.get(v.furnisher_record_id)
            if prior is not None:
                if prior[1] != v.content_hash:
                    self.reject(raw.line, [Problem("furnisher_record_id", (
                        f"{v.furnisher_record_id!r} was already sent with different content; "
                        "send a new record with `corrects` to change it (Metro 2: the "
                        "correction indicator, base byte 20, set to 1)"))], raw.raw)
                elif in_file is not None:
                    self.reject(raw.line, [Problem("furnisher_record_id", (
                        f"duplicate of line {in_file[0]} of the same file"))], raw.raw)
                else:
                    self.result.duplicates += 1
                    self.seen[v.furnisher_record_id] = (raw.line, v.content_hash)
                continue
            corrected = None
            if v.corrects:
                target = self._target(v.corrects) if (
                    v.corrects in held or v.corrects in self.seen) else None
                # a correction named under the record it corrects (Metro 2:
                # ACCT/DATE/corrected-<time stamp>) corrects its latest correction
                while (target is not None and target[2] is not None
                       and v.furnisher_record_id.startswith(f"{v.corrects}/corrected-")):
                    target = self._target(target[2])
                if target is None or target[1] != v.kind or target[2] is not None:
                    if target is None:
                        why = f"no earlier record {v.corrects!r} of this furnisher to correct"
                    elif target[1] != v.kind:
                        why = (f"{v.corrects!r} is a {target[1]} record; a correction keeps "
                               "its kind")
                    else:
                        why = (f"{v.corrects!r} was already corrected by {target[2]!r}; "
                               f"correct {target[2]!r} instead")
                    self.reject(raw.line, [Problem("corrects", why)], raw.raw)
                    continue
                corrected = target[0]
            self._accept(raw, v, corrected)

    def _accept(self, raw: RawRow, v: ValidRecord, corrected: int | None) -> None:
        b = self.b
        sid = self.linker.link(national_id=v.national_id, phone=v.phone, name=v.name,
                               occurred_at=v.occurred_at, birth_date=v.birth_date, sex=v.sex,
                               organisation_id=v.organisation_id, named_ids=v.named_ids)
        inherited = (inherited_link(self.b.conn, corrected, v)
                     if sid is None and corrected is not None else None)
        if inherited is not None:
            sid = int(inherited.subject_id)
        rid = b.next_id(records)
        # no re-aging: a later date of first delinquency than the obligation's is not taken
        fields, notes = check_obligation(
            b.conn, self.policy, kind=v.kind, furnisher_id=self.fid, subject_id=sid,
            payload=self.creditors.payload(v.kind, v.payload), occurred_at=v.occurred_at,
            held_reports=self.held)
        payload = _PAYLOAD_JSON.encode(fields)
        seq = b.emit("record.accepted", {
            "record_id": rid, "furnisher_id": self.fid,
            "furnisher_record_id": v.furnisher_record_id, "kind": v.kind,
            "occurred_at": v.occurred_at, "national_id": v.national_id, "phone": v.phone,
            "name": v.name, "payload": fields, "corrects_record_id": corrected,
            "content_hash": v.content_hash,
            # identity as sent, only where given (for linkage; earlier events lack the keys)
            **{k: val for k, val in (("claimed_id", v.claimed_id),
                                     ("birth_date", None if v.national_id else v.birth_date),
                                     ("address", v.address), ("flags", list(v.flags)),
                                     ("organisation_id", v.organisation_id))
               if val}}, subject_id=sid)
        # a correction of a record that due process took away (suppressed after a dispute,
        # deleted by its furnisher) stays away: correcting must not undo a dispute's outcome
        status = "active"
        if corrected is not None:
            before = b.conn.execute(select(records.c.status).where(
                records.c.id == corrected)).scalar()
            if before in ("suppressed", "deleted"):
                status = before
        b.add(records, {"id": rid, "furnisher_id": self.fid,
                        "furnisher_record_id": v.furnisher_record_id, "kind": v.kind,
                        "occurred_at": v.occurred_at, "subject_id": sid,
                        "national_id": v.national_id, "phone": v.phone, "name": v.name,
                        "payload": payload, "content_hash": v.content_hash,
                        "corrects_id": corrected, "superseded_by": None, "seq": seq,
                        "status": status, "claimed_id": v.claimed_id,
                        "birth_date": v.birth_date, "address": v.address,
                        "flags": ",".join(v.flags) or None,
                        "organisation_id": v.organisation_id})
        if inherited is not None:
            seq = b.emit("record.linked", {"record_id": rid, "subject_id": sid,
                                           "rule": "manual", "status": "confirmed",
                                           "inherited_from": corrected}, subject_id=sid)
            b.add(links, {"record_id": rid, "subject_id": sid, "rule": "manual",
                          "status": "confirmed", "match_weight": inherited.match_weight,
                          "match_probability": inherited.match_probability,
                          "explanation": inherited.explanation,
                          "model_version": inherited.model_version,
                          "decided_by": f"{inherited.decided_by} (record {corrected})",
                          "seq": seq})
        if corrected is not None:
            b.flush()
            b.conn.execute(update(records).where(records.c.id == corrected).values(
                superseded_by=rid))
            # a superseded record is linked to no one anew: its open review pairs close
            b.conn.execute(update(link_candidates).where(
                link_candidates.c.record_id == corrected,
                link_candidates.c.status == "open").values(status="closed"))
            old_sid = b.conn.execute(select(records.c.subject_id).where(
                records.c.id == corrected)).scalar()
            if old_sid is not None:
                self.touched.add(int(old_sid))
        if status == "active":
            self.held.add(sid, rid, self.fid, v.kind, v.occurred_at, fields)
        if corrected is not None:
            self.held.drop(corrected)
        self.seen[v.furnisher_record_id] = (raw.line, v.content_hash)
        self.result.accepted += 1
        for flag in v.flags:
            if len(self.result.flagged) < 1000:
                self.result.flagged.append({
                    "file": self.source, "line": raw.line,
                    "field": flag[:-9] if flag.endswith("_conflict") else "national_id",
                    "flag": flag})
        for f, why in v.dropped:  # a bad phone: the record landed without it
            if len(self.result.flagged) < 1000:
                self.result.flagged.append({"file": self.source, "line": raw.line,
                                            "field": f, "flag": "field_dropped",
                                            "reason": why})
        for note in notes:  # told to the operator (ledger) and the furnisher (result)
            told = flag_note(b, note, record_id=rid, furnisher_id=self.fid, kind=v.kind,
                             furnisher_record_id=v.furnisher_record_id, subject_id=sid,
                             file=self.source, line=raw.line)
            if len(self.result.flagged) < 1000:
                self.result.flagged.append(told)
        if sid is None:
            self.unlinked.append((rid, v))
        else:
            self.touched.add(sid)


def _chunks(it: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(it)
    while chunk := list(islice(iterator, size)):
        yield chunk


def ingest_rows(store: Store, policy: Policy, *, furnisher_id: int, rows: Iterable[RawRow],
                source: str, sha256: str = "", as_of: dt.date | None = None,
                chunk_rows: int = 5000,
                progress: Callable[[int], None] | None = None) -> IngestResult:
    """Ingest raw rows from one source (a file path or ``api``); see the module docstring.

    ``as_of`` (default: today in the policy's time zone) is the date against which dates are
    checked and the touched subjects are evaluated. ``progress(n)`` is called with the rows
    done after each chunk.
    """
    today = as_of or local_today(policy.jurisdiction)
    result = IngestResult(source)
    seen: dict[str, tuple[int, str]] = {}
    quarantined: set[tuple[int | None, str | None, str]] = set()
    with store.batch() as b:
        furnisher_kind = b.conn.execute(select(furnishers.c.kind).where(
            furnishers.c.id == furnisher_id)).scalar()
        if sha256:
            quarantined = {(r.line, r.field, r.reason) for r in b.conn.execute(
                select(quarantine.c.line, quarantine.c.field, quarantine.c.reason)
                .join(ingests, ingests.c.id == quarantine.c.ingest_id)
                .where(ingests.c.furnisher_id == furnisher_id, ingests.c.sha256 == sha256))}
            # (attempts of this file, attempts that completed): the counts of an attempt are
            # written only by its last transaction, so an attempt killed before that keeps
            # zeros and must not make the re-run look like an identical re-send
            attempted, completed = b.conn.execute(select(
                func.count(), func.count(case((
                    ingests.c.accepted + ingests.c.rejected + ingests.c.duplicates > 0, 1)))
            ).where(
                ingests.c.furnisher_id == furnisher_id, ingests.c.sha256 == sha256)).one()
        else:
            attempted = completed = 0
        ingest_id = b.next_id(ingests)
        b.add(ingests, {"id": ingest_id, "furnisher_id": furnisher_id, "source": source[:500],
                        "sha256": sha256, "at": b.at, "accepted": 0, "rejected": 0,
                        "duplicates": 0})
    done, waiting = 0, Waiting()  # records that arrived before their subject (identity/waiting)
    for n, part in enumerate(_chunks(rows, chunk_rows), start=1):
        with store.batch(policy.version_hash) as b:
            chunk = _Chunk(b, furnisher_id, ingest_id, source, result, seen, quarantined,
                           policy, furnisher_kind)
            checked = [(raw, [Problem(f, why) for f, why in raw.issues()]
                        or validate_row(raw.data, policy, today=today,
                                        furnisher_kind=furnisher_kind)) for raw in part]
            chunk.run(checked)
            b.flush()
            linked, unlinked, pending = link_with_waiting(b, policy, [
                LinkInput(rid, v.occurred_at, v.name, v.birth_date, v.claimed_id, v.phone,
                          v.address, v.flags) for rid, v in chunk.unlinked], (
                Evidence(v.national_id, v.phone, v.name, v.birth_date)
                for _, v in checked if isinstance(v, ValidRecord)), waiting)
            result.unlinked += unlinked
            result.pending_links += pending
            chunk.touched |= linked.touched | chunk.linker.requeued
            if chunk.touched:
                result.evaluation.merge(evaluate_subjects(b, policy, chunk.touched, today))
            result.subjects_created += chunk.linker.stats.subjects_created
        done += len(part)
        if n & (n - 1) == 0 and done >= ANALYZE_MIN_ROWS:
            # after chunks 1, 2, 4, 8, ... of a bulk load: the planner's statistics follow the
            # growth; small calls (the API's) leave it to autovacuum, as ANALYZE is not free
            # (79 of 361 ms per 100-row POST on PostgreSQL, bench/load.py)
            store.refresh_statistics("records", "subjects", "identifiers", "list_entries")
        if progress is not None:
            progress(len(part))
    with store.batch() as b:
        b.conn.execute(update(ingests).where(ingests.c.id == ingest_id).values(
            accepted=result.accepted, rejected=result.rejected, duplicates=result.duplicates))
        # an identical re-send changes nothing, not even the ledger; a file of no rows leaves
        # zero counts even when its ingest completed, so any earlier attempt counts for it
        rows_seen = result.accepted + result.rejected + result.duplicates
        if (completed if rows_seen else attempted) and not result.accepted:
            return result
        b.emit("ingest.completed", {"ingest_id": ingest_id, "furnisher_id": furnisher_id,
                                    "source": source, "sha256": sha256,
                                    "accepted": result.accepted, "rejected": result.rejected,
                                    "duplicates": result.duplicates})
    return result


def ingest_file(store: Store, policy: Policy, *, furnisher_id: int, path: Path,
                as_of: dt.date | None = None, chunk_rows: int = 5000,
                progress: Callable[[int], None] | None = None,
                fmt: str | None = None) -> IngestResult:
    """Ingest one CSV / JSON Lines / Parquet file, or a Metro 2 file (``fmt="metro2"``: a
    row's ``line`` is its byte position). An empty or header-only file is accepted with zero
    rows and one problem saying so.

    Raises:
        InputError: the file cannot be read, its type is unknown, or it is not Metro 2.
    """
    digest = file_sha256(path) if path.is_file() else ""
    read = 0

    def counted() -> Iterator[RawRow]:
        nonlocal read
        for row in metro2_rows(path, policy) if fmt == "metro2" else read_rows(path, fmt):
            read += 1
            yield row

    result = ingest_rows(store, policy, furnisher_id=furnisher_id, rows=counted(),
                         source=str(path), sha256=digest, as_of=as_of, chunk_rows=chunk_rows,
                         progress=progress)
    if not read:
        result.problems.append({"file": str(path), "line": None, "field": None,
                                "reason": "the file holds no rows (empty or header only)"})
    return result
