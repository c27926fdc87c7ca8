"""Probabilistic linkage of records the deterministic rules left unlinked (issue #3).

A record without a checksum-valid national ID — a typo'd ID, an ID contradicting the row's own
birth date or sex, or a phone and a name only — is compared with the existing subjects that
could be the same person, and linked, queued for review, or left unlinked:

0. **The phone rule.** A record with a phone and no claimed ID links to the one subject that
   held the number on the record's date (identifier validity interval, so a recycled number
   never carries the previous holder's records to the new one), unless the number was shared
   by then (:mod:`socialcredit.identity.link`) or the record's name differs from the holder's.
1. **Candidates** (blocking, in the operational database, a few indexed queries per chunk):
   subjects whose national ID is one typo away from the claimed one
   (:func:`~socialcredit.identity.national_id.one_edit_neighbours`), subjects that ever held the
   record's phone, and subjects with the same name (pinyin "family given") and birth date. At
   most ``identity.linkage.max_candidates`` per record.
2. **Scores**: the trained Splink model (:mod:`socialcredit.identity.model`, run through
   :mod:`socialcredit.identity.scoring`) compares each record with its candidates — one row
   per name × phone interval of the subject, the best row counts — giving a match weight, a
   probability and each comparison's contribution.
3. **Decision** (DESIGN §3.2, no sanction on a name alone): the best candidate is linked
   (``links.status = confirmed``) when its probability reaches ``auto_link_probability``, it is
   *corroborated* by a checksum-valid identifier (the national ID exactly, or the phone within
   its validity interval and not a shared number on the record's date — an ID one typo away
   is evidence, not corroboration), no other candidate reaches
   ``review_probability`` (twins, namesakes on a family phone) and the record carries no
   identity conflict flag. Otherwise, a best candidate at or above ``review_probability`` gets
   the record *tentatively* (``pending``): every candidate above that line is put in the review
   queue, and list entries resting on the record are ``pending_review`` — they sanction nothing
   until an operator accepts the link (:mod:`socialcredit.identity.review`). Below that line
   the record stays unlinked.

Ledger: ``record.linked`` ``{record_id, subject_id, rule, status, match_weight, ..., queued}``
(the link and the review pairs it opens, as ``audit replay`` rebuilds them; the phone rule's:
``explanation`` alone), with the subject's id so that gates and lists follow.

Longer than 400 lines (413): the rule list above and the code that follows it step by step
stay together; the candidates (blocking) are the facet to move out when it grows again.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import bindparam, select, update

from socialcredit.identity.frames import (
    _COLUMNS,
    TF_PRIOR_NAMES,
    LinkInput,
    LinkOutcome,
    _embedded_birth,
    _frequencies,
    by_pair,
    comparison_names,
    explain,
    record_frame,
    subject_rows,
    tf_columns,
)
from socialcredit.identity.model import LinkageModel
from socialcredit.identity.names import name_forms
from socialcredit.identity.national_id import one_edit_neighbours
from socialcredit.identity.requeue import pair_status
from socialcredit.identity.scoring import scorer_for
from socialcredit.policy.model import Policy
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import (
    identifiers,
    link_candidates,
    links,
    names,
    records,
    subjects,
)

__all__ = ["LinkInput", "LinkOutcome", "ProbabilisticLinker", "by_pair", "explain", "record_frame",
           "subject_rows"]

log = logging.getLogger(__name__)

_CHUNK = 500
#: Comparisons whose agreement is an identifier check (corroboration, see the module docstring).
_ID_LEVELS = {"national_id", "phone"}


class ProbabilisticLinker:
    """Links a chunk of records inside one write :class:`Batch` (see the module docstring)."""

    def __init__(self, batch: Batch, policy: Policy, model: LinkageModel) -> None:
        self.batch, self.policy, self.model = batch, policy, model
        self.spec = policy.identity.linkage
        #: (subject id, phone) → the date from which that number is known to be shared
        self.shared: dict[tuple[int, str], str] = {}
        #: record id → subjects an operator rejected for it (never proposed again)
        self.exclude: dict[int, set[int]] = defaultdict(set)

    # ------------------------------------------------------------------ candidates
    def candidates(self, recs: Sequence[LinkInput]) -> dict[int, list[int]]:
        """record id → candidate subject ids (best-evidence first, capped)."""
        conn = self.batch.conn
        by_id: dict[str, list[int]] = defaultdict(list)
        by_phone: dict[str, list[int]] = defaultdict(list)
        by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r in recs:
            if r.claimed_id:
                for nid in (r.claimed_id, *one_edit_neighbours(r.claimed_id)):
                    by_id[nid].append(r.record_id)
            if r.phone:
                by_phone[r.phone].append(r.record_id)
            full = name_forms(r.name).full_name if r.name else None
            birth = r.birth_date or _embedded_birth(r.claimed_id)
            if full and birth:
                by_name[(full, birth)].append(r.record_id)
        found: dict[int, list[int]] = defaultdict(list)
        # never an organisation: linkage joins no person's record to one (it holds no phone,
        # name row or birth date either; this says so where the candidates are chosen)
        live = subjects.c.merged_into.is_(None) & (subjects.c.kind == "person")
        keys = sorted(by_id)
        for i in range(0, len(keys), _CHUNK):
            for nid, sid in conn.execute(select(subjects.c.national_id, subjects.c.id).where(
                    subjects.c.national_id.in_(keys[i:i + _CHUNK]), live)):
                for rid in by_id[nid]:
                    found[rid].append(sid)
        keys = sorted(by_phone)
        for i in range(0, len(keys), _CHUNK):
            for value, sid in conn.execute(select(identifiers.c.value, identifiers.c.subject_id)
                                           .where(identifiers.c.kind == "phone",
                                                  identifiers.c.value.in_(keys[i:i + _CHUNK]))):
                for rid in by_phone[value]:
                    found[rid].append(sid)
        fulls = sorted({full for full, _ in by_name})
        for i in range(0, len(fulls), _CHUNK):
            part = set(fulls[i:i + _CHUNK])
            # the birth dates in SQL too: a common name alone (294,000 Zhang Wei) would fetch
            # every namesake in the nation for each chunk
            births = sorted({b for f, b in by_name if f in part})
            for full, birth, sid in conn.execute(
                select(names.c.full_name, subjects.c.birth_date, subjects.c.id)
                .join(subjects, subjects.c.id == names.c.subject_id)
                .where(names.c.full_name.in_(sorted(part)), subjects.c.birth_date.in_(births),
                       live)
            ):
                for rid in by_name.get((full, birth), ()):
                    found[rid].append(sid)
        return {rid: [s for s in dict.fromkeys(sids)
                      if s not in self.exclude.get(rid, ())][:self.spec.max_candidates]
                for rid, sids in found.items()}

    # ------------------------------------------------------------------ frames
    def _record_frame(self, recs: Sequence[LinkInput]) -> pd.DataFrame:
        return record_frame(recs)

    def _subject_frame(self, cands: dict[int, list[int]]) -> pd.DataFrame:
        sids = sorted({s for ss in cands.values() for s in ss})
        versions = subject_rows(self.batch.conn, sids, self.shared)
        rows = [{**row, "unique_id": f"s{sid}#{rid}#{k}", "group_id": rid}
                for rid, ss in cands.items() for sid in ss
                for k, row in enumerate(versions.get(sid, ()))]
        return pd.DataFrame(rows, columns=_COLUMNS)

    # ------------------------------------------------------------------ scoring
    def score(self, recs: Sequence[LinkInput]) -> pd.DataFrame:
        """Scored (record, subject) pairs: columns ``record_id``, ``subject_id``,
        ``match_weight``, ``match_probability``, ``w_<comparison>``, ``level_<comparison>``;
        the best row per pair."""
        cands = self.candidates(recs)
        todo = [r for r in recs if r.record_id in cands]
        if not todo:
            return pd.DataFrame(columns=["record_id", "subject_id", "match_weight",
                                         "match_probability"])
        left, right = self._record_frame(todo), self._subject_frame(cands)
        tf = self._tf(left, right)
        return by_pair(scorer_for(self.model, tuple(sorted(tf))).score(left, right, tf))

    def prescored(self, recs: Sequence[LinkInput], pairs: pd.DataFrame) -> pd.DataFrame:
        """Pairs scored beforehand (the batch path, :mod:`socialcredit.identity.backlog`;
        columns of :func:`socialcredit.identity.model.predict`, subject ids ``s<id>#<k>``)
        as :meth:`score` gives them: ``recs``' pairs only, rejected subjects dropped, at most
        ``max_candidates`` per record (the most probable), shared phones looked up."""
        pairs = by_pair(pairs)
        wanted = {r.record_id for r in recs}
        pairs = pairs[pairs["record_id"].isin(wanted)]
        if self.exclude:
            banned = {(rid, sid) for rid, sids in self.exclude.items() for sid in sids}
            keep = [(int(a), int(b)) not in banned
                    for a, b in zip(pairs["record_id"], pairs["subject_id"], strict=True)]
            pairs = pairs[keep]
        pairs = pairs.sort_values(["record_id", "match_probability", "subject_id"],
                                  ascending=[True, False, True], kind="stable")
        pairs = pairs.groupby("record_id", sort=False).head(self.spec.max_candidates)
        sids = sorted({int(s) for s in pairs["subject_id"]})
        for i in range(0, len(sids), _CHUNK):
            for ph in self.batch.conn.execute(
                    select(identifiers.c.subject_id, identifiers.c.value,
                           identifiers.c.shared_since)
                    .where(identifiers.c.subject_id.in_(sids[i:i + _CHUNK]),
                           identifiers.c.kind == "phone",
                           identifiers.c.shared_since.is_not(None))):
                self.shared[(ph.subject_id, ph.value)] = ph.shared_since
        return pairs.reset_index(drop=True)

    def _tf(self, left: pd.DataFrame, right: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Term frequencies of the model's TF columns over the whole registry's names (a
        chunk's own frequencies would make every name look rare), for the values at hand."""
        freq = _frequencies(self.batch.conn)
        out: dict[str, pd.DataFrame] = {}
        for col, u in tf_columns(self.model).items():
            counts = freq.get(col)
            if counts is None:
                continue
            total = sum(counts.values())
            values = sorted({v for v in pd.concat([left[col], right[col]]).dropna()})
            # smoothed toward the model's u (no adjustment) so that a small registry, where
            # every name is "common", does not erase the name's evidence: the registry's own
            # frequency takes over as it grows past TF_PRIOR_NAMES names
            out[col] = pd.DataFrame({col: values, f"tf_{col}": [
                (counts.get(v, 0) + TF_PRIOR_NAMES * u) / (total + TF_PRIOR_NAMES)
                for v in values]})
        return out

    # ------------------------------------------------------------------ the phone rule
    def by_phone(self, recs: Sequence[LinkInput]) -> dict[int, tuple[int, Any]]:
        """record id → (subject id, its phone identifier row) for records the phone rule links:
        no claimed ID or identity conflict, one holder of the number on the record's date, the
        number not shared by then, and no usable name that differs from the holder's names."""
        conn = self.batch.conn
        todo = [r for r in recs if r.phone and not r.claimed_id and not r.flags]
        phones = sorted({r.phone for r in todo if r.phone})
        held: dict[str, list[Any]] = defaultdict(list)
        for i in range(0, len(phones), _CHUNK):
            for row in conn.execute(select(identifiers).where(
                    identifiers.c.kind == "phone", identifiers.c.value.in_(phones[i:i + _CHUNK]))):
                held[row.value].append(row)
        sids = sorted({row.subject_id for rows in held.values() for row in rows})
        fulls: dict[int, set[str]] = defaultdict(set)
        for i in range(0, len(sids), _CHUNK):
            for sid, full in conn.execute(select(names.c.subject_id, names.c.full_name).where(
                    names.c.subject_id.in_(sids[i:i + _CHUNK]))):
                if full:
                    fulls[sid].add(full)
        out: dict[int, tuple[int, Any]] = {}
        for r in todo:
            day = r.occurred_at
            hits = [h for h in held.get(r.phone or "", ())
                    if h.valid_from <= day and (h.valid_to is None or day < h.valid_to)]
            if len(hits) != 1:
                continue
            h = hits[0]
            if h.shared_since is not None and day >= h.shared_since:
                continue
            full = name_forms(r.name).full_name if r.name else None
            if full and fulls[h.subject_id] and full not in fulls[h.subject_id]:
                continue
            out[r.record_id] = (int(h.subject_id), h)
        return out

    # ------------------------------------------------------------------ decisions
    def link(self, recs: Sequence[LinkInput], *, decided_by: str = "model",
             scored: pd.DataFrame | None = None) -> LinkOutcome:
        """Apply the phone rule, then score (or take ``scored``, see :meth:`prescored`),
        decide and write (see the module docstring).

        Records decided before (``socialcredit link`` re-scores pending and unlinked ones as
        new subjects arrive) keep their row in ``links``, updated only when the outcome
        changes; a subject an operator rejected for a record (or unlinked it from) is never
        proposed for it again."""
        out = LinkOutcome()
        if not recs:
            return out
        b = self.batch
        ids = [r.record_id for r in recs]
        prior: dict[int, Any] = {}
        queued: dict[int, set[int]] = defaultdict(set)
        for i in range(0, len(ids), _CHUNK):
            part = ids[i:i + _CHUNK]
            prior.update({row.record_id: row for row in b.conn.execute(
                select(links).where(links.c.record_id.in_(part)))})
            for c in b.conn.execute(select(link_candidates.c.record_id,
                                           link_candidates.c.subject_id,
                                           link_candidates.c.status)
                                    .where(link_candidates.c.record_id.in_(part))):
                if c.status == "rejected":
                    self.exclude[c.record_id].add(int(c.subject_id))
                elif c.status == "open":
                    queued[c.record_id].add(int(c.subject_id))
        moves: list[dict[str, Any]] = []
        starts = pair_status(b.conn, ids)  # a superseded record's pairs start closed
        phone_links = self.by_phone([r for r in recs if r.record_id not in prior])
        for rid, (sid, h) in sorted(phone_links.items()):
            if sid in self.exclude.get(rid, ()):
                continue
            why = {"phone": {"level": f"held by the subject from {h.valid_from}"
                             + (f" to {h.valid_to}" if h.valid_to else "")
                             + " (the record's date is inside)", "weight": None}}
            seq = b.emit("record.linked", {"record_id": rid, "subject_id": sid,
                                           "rule": "phone", "status": "confirmed",
                                           "explanation": why}, subject_id=sid)
            b.add(links, {"record_id": rid, "subject_id": sid, "rule": "phone",
                          "status": "confirmed", "match_weight": None,
                          "match_probability": None,
                          "explanation": json.dumps(why, ensure_ascii=False, sort_keys=True),
                          "model_version": None, "decided_by": "rule", "seq": seq})
            moves.append({"rid": rid, "sid": sid})
            out.touched.add(sid)
            out.linked += 1
        recs = [r for r in recs if r.record_id not in phone_links]
        pairs = (pd.DataFrame() if not recs else self.score(recs) if scored is None
                 else self.prescored(recs, scored))
        out.scored_pairs = len(pairs)
        comparisons = comparison_names(self.model)
        by_record: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in pairs.to_dict("records"):
            by_record[int(row["record_id"])].append(row)
        for r in recs:
            rows = sorted(by_record.get(r.record_id, ()),
                          key=lambda x: (-x["match_probability"], x["subject_id"]))
            above = [x for x in rows if x["match_probability"] >= self.spec.review_probability]
            before = prior.get(r.record_id)
            if not above:
                if before is None or before.status != "pending":
                    out.unlinked += 1
                    out.waiting[r.record_id] = "unlinked"
                else:
                    out.pending += 1  # stays in review as it was
                    out.waiting[r.record_id] = "pending"
                continue
            best = above[0]
            sid = int(best["subject_id"])
            shared = self.shared.get((sid, r.phone or ""))
            auto = (best["match_probability"] >= self.spec.auto_link_probability
                    and len(above) == 1 and not r.flags_conflict
                    and _corroborated(best, comparisons, phone_counts=shared is None
                                      or r.occurred_at < shared))
            status = "confirmed" if auto else "pending"
            offered = {int(x["subject_id"]) for x in above} if not auto else set()
            # (a confirmed link's open pair is evaluation's: the entry resting on it, queued)
            if (before is not None and before.subject_id == sid and before.status == status
                    and (auto or queued.get(r.record_id, set()) == offered)):
                out.linked += auto
                out.pending += not auto
                out.waiting[r.record_id] = status
                continue  # nothing new: no event, no churn in the queue
            reasons = explain(best, comparisons)
            if r.flags:
                reasons["flags"] = list(r.flags)
            opened = [{"candidate_id": b.next_id(link_candidates), **_rounded(x),
                       "subject_id": int(x["subject_id"]), "explanation": explain(x, comparisons)}
                      for x in (above if not auto else ())]
            seq = b.emit("record.linked", {
                "record_id": r.record_id, "subject_id": sid, "rule": "probabilistic",
                "status": status, **_rounded(best), "model_version": self.model.version,
                "explanation": reasons, "decided_by": decided_by,
                **({"queued": opened} if opened else {})}, subject_id=sid)
            row = {"subject_id": sid, "rule": "probabilistic", "status": status, **_rounded(best),
                   "explanation": json.dumps(reasons, ensure_ascii=False, sort_keys=True),
                   "model_version": self.model.version, "decided_by": decided_by, "seq": seq}
            if before is None:
                b.add(links, {"record_id": r.record_id, **row})
            else:
                b.flush()
                b.conn.execute(update(links).where(links.c.record_id == r.record_id)
                               .values(**row))
                b.conn.execute(update(link_candidates).where(
                    link_candidates.c.record_id == r.record_id,
                    link_candidates.c.status == "open").values(status="closed"))
                if before.subject_id is not None:
                    out.touched.add(int(before.subject_id))
            for q in opened:
                b.add(link_candidates, {
                    **{k: v for k, v in q.items() if k != "candidate_id"},
                    "id": q["candidate_id"], "record_id": r.record_id,
                    "explanation": json.dumps(q["explanation"], ensure_ascii=False,
                                              sort_keys=True),
                    "model_version": self.model.version, "status": starts[r.record_id],
                    "created_seq": seq})
            moves.append({"rid": r.record_id, "sid": sid})
            out.touched.add(sid)
            out.waiting[r.record_id] = status
            if auto:
                out.linked += 1
            else:
                out.pending += 1
        if moves:
            b.flush()
            b.conn.execute(update(records).where(records.c.id == bindparam("rid"))
                           .values(subject_id=bindparam("sid")), moves)
        return out


def _rounded(row: dict[str, Any]) -> dict[str, float]:
    """A scored pair's ``match_weight`` and ``match_probability`` as the ledger states them."""
    return {"match_weight": round(float(row["match_weight"]), 3),
            "match_probability": round(float(row["match_probability"]), 6)}


def _corroborated(row: dict[str, Any], comparisons: Iterable[str], *,
                  phone_counts: bool = True) -> bool:
    """A checksum-valid identifier agrees: the national ID exactly (a one-typo match is
    evidence, not corroboration: the typo'd ID could be a twin's), or the phone inside its
    validity interval (see the model) when the number is not shared on the record's date."""
    for name in comparisons:
        if name == "national_id" and row.get("level_national_id") != "exact":
            continue  # a typo'd ID is evidence, not a checksum-valid identifier
        if name in _ID_LEVELS and (phone_counts or name != "phone"):
            w = row.get(f"w_{name}")
            if w is not None and not pd.isna(w) and float(w) > 0:
                return True
    return False
