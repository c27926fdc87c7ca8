"""Running linkage: the active model, linking unlinked records, and retraining (issue #3).

* :func:`active_model` (:mod:`.active`) — the model every ingest uses.
* :func:`link_chunk` — probabilistic linkage of one ingest chunk's unlinked records, inside the
  ingest's transaction (incremental: new records against existing subjects).
* :func:`relink_unlinked` — the same over every record still unlinked (``socialcredit link``):
  records that arrived before the subject they belong to, or before a retrain.
* :func:`retrain` — ``socialcredit link --retrain``: train a new model on the registry's own
  records and subjects (fixed seed), save it as versioned JSON, make it active (ledger event
  ``linkage.model_trained``), then run :func:`relink_unlinked`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select, update

from socialcredit.identity.active import _default_model, active_model, backlog_ids, link_inputs
from socialcredit.identity.backlog import relink_backlog
from socialcredit.identity.frames import _address
from socialcredit.identity.model import blocking_warnings, train
from socialcredit.identity.names import name_forms
from socialcredit.identity.probabilistic import LinkInput, LinkOutcome, ProbabilisticLinker
from socialcredit.policy.evaluate import evaluate_subjects
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.ledger import Batch
from socialcredit.store.tables import (
    identifiers,
    linkage_models,
    names,
    records,
    subjects,
)

__all__ = ["_default_model", "active_model", "backlog_ids", "link_chunk", "relink_unlinked",
           "retrain"]

_CHUNK = 500
#: Records and subjects a retrain samples at most (EM converges long before).
TRAIN_SAMPLE = 200_000


def link_chunk(batch: Batch, policy: Policy, recs: Sequence[LinkInput]) -> LinkOutcome:
    """Probabilistic linkage of ``recs`` inside ``batch`` (see :mod:`.probabilistic`)."""
    if not recs:
        return LinkOutcome()
    batch.flush()
    model = active_model(batch.conn, policy)
    return ProbabilisticLinker(batch, policy, model).link(recs)


def relink_unlinked(store: Store, policy: Policy, *, as_of: dt.date,
                    chunk: int = 5000) -> dict[str, Any]:
    """Link, or score again, every active record without a subject or still in review, against
    today's subjects (pairs an operator rejected stay rejected; an unchanged outcome writes
    nothing). Returns ``{"linked", "pending", "unlinked", "scored_pairs"}``."""
    with store.read() as conn:
        todo = list(backlog_ids(conn))
    total = LinkOutcome()
    for i in range(0, len(todo), chunk):
        with store.batch(policy.version_hash) as b:
            out = link_chunk(b, policy, link_inputs(b.conn, todo[i:i + chunk]))
            b.flush()
            if out.touched:
                evaluate_subjects(b, policy, out.touched, as_of)
        total.linked += out.linked
        total.pending += out.pending
        total.unlinked += out.unlinked
        total.scored_pairs += out.scored_pairs
    return total.as_dict()


def _backfill_names(store: Store) -> int:
    """Fill ``names.full_name`` where a registry older than migration 0004 left it empty."""
    done = 0
    while True:
        with store.batch() as b:
            rows = b.conn.execute(select(names.c.subject_id, names.c.name).where(
                names.c.full_name.is_(None)).limit(5000)).all()
            if not rows:
                return done
            for r in rows:
                b.conn.execute(update(names).where(names.c.subject_id == r.subject_id,
                                                   names.c.name == r.name)
                               .values(full_name=name_forms(r.name).full_name or ""))
            done += len(rows)


def training_frames(conn: Connection, *, limit: int = TRAIN_SAMPLE,
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, subjects) frames in the model's input shape (see ``identity.model``) from the
    registry: records as sent (claimed IDs included) and one row per subject with its first
    name, birth date, national ID and first phone interval."""
    recs = conn.execute(select(records.c.id, records.c.occurred_at, records.c.name,
                               records.c.birth_date, records.c.national_id,
                               records.c.claimed_id, records.c.phone, records.c.address)
                        .where(records.c.name.is_not(None), records.c.status == "active")
                        .order_by(records.c.id).limit(limit)).all()
    left = []
    for r in recs:
        f = name_forms(r.name)
        left.append({"unique_id": f"r{r.id}", "family_name": f.family_name,
                     "given_name": f.given_name, "full_name": f.full_name,
                     "birth_date": r.birth_date, "national_id": r.national_id or r.claimed_id,
                     "phone": r.phone, "occurred_at": r.occurred_at, "phone_from": None,
                     "phone_to": None, "address": _address(r.address)})
    subs = conn.execute(select(subjects.c.id, subjects.c.name, subjects.c.birth_date,
                               subjects.c.national_id)
                        .where(subjects.c.merged_into.is_(None), subjects.c.name.is_not(None),
                               subjects.c.kind == "person")
                        .order_by(subjects.c.id).limit(limit)).all()
    phones: dict[int, tuple[str, str, str | None]] = {}
    ids = [s.id for s in subs]
    for i in range(0, len(ids), _CHUNK):
        for p in conn.execute(select(identifiers.c.subject_id, identifiers.c.value,
                                     identifiers.c.valid_from, identifiers.c.valid_to)
                              .where(identifiers.c.kind == "phone",
                                     identifiers.c.subject_id.in_(ids[i:i + _CHUNK]))
                              .order_by(identifiers.c.id)):
            phones.setdefault(p.subject_id, (p.value, p.valid_from, p.valid_to))
    address: dict[int, str] = {}
    for i in range(0, len(ids), _CHUNK):
        for a in conn.execute(select(records.c.subject_id, records.c.address)
                              .where(records.c.subject_id.in_(ids[i:i + _CHUNK]),
                                     records.c.address.is_not(None))
                              .order_by(records.c.occurred_at)):
            address[a.subject_id] = a.address  # the latest
    right = []
    for s in subs:
        f = name_forms(s.name)
        value, since, until = phones.get(s.id, (None, None, None))
        right.append({"unique_id": f"s{s.id}", "family_name": f.family_name,
                      "given_name": f.given_name, "full_name": f.full_name,
                      "birth_date": s.birth_date, "national_id": s.national_id,
                      "phone": value, "occurred_at": None, "phone_from": since,
                      "phone_to": until, "address": _address(address.get(s.id))})
    left_df, right_df = pd.DataFrame(left), pd.DataFrame(right)
    # a column empty on either side cannot be trained: leave its comparison out of the model
    # (it would be all "unobserved" levels; the occurred_at / phone_from pair stays)
    empty = [c for c in ("birth_date", "national_id", "phone", "address")
             if c in left_df and (left_df[c].isna().all() or right_df[c].isna().all())]
    return left_df.drop(columns=empty), right_df.drop(columns=empty)


