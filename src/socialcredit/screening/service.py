"""The screening service: one query in, ranked candidates out, shaped like yente's ``/match``.

:func:`parse_query` checks a query as sent by the API or the CLI; :class:`ScreenService`
holds the index of the imported lists (rebuilt when an import changed them: checked at most
every :data:`REFRESH_S` seconds) and answers with :meth:`ScreenService.screen`.

Response of one query (close to yente's ``/match/{dataset}`` response)::

    {"status": 200, "results": [Result…], "total": {"value": n, "relation": "eq"},
     "query": {…as understood…}, "threshold": 0.7}

and each result ``{"id": "ofac_sdn:306", "caption", "schema", "properties": {…},
"datasets": [list], "score", "match", "features": {name, birth_date, nationality,
document}, "explanation": {…per feature…}}``. Where it differs from yente: ``schema`` is only
Person / Organization / Vessel / Airplane; ``features`` are additive adjustments (name score
plus birth date and nationality, a document hit sets 1.0), not logic-v2's weighted features;
``explanation`` (token pairs and how each matched) is ours; ``threshold`` is per list, from the
policy (``review_threshold``); a result an operator cleared for these very details carries
``cleared`` (``by``, ``at``, ``reason``) and ``match: false``, one cleared against the entry
as it read before ``earlier_clearance`` (``by``, ``at``, ``reason``, ``entry_changed``) and
its own ``match`` (:mod:`socialcredit.screening.cleared`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from socialcredit.errors import InputError
from socialcredit.policy.model import Policy
from socialcredit.screening.cleared import clearances_version, load_clearances, query_hash
from socialcredit.screening.features import check_birth_date, country_code
from socialcredit.screening.index import DEFAULT_THRESHOLD, Candidate, ScreenIndex, ScreenQuery
from socialcredit.screening.lists import lists_version, load_parties
from socialcredit.screening.text import MAX_NAME_CHARS, informative, tokens, unreadable
from socialcredit.store import Store

__all__ = ["KIND_ALIASES", "MAX_BATCH", "REFRESH_S", "ScreenService", "parse_query",
           "result_dict"]

#: Queries per ``POST /v1/screen:batch``.
MAX_BATCH = 1000
#: Seconds between two checks of whether an import changed the lists.
REFRESH_S = 1.0
#: A phone as written: an optional +, then digits with spaces, hyphens, dots or brackets.
_PHONE = re.compile(r"\+?[\s().-]*(?:\d[\s().-]*){5,20}")
#: Accepted spellings of a query's kind (ours and yente's schema names) → kind.
KIND_ALIASES = {"person": "person", "organisation": "organisation",
                "organization": "organisation", "company": "organisation",
                "legalentity": "organisation", "entity": "organisation", "vessel": "vessel",
                "aircraft": "aircraft", "airplane": "aircraft"}
_SCHEMA = {"person": "Person", "organisation": "Organization", "vessel": "Vessel",
           "aircraft": "Airplane"}


def parse_query(data: Mapping[str, Any]) -> ScreenQuery:
    """A :class:`ScreenQuery` from ``{"kind", "name" | "names", "birth_date",
    "nationality", "documents", "national_id", "phone"}`` (``schema`` is accepted for
    ``kind``, as in yente). A national ID is compared like a document number; a phone is
    accepted but no list carries phones, so it never matches.

    Raises:
        InputError: unknown kind; neither a name nor a document number (``{}``,
            ``{"name": null}``, ``{"names": []}``, a phone alone); an empty name, a name
            over :data:`MAX_NAME_CHARS`
            characters or of only legal-form words, titles or particles; a birth date not
            ``YYYY-MM-DD``/``YYYY`` or in the future; a nationality that is no country
            (``pycountry``); a phone that is not digits; text that is not valid Unicode (a
            lone surrogate) in any field (``details.field`` names the field).
    """
    for field_name in ("kind", "schema", "name", "names", "birth_date", "nationality",
                       "documents", "national_id", "phone"):
        values = data.get(field_name)
        for value in values if isinstance(values, list) else [values]:
            if isinstance(value, str) and (at := unreadable(value)) is not None:
                raise InputError(f"{field_name} is not valid text: a lone surrogate at "
                                 f"character {at} (not UTF-8)", details={"field": field_name})
    raw_kind = str(data.get("kind") or data.get("schema") or "person")
    kind = KIND_ALIASES.get(raw_kind.replace("_", "").lower())
    if kind is None:
        raise InputError(f"unknown kind {raw_kind!r}: person, organisation, vessel or "
                         "aircraft", details={"field": "kind"})
    names = data.get("names") or []
    if isinstance(names, str):
        names = [names]
    if data.get("name") is not None:
        names = [data["name"], *names]
    checked: list[str] = []
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise InputError("name is empty", details={"field": "name"})
        if len(name) > MAX_NAME_CHARS:
            raise InputError(f"name is {len(name)} characters long; at most {MAX_NAME_CHARS}",
                             details={"field": "name"})
        if not informative(tokens(name, kind)):
            raise InputError(f"name {name!r} has only legal-form words, titles or "
                             "particles: nothing to screen", details={"field": "name"})
        checked.append(name)
    birth = data.get("birth_date")
    if birth is not None:
        try:
            birth = check_birth_date(str(birth))
        except ValueError as e:
            raise InputError(str(e), details={"field": "birth_date"}) from None
    documents = [str(d) for d in (data.get("documents") or []) if str(d).strip()]
    if data.get("national_id"):
        documents.append(str(data["national_id"]))
    if any(len(d) > 64 for d in documents):
        raise InputError("a document number is over 64 characters", details={"field":
                                                                              "documents"})
    if not checked and not documents:  # else every list answers "no candidate", unread
        raise InputError("nothing to screen: give a name (name or names) or a document "
                         "number (documents or national_id); a birth date, nationality or "
                         "phone alone matches no entry", details={"field": "name"})
    nationality = data.get("nationality")
    if nationality is not None and (not isinstance(nationality, str)
                                    or country_code(nationality) is None):
        # an unknown country would be compared with nothing and silently ignored
        raise InputError(f"nationality {str(nationality)[:40]!r} is not a country name or "
                         "ISO 3166 code (e.g. China, CN, CHN)", details={"field": "nationality"})
    phone = data.get("phone")
    if phone is not None and not _PHONE.fullmatch(str(phone).strip()):
        raise InputError(f"phone {str(phone)[:40]!r} is not a phone number (digits, spaces, "
                         "+ - ( ), 5 to 20 digits)", details={"field": "phone"})
    return ScreenQuery(kind=kind, names=tuple(checked), birth_date=birth,  # type: ignore[arg-type]
                       nationality=str(nationality) if nationality else None,
                       documents=tuple(documents))


def result_dict(c: Candidate) -> dict[str, Any]:
    """One candidate in the response shape of the module docstring."""
    p = c.party
    props: dict[str, list[str]] = {"name": [p.name]}
    for key, values in (("alias", p.aliases), ("weakAlias", p.weak_aliases),
                        ("birthDate", p.birth_dates), ("nationality", p.nationalities),
                        ("program", p.programs),
                        ("idNumber", [d.number for d in p.documents])):
        if values:
            props[key] = list(values)
    return {"id": f"{p.list}:{p.key}", "caption": p.name, "schema": _SCHEMA[p.kind],
            "properties": props, "datasets": [p.list], "score": c.score, "match": c.match,
            "features": c.features, "explanation": c.explanation}


class ScreenService:
    """Screens against the lists imported into ``store``; thread-safe."""

    def __init__(self, store: Store, policy: Policy) -> None:
        self.store = store
        self.policy = policy
        self.thresholds = {name: (spec.review_threshold if spec.review_threshold is not None
                                  else DEFAULT_THRESHOLD)
                           for name, spec in policy.lists.items() if spec.external}
        self._index: ScreenIndex | None = None
        self._version: tuple[int, int] = (-1, -1)
        self._cleared_version: tuple[int, int] = (-1, -1)
        self._cleared: dict[str, dict[tuple[str, str], dict[str, str]]] = {}
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Look at the store again on the next screen (after a clearance or an import made by
        this process)."""
        self._checked = float("-inf")

    def threshold(self, list_name: str) -> float:
        return self.thresholds.get(list_name, DEFAULT_THRESHOLD)

    def index(self) -> ScreenIndex:
        """The current index, rebuilt when an import changed the lists."""
        now = time.monotonic()
        if self._index is not None and now - self._checked < REFRESH_S:
            return self._index
        with self._lock:
            if self._index is None or time.monotonic() - self._checked >= REFRESH_S:
                version = lists_version(self.store)
                if self._index is None or version != self._version:
                    parties, _ = load_parties(self.store)
                    self._index = ScreenIndex(parties)
                    self._version = version
                cleared = clearances_version(self.store)
                if cleared != self._cleared_version:
                    self._cleared = load_clearances(self.store)
                    self._cleared_version = cleared
                self._checked = time.monotonic()
        assert self._index is not None
        return self._index

    def candidates(self, query: ScreenQuery, *, limit: int = 10,
                   ) -> list[tuple[Candidate, dict[str, str] | None]]:
        """The ranked candidates of ``query`` (:meth:`ScreenIndex.screen` with the policy's
        thresholds), each with the operator's ruling on these details and that entry, if
        any (``{"content_hash", "by", "at", "reason"}``; it clears the candidate only while
        its ``content_hash`` is the entry's). The one scorer of ``/v1/screen`` and the gate's
        name check (:mod:`socialcredit.gate.names`)."""
        results = self.index().screen(query, limit=limit, thresholds=self.thresholds)
        rulings = self._cleared.get(query_hash(query)) if self._cleared else None
        return [(c, rulings.get((c.party.list, c.party.key)) if rulings else None)
                for c in results]

    def screen(self, query: ScreenQuery, *, limit: int = 10) -> dict[str, Any]:
        """The response of one query (see the module docstring)."""
        found = self.candidates(query, limit=limit)
        results = [c for c, _ in found]
        out = [result_dict(c) for c in results]
        for (c, ruling), r in zip(found, out, strict=True):
            if ruling and ruling["content_hash"] == c.party.content_hash:
                r["match"] = False
                r["cleared"] = {k: ruling[k] for k in ("by", "at", "reason")}
            elif ruling:  # made against the entry as it read before: review the change
                r["earlier_clearance"] = {**{k: ruling[k] for k in ("by", "at", "reason")},
                                          "entry_changed": True}
        return {"status": 200, "results": out,
                "total": {"value": len(results), "relation": "eq"},
                "query": {"kind": query.kind, "names": list(query.names),
                          "birth_date": query.birth_date, "nationality": query.nationality,
                          "documents": len(query.documents)},
                "threshold": DEFAULT_THRESHOLD, "thresholds": self.thresholds}
