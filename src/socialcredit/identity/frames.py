"""Frames and frequencies for probabilistic linkage (split from
:mod:`socialcredit.identity.probabilistic`, which re-exports what it always did).

* :class:`LinkInput` — what linkage reads of one record;
* :func:`record_frame` / :func:`subject_rows` — the records and subjects sides of scoring
  (the model's columns, :mod:`socialcredit.identity.model`), used by the chunked path
  (candidates per record) and by the batch path (:mod:`socialcredit.identity.backlog`,
  every subject);
* :func:`by_pair` — scored rows to the best row per (record, subject);
* :func:`tf_columns` / ``_frequencies`` — the model's term-frequency columns and the
  registry's name counts.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from socialcredit.identity.model import LinkageModel
from socialcredit.identity.names import name_forms
from socialcredit.store.tables import identifiers, names, records, subjects

__all__ = ["LinkInput", "LinkOutcome", "by_pair", "comparison_names", "explain", "record_frame",
           "subject_rows", "tf_columns"]

_CHUNK = 500
#: Weight of the model's own name frequency against the registry's (in names): below about
#: this many names the registry's counts say little about how common a name is.
TF_PRIOR_NAMES = 10_000
#: Most name × phone rows kept per candidate subject.
_ROWS_PER_SUBJECT = 12


@dataclass(frozen=True, slots=True)
class LinkInput:
    """What linkage reads of one record."""

    record_id: int
    occurred_at: str
    name: str | None = None
    birth_date: str | None = None
    claimed_id: str | None = None
    phone: str | None = None
    address: str | None = None
    flags: tuple[str, ...] = ()

    @property
    def flags_conflict(self) -> bool:
        """The ID contradicts the row's own birth date or sex: trust neither, review."""
        return any(f.endswith("_conflict") for f in self.flags)


@dataclass
class LinkOutcome:
    """Counts of one linkage run and the subjects whose records changed."""

    linked: int = 0
    pending: int = 0
    unlinked: int = 0
    scored_pairs: int = 0
    touched: set[int] = field(default_factory=set)
    #: record id → ``"unlinked"``, ``"pending"`` or ``"confirmed"`` (by the model, which a
    #: later namesake can send back to review) for each record the model decided
    waiting: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {"linked": self.linked, "pending": self.pending, "unlinked": self.unlinked,
                "scored_pairs": self.scored_pairs}


def explain(row: dict[str, Any] | pd.Series, comparisons: Iterable[str]) -> dict[str, Any]:
    """``{comparison: {"level", "weight"}}`` of one scored pair (weights in log2 Bayes
    factor units; the prior is ``match_weight`` minus their sum)."""
    out: dict[str, Any] = {}
    for name in comparisons:
        w = row.get(f"w_{name}")
        out[name] = {"level": str(row.get(f"level_{name}")),
                     "weight": None if w is None or pd.isna(w) else round(float(w), 3)}
    return out


def subject_rows(conn: Any, sids: Sequence[int],
                 shared: dict[tuple[int, str], str] | None = None,
                 ) -> dict[int, list[dict[str, Any]]]:
    """subject id → its rows on the subjects side of scoring (the model's columns, no
    ``unique_id``): one per name × phone interval, at most ``_ROWS_PER_SUBJECT``; subjects
    not found are absent. ``shared`` gets ``(subject id, phone) → shared_since``."""
    profile: dict[int, dict[str, Any]] = {}
    fulls: dict[int, list[str]] = defaultdict(list)
    phones: dict[int, list[tuple[str, str, str | None]]] = defaultdict(list)
    address: dict[int, str] = {}
    for i in range(0, len(sids), _CHUNK):
        part = list(sids[i:i + _CHUNK])
        for s in conn.execute(select(subjects.c.id, subjects.c.national_id,
                                     subjects.c.birth_date, subjects.c.name)
                              .where(subjects.c.id.in_(part))):
            profile[s.id] = {"national_id": s.national_id, "birth_date": s.birth_date,
                             "name": s.name}
        for n in conn.execute(select(names.c.subject_id, names.c.name).where(
                names.c.subject_id.in_(part))):
            fulls[n.subject_id].append(n.name)
        for ph in conn.execute(select(identifiers.c.subject_id, identifiers.c.value,
                                      identifiers.c.valid_from, identifiers.c.valid_to,
                                      identifiers.c.shared_since)
                               .where(identifiers.c.subject_id.in_(part),
                                      identifiers.c.kind == "phone")
                               .order_by(identifiers.c.id)):
            phones[ph.subject_id].append((ph.value, ph.valid_from, ph.valid_to))
            if ph.shared_since is not None and shared is not None:
                shared[(ph.subject_id, ph.value)] = ph.shared_since
        for a in conn.execute(select(records.c.subject_id, records.c.address)
                              .where(records.c.subject_id.in_(part),
                                     records.c.address.is_not(None))
                              .order_by(records.c.occurred_at)):
            address[a.subject_id] = a.address  # the latest one
    out: dict[int, list[dict[str, Any]]] = {}
    for sid, p in profile.items():
        name_list = list(dict.fromkeys(fulls[sid] or [p["name"]]))
        phone_list: list[tuple[str | None, str | None, str | None]] = (
            list(phones[sid]) or [(None, None, None)])
        rows: list[dict[str, Any]] = []
        for raw in name_list:
            forms = name_forms(raw)
            for value, since, until in phone_list:
                if len(rows) >= _ROWS_PER_SUBJECT:
                    break
                rows.append({"family_name": forms.family_name, "given_name": forms.given_name,
                             "full_name": forms.full_name, "birth_date": p["birth_date"],
                             "national_id": p["national_id"], "phone": value,
                             "occurred_at": None, "phone_from": since, "phone_to": until,
                             "address": _address(address.get(sid))})
        out[sid] = rows
    return out