def retrain(store: Store, policy: Policy, *, backend: str = "duckdb", seed: int = 42,
            out_dir: Path | None = None, as_of: dt.date, spark: Any = None,
            batch: Any = None) -> dict[str, Any]:
    """See the module docstring; ``batch`` (a :class:`~socialcredit.identity.batch.BatchConfig`)
    links the backlog with :func:`~socialcredit.identity.backlog.relink_backlog` instead.
    Returns ``{"model_version", "path", "trained_on":
    {"records", "subjects"}, "warnings", "linked", "pending", "unlinked", "scored_pairs"}``.

    Raises:
        InputError: too few records or subjects to train on (fewer than 50 of either).
    """
    from socialcredit.errors import InputError

    _backfill_names(store)
    with store.read() as conn:
        left, right = training_frames(conn)
    if len(left) < 50 or len(right) < 50:
        raise InputError(f"too little to train a linkage model on: {len(left)} named records "
                         f"and {len(right)} named subjects (50 of each at least); the shipped "
                         "default model stays in use")
    model = train([left, right], link_type="link_only", backend=backend,  # type: ignore[arg-type]
                  seed=seed, spark=spark)
    warnings = blocking_warnings([left, right], model)
    path = model.save(out_dir) if out_dir is not None else None
    with store.batch(policy.version_hash) as b:
        known = b.conn.execute(select(func.count()).select_from(linkage_models).where(
            linkage_models.c.version == model.version)).scalar()
        seq = b.emit("linkage.model_trained", {
            "version": model.version, "seed": seed, "backend": backend,
            "records": len(left), "subjects": len(right), "model": model.to_json()})
        if known:
            b.conn.execute(update(linkage_models).where(
                linkage_models.c.version == model.version).values(seq=seq))
        else:
            b.add(linkage_models, {"version": model.version, "trained_at": b.at, "seq": seq,
                                   "model": model.to_json()})
    if batch is not None:  # a BatchConfig: link the backlog in one set-based pass
        result = relink_backlog(store, policy, as_of=as_of, config=batch, spark=spark)
        warnings = [*warnings, *result.pop("warnings")]
    else:
        result = relink_unlinked(store, policy, as_of=as_of)
    return {"model_version": model.version, "path": str(path) if path else None,
            "trained_on": {"records": len(left), "subjects": len(right)},
            "warnings": warnings, **result}
