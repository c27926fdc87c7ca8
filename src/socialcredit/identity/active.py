"""The active linkage model and the backlog's records, shared by the chunked and the batch
linkers (:mod:`.relink`, :mod:`.backlog`).

* :func:`active_model` — the model every ingest uses: the policy's ``identity.linkage.model``
  file if set, else the newest model trained on this registry (table ``linkage_models``),
  else the default shipped with the package.
* :func:`backlog_ids` / :func:`link_inputs` — what ``socialcredit link`` links again, and the
  inputs of those records.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, or_, select

from socialcredit.identity.model import LinkageModel
from socialcredit.identity.probabilistic import LinkInput
from socialcredit.policy.model import Policy
from socialcredit.store.tables import linkage_models, links, records

__all__ = ["active_model", "backlog_ids", "link_inputs"]

_lock = threading.Lock()
_cache: dict[str, LinkageModel] = {}


def _default_model() -> LinkageModel:
    with _lock:
        if "default" not in _cache:
            text = resources.files("socialcredit.identity").joinpath(
                "default_model.json").read_text(encoding="utf-8")
            _cache["default"] = LinkageModel.from_json(text)
        return _cache["default"]


def active_model(conn: Connection, policy: Policy) -> LinkageModel:
    """See the module docstring.

    Raises:
        ConfigError: the policy names a model file that is missing or not a model.
    """
    path = policy.identity.linkage.model
    if path:
        key = f"file:{path}"
        with _lock:
            if key not in _cache:
                _cache[key] = LinkageModel.load(Path(path))
            return _cache[key]
    version = conn.execute(select(linkage_models.c.version).order_by(
        linkage_models.c.seq.desc()).limit(1)).scalar()
    if version is None:
        return _default_model()
    with _lock:
        hit = _cache.get(version)
    if hit is None:
        text = conn.execute(select(linkage_models.c.model).where(
            linkage_models.c.version == version)).scalar_one()
        hit = LinkageModel.from_json(text)
        with _lock:
            _cache[version] = hit
    return hit


def link_inputs(conn: Connection, ids: list[int]) -> list[LinkInput]:
    """The linkage inputs of records ``ids`` (ascending), as the store holds them."""
    rows = conn.execute(select(records.c.id, records.c.occurred_at, records.c.name,
                               records.c.birth_date, records.c.claimed_id, records.c.phone,
                               records.c.address, records.c.flags)
                        .where(records.c.id.in_(ids)).order_by(records.c.id)).all()
    return [LinkInput(r.id, r.occurred_at, r.name, r.birth_date, r.claimed_id, r.phone,
                      r.address, tuple(r.flags.split(",")) if r.flags else ())
            for r in rows]


def backlog_ids(conn: Connection) -> Any:
    """Ids (ascending, streamed) of the active records without a subject or still in
    review: what ``socialcredit link`` links or scores again."""
    return conn.execute(
        select(records.c.id).outerjoin(links, links.c.record_id == records.c.id)
        .where(records.c.status == "active", records.c.superseded_by.is_(None),
               or_(records.c.subject_id.is_(None), links.c.status == "pending"))
        .order_by(records.c.id).execution_options(yield_per=50_000)).scalars()