def record_frame(recs: Sequence[LinkInput]) -> pd.DataFrame:
    """The records side of scoring: the model's columns plus ``group_id`` (the record id),
    ``unique_id`` = ``r<record id>``."""
    rows = []
    for r in recs:
        forms = name_forms(r.name)
        rows.append({"unique_id": f"r{r.record_id}", "group_id": r.record_id,
                     "family_name": forms.family_name, "given_name": forms.given_name,
                     "full_name": forms.full_name, "birth_date": r.birth_date,
                     "national_id": r.claimed_id, "phone": r.phone,
                     "occurred_at": r.occurred_at, "phone_from": None, "phone_to": None,
                     "address": _address(r.address)})
    return pd.DataFrame(rows, columns=_COLUMNS)


def by_pair(pairs: pd.DataFrame) -> pd.DataFrame:
    """Scored rows (``unique_id_l``/``_r``: ``r<record id>`` and ``s<subject id>#…`` on
    either side) → the best row per (``record_id``, ``subject_id``), both added as ints."""
    if pairs.empty:
        return pairs.assign(record_id=pd.Series([], dtype="int64"),
                            subject_id=pd.Series([], dtype="int64"))
    rec_side = pairs["unique_id_l"].str.startswith("r")
    rid = pairs["unique_id_l"].where(rec_side, pairs["unique_id_r"])
    sid = pairs["unique_id_r"].where(rec_side, pairs["unique_id_l"])
    pairs = pairs.assign(record_id=rid.str[1:].astype("int64"),
                         subject_id=sid.str[1:].str.split("#").str[0].astype("int64"))
    pairs = pairs.sort_values(["record_id", "subject_id", "match_weight"],
                              ascending=[True, True, False], kind="stable")
    return pairs.drop_duplicates(["record_id", "subject_id"]).reset_index(drop=True)


def comparison_names(model: LinkageModel) -> list[str]:
    """The model's comparisons (``name``, ``birth_date``, ``national_id``, ...)."""
    return [c["output_column_name"] for c in model.settings["comparisons"]]


def tf_columns(model: LinkageModel) -> dict[str, float]:
    """Columns the model adjusts by term frequency → the u probability of their first
    adjusted level (the frequency at which the adjustment is nil)."""
    out: dict[str, float] = {}
    for c in model.settings["comparisons"]:
        for lv in c["comparison_levels"]:
            col = lv.get("tf_adjustment_column")
            if col and col not in out and lv.get("u_probability"):
                out[col] = float(lv["u_probability"])
    return out


_FREQ_LOCK = threading.Lock()
_FREQ: dict[str, tuple[float, int, dict[str, dict[str, int]]]] = {}
#: Seconds between two checks of the names table's size (a COUNT scans it: not per chunk).
FREQ_RECHECK_S = 60.0


def _frequencies(conn: Any) -> dict[str, dict[str, int]]:
    """Counts of full, family and given names over the ``names`` table, cached per database
    and recomputed once the table has grown by a tenth, looked at once a minute at most (one
    GROUP BY; a registry of 10 M names takes a few seconds, once)."""
    key = str(conn.engine.url)
    with _FREQ_LOCK:
        hit = _FREQ.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < FREQ_RECHECK_S:
        return hit[2]
    size = conn.execute(select(func.count()).select_from(names)).scalar() or 0
    if hit is not None and size <= hit[1] * 1.1 + 100:
        with _FREQ_LOCK:
            _FREQ[key] = (now, hit[1], hit[2])
        return hit[2]
    full: dict[str, int] = {}
    family: dict[str, int] = defaultdict(int)
    given: dict[str, int] = defaultdict(int)
    for value, count in conn.execute(select(names.c.full_name, func.count()).where(
            names.c.full_name.is_not(None)).group_by(names.c.full_name)):
        if not value:
            continue
        full[value] = count
        fam, _, giv = value.partition(" ")
        family[fam] += count
        if giv:
            given[giv] += count
    out = {"full_name": full, "family_name": dict(family), "given_name": dict(given)}
    with _FREQ_LOCK:
        _FREQ[key] = (now, size, out)
    return out


_COLUMNS = ["unique_id", "group_id", "family_name", "given_name", "full_name", "birth_date",
            "national_id", "phone", "occurred_at", "phone_from", "phone_to", "address"]


def _address(text: str | None) -> str | None:
    if not text:
        return None
    out = " ".join("".join(ch if ch.isalnum() else " " for ch in text.casefold()).split())
    return out or None


def _embedded_birth(claimed: str | None) -> str | None:
    """The birth date a (possibly typo'd) 18-character CN ID embeds, if it is a real date."""
    if not claimed or len(claimed) != 18 or not claimed[6:14].isdigit():
        return None
    try:
        return dt.date(int(claimed[6:10]), int(claimed[10:12]), int(claimed[12:14])).isoformat()
    except ValueError:
        return None
