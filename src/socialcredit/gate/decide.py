"""Decisions: "may this person buy this service?" answered from the :class:`GateIndex`.

A ``deny`` carries, per restriction, the list, entry, ground, legal basis of the sanction,
since/until, the furnisher and how to contest (DESIGN §3.3). An ``allow`` carries nothing about
the subject. ``review`` means a name matched an external list with no identifier match (the
same words in any order, or a screening score at or above the list's review threshold:
:mod:`socialcredit.gate.names`): a human must look, and the sale is never refused on a name
alone (DESIGN §3.2).

Every decision is counted by service and outcome; denies and reviews are stored with their
reasons (table ``decisions``); counters are written by :meth:`DecisionService.flush`.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from socialcredit.errors import InputError, PermissionDenied, SocialCreditError, UnknownService
from socialcredit.gate.benefits import benefits_for, rewarded_services
from socialcredit.gate.caller import GateCaller
from socialcredit.gate.codes import encode_cn_ids, encode_key
from socialcredit.gate.compact import CompactTable
from socialcredit.gate.dialect import increment_counts
from socialcredit.gate.index import GateIndex, Restriction
from socialcredit.gate.keys import gate_key
from socialcredit.gate.names import NameScreen
from socialcredit.gate.represented import Represented
from socialcredit.identity.link import name_key
from socialcredit.policy.jurisdiction import local_today
from socialcredit.screening.index import DEFAULT_THRESHOLD
from socialcredit.screening.service import ScreenService
from socialcredit.store.ledger import utc_now
from socialcredit.store.tables import decisions

__all__ = ["MAX_BATCH", "BatchOutcome", "Decision", "DecisionService"]

#: Most people in one batch (a long-haul aircraft or a full high-speed train several times over).
MAX_BATCH = 10_000

Outcome = Literal["allow", "deny", "review"]


@dataclass
class BatchOutcome:
    """Result of :meth:`DecisionService.decide_codes`: ``outcomes[i]`` is 0 allow, 1 deny,
    2 review. :meth:`decision` gives the full decision (with reasons) of one position; denies
    found in the base table keep only their subject row (``base_rows``) until then."""

    service: str
    outcomes: npt.NDArray[np.int8]
    decisions: dict[int, Decision]
    id_prefix: str
    first_serial: int
    owner: DecisionService
    platform: str | None
    day: str
    table: CompactTable
    base_rows: dict[int, int]
    #: the codes decided (read for the benefits of an allow)
    codes: npt.NDArray[np.uint64] | None = None

    def decision_id(self, i: int) -> str:
        return f"{self.id_prefix}-{self.first_serial + i:012x}"

    def decision(self, i: int) -> Decision:
        if i in self.decisions:
            return self.decisions[i]
        if i in self.base_rows:
            self.decisions[i] = self.owner._base_decision(self, i)
            return self.decisions[i]
        if self.codes is not None and self.outcomes[i] == 0:
            return self.owner._allow(self, i)
        return Decision("allow", self.decision_id(i), self.service)


@dataclass(frozen=True)
class Decision:
    decision: Outcome
    decision_id: str
    service: str
    reasons: list[dict[str, Any]] = field(default_factory=list)
    #: on an allow: what the subject's red-list entries earn here (gate/benefits.py)
    benefits: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "decision_id": self.decision_id,
                "service": self.service, "reasons": self.reasons, "benefits": self.benefits}


class DecisionService:
    """Decides with one :class:`GateIndex`; ``today`` fixes the clock (tests, replays)."""

    def __init__(self, index: GateIndex, *, today: dt.date | None = None,
                 screening: ScreenService | None = None) -> None:
        self.index = index
        self.policy = index.policy
        self.store = index.store
        self.today = today
        self.counts: Counter[tuple[str, str]] = Counter()
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._names = NameScreen(index.store, index.policy, screening)
        self._represented = Represented(index.store)
        self._rewarded = rewarded_services(self.policy)
        # decision ids: a random per-process prefix and a counter (unique, cheaper than uuid4)
        self._prefix = secrets.token_hex(8)
        self._next_serial = 1
        # batches whose base-table denies are stored at the next flush: (batch, gate, at)
        self._lazy: list[tuple[BatchOutcome, str, str]] = []

    def _key(self, national_id: str | None, phone: str | None, document: str | None,
             organisation_id: str | None = None) -> str:
        return gate_key(self.policy, national_id, phone, document, organisation_id)

    def _applies(self, r: Restriction, service: str, platform: str | None, day: str) -> bool:
        if r.until is not None and r.until <= day:
            return False  # past its period even if expiry has not been evaluated yet
        if r.since > day:
            return False  # not listed yet on that day (an operator's check --as-of)
        if not any(svc == service for svc, _ in r.services):
            return False
        # a platform-scoped list refuses on its own platform and, under a sharing agreement
        # of the policy, on the recipient platforms
        return not (r.scoped_to_platform
                    and r.platform not in self.policy.shared_with(r.list, platform))

    def _reason(self, r: Restriction, service: str, platform: str | None = None,
                ) -> dict[str, Any]:
        spec = self.policy.lists[r.list]
        shared = (next((a.name for a in self.policy.sharing if r.list in a.lists
                        and a.source == r.platform and platform in a.recipients), None)
                  if r.scoped_to_platform and r.platform != platform else None)
        return {
            "severity": max((s.severity for s in self.policy.sanctions_for(r.list)
                             if service in s.services), default=3),
            "shared_under": shared,
            "list": r.list, "entry_id": r.entry_id, "ground": r.ground,
            "ground_text": spec.grounds.get(r.ground) if r.ground else None,
            "legal_basis": next(lb for svc, lb in r.services if svc == service),
            "list_legal_basis": spec.legal_basis, "since": r.since, "until": r.until,
            "furnisher": r.furnisher or spec.source,
            "how_to_contest": spec.how_to_contest or self.policy.how_to_contest,
            # a representative's own restriction names the organisation and its case
            **({"on_behalf_of": self._represented.of(r.entry_id)}
               if spec.represents is not None else {}),
        }

    def decide(self, *, service: str, national_id: str | None = None, phone: str | None = None,
               document: str | None = None, name: str | None = None,
               gate: GateCaller | None = None, platform: str | None = None,
               organisation_id: str | None = None) -> Decision:
        """Decide for one person, or one organisation by its ``organisation_id``.

        ``gate`` is the calling gate (None for an operator, who may pass ``platform``).

        Raises:
            UnknownService: not a service of the policy.
            PermissionDenied: the gate is not registered for the service.
            InputError / IdentifierError: not exactly one identifier, or a malformed or
                checksum-invalid one.
        """
        platform = self._check_service(service, gate, platform)
        key = self._key(national_id, phone, document, organisation_id)
        day = self._day()
        everything = self.index.lookup(key)
        hits = [r for r in everything if self._applies(r, service, platform, day)]
        return self._finish(service, hits, name, platform, day, gate, everything=everything,
                            organisation=bool(organisation_id))

    def _check_service(self, service: str, gate: GateCaller | None,
                       platform: str | None) -> str | None:
        if service not in self.policy.services:
            raise UnknownService(f"unknown service {service!r}; the policy defines "
                                 f"{', '.join(self.policy.services)}")
        if gate is not None:
            if service not in gate.services:
                raise PermissionDenied(f"gate {gate.name!r} is not registered for {service!r}")
            return gate.platform
        if platform is None and any(s.scope == "platform" and service in s.services
                                    for s in self.policy.sanctions):
            # a platform-scoped refusal exists only on a platform: without one the answer
            # would be a silent allow
            raise InputError(f"{service!r} is refused per platform: give the platform "
                             "(--platform, or `platform` in the request)")
        return platform

    def _day(self) -> str:
        return (self.today or local_today(self.policy.jurisdiction)).isoformat()

    def _name_hits(self, name: str, service: str, platform: str | None, day: str,
                   ) -> list[Restriction]:
        """A person's name: the same words (``names``), else the screening scorer, less the
        subjects an operator cleared for this name (gate/names.py)."""
        index = self.index
        screened = self._names.person(name, index.subject_names, index.names_version)
        hits = [r for r in index.lookup_name(name_key(name))
                if r.subject_id not in screened.cleared
                and self._applies(r, service, platform, day)]
        if hits:
            return hits
        out: list[Restriction] = []
        for sid, score in screened.persons:
            for r in index.subject_restrictions(sid):
                spec = self.policy.lists.get(r.list)
                limit = spec.review_threshold if spec and spec.review_threshold is not None \
                    else DEFAULT_THRESHOLD
                if score >= limit and self._applies(r, service, platform, day):
                    out.append(r)
        return out

    def _finish(self, service: str, hits: list[Restriction], name: str | None,
                platform: str | None, day: str, gate: GateCaller | None, *,
                count: bool = True, decision_id: str | None = None,
                everything: Sequence[Restriction] = (), organisation: bool = False,
                ) -> Decision:
        outcome: Outcome = "deny" if hits else "allow"
        screened: list[dict[str, Any]] = []
        if not hits and name:
            if organisation:  # an organisation only ever matches organisations
                screened = self._names.organisation_reasons(name, service)
            else:
                hits = self._name_hits(name, service, platform, day)
            outcome = "review" if hits or screened else "allow"
        if decision_id is None:
            with self._lock:
                serial = self._next_serial
                self._next_serial += 1
            decision_id = f"{self._prefix}-{serial:012x}"
        decision = Decision(outcome, decision_id, service,
                            [self._reason(r, service, platform) for r in hits] + screened,
                            benefits_for(self.policy, everything, service, day)
                            if outcome == "allow" and service in self._rewarded else [])
        with self._lock:
            if count:
                self.counts[(service, outcome)] += 1
            if hits or screened:
                self._pending.append({
                    "id": decision.decision_id, "at": utc_now(), "service": service,
                    "outcome": outcome, "subject_id": hits[0].subject_id if hits else None,
                    "gate": gate.name if gate else "operator",
                    "reasons": json.dumps(decision.reasons, ensure_ascii=False)})
        return decision

    def decide_codes(self, *, service: str, codes: npt.NDArray[np.uint64],
                     names: Sequence[str | None] | None = None, gate: GateCaller | None = None,
                     platform: str | None = None,
                     organisations: Sequence[bool] | None = None) -> BatchOutcome:
        """Decide for many encoded identifiers at once (:mod:`socialcredit.gate.codes`).

        Vectorised end to end for the base index: one hash-index pass and one pass over the
        entries of the people found decide every allow and deny; only subjects reloaded since
        the last build (the overlay) and people with a ``name`` (for review) are examined one
        by one. Reasons are built when a decision is read (:meth:`BatchOutcome.decision`) or
        stored (:meth:`flush`), not in the hot path.

        Raises:
            UnknownService, PermissionDenied: see :meth:`decide`.
        """
        platform = self._check_service(service, gate, platform)
        day = self._day()
        n = len(codes)
        with self._lock:
            first = self._next_serial
            self._next_serial += n
        table, denied, rows, overlay = self.index.split(codes, service, platform, day)
        outcome = BatchOutcome(service, np.zeros(n, dtype=np.int8), {}, self._prefix, first,
                               self, platform, day, table, dict(zip(
                                   denied.tolist(), rows.tolist(), strict=True)),
                               codes if service in self._rewarded else None)
        outcome.outcomes[denied] = 1
        todo = set(overlay.tolist())
        if names is not None:
            todo.update(i for i, nm in enumerate(names) if nm and outcome.outcomes[i] == 0)
        for i in sorted(todo):
            everything = self.index.lookup_code(int(codes[i]))
            hits = [r for r in everything if self._applies(r, service, platform, day)]
            name = names[i] if names is not None else None
            decision = self._finish(service, hits, name, platform, day, gate, count=False,
                                    decision_id=outcome.decision_id(i), everything=everything,
                                    organisation=bool(organisations and organisations[i]))
            outcome.base_rows.pop(i, None)
            outcome.decisions[i] = decision
            outcome.outcomes[i] = {"allow": 0, "deny": 1, "review": 2}[decision.decision]
        denies = int(np.count_nonzero(outcome.outcomes == 1))
        reviews = int(np.count_nonzero(outcome.outcomes == 2))
        with self._lock:
            for name_, k in (("allow", n - denies - reviews), ("deny", denies),
                             ("review", reviews)):
                if k:
                    self.counts[(service, name_)] += k
            if outcome.base_rows:
                self._lazy.append((outcome, gate.name if gate else "operator", utc_now()))
        return outcome

    def _base_decision(self, outcome: BatchOutcome, i: int) -> Decision:
        """The deny of position ``i`` of a batch decided by the base table, with reasons."""
        hits = [r for r in self.index.table_restrictions(outcome.table, outcome.base_rows[i])
                if self._applies(r, outcome.service, outcome.platform, outcome.day)]
        return Decision("deny", outcome.decision_id(i), outcome.service,
                        [self._reason(r, outcome.service, outcome.platform) for r in hits])

    def _allow(self, outcome: BatchOutcome, i: int) -> Decision:
        """The allow of position ``i`` of a batch, with the benefits its subject earns."""
        found = self.index.lookup_code(int(outcome.codes[i]))  # type: ignore[index]
        return Decision("allow", outcome.decision_id(i), outcome.service, [],
                        benefits_for(self.policy, found, outcome.service, outcome.day))

    def decide_batch(self, *, service: str, people: Sequence[Mapping[str, Any]],
                     gate: GateCaller | None = None, platform: str | None = None,
                     ) -> list[Decision | SocialCreditError]:
        """Decide for a manifest, answered in input order.

        Each person is a mapping with exactly one of ``national_id`` / ``phone`` /
        ``document`` / ``organisation_id`` and optionally ``name``; one with a bad identifier
        gets the error in its place, the others are decided by :meth:`decide_codes`.

        Raises:
            UnknownService, PermissionDenied: for the whole batch (see :meth:`decide`).
            InputError: more than :data:`MAX_BATCH` people.
        """
        if len(people) > MAX_BATCH:
            raise InputError(f"a batch holds at most {MAX_BATCH:,} people; got {len(people):,}")
        self._check_service(service, gate, platform)
        errors: dict[int, SocialCreditError] = {}
        codes = np.zeros(len(people), dtype=np.uint64)
        if self.policy.identity.national_id.scheme == "cn.ric":
            vec = [i for i, p in enumerate(people) if set(p) <= {"national_id", "name"}
                   and isinstance(p.get("national_id"), str) and len(p["national_id"]) == 18
                   and p["national_id"].isascii()]
            if vec:
                vcodes, ok = encode_cn_ids([people[i]["national_id"] for i in vec])
                codes[vec] = np.where(ok, vcodes, 0)
        for i, p in enumerate(people):
            if codes[i]:
                continue
            try:
                key = self._key(p.get("national_id"), p.get("phone"), p.get("document"),
                                p.get("organisation_id"))
                code = encode_key(key)
                if self.index.hashed.get(code, key) != key:
                    code = 0  # a hash collision with a listed document: not this person
                codes[i] = np.uint64(code or 1)
            except SocialCreditError as e:
                errors[i] = e
        valid = [i for i in range(len(people)) if i not in errors]
        outcome = self.decide_codes(service=service, codes=codes[valid],
                                    names=[people[i].get("name") for i in valid], gate=gate,
                                    organisations=[bool(people[i].get("organisation_id"))
                                                   for i in valid],
                                    platform=platform)
        out: list[Decision | SocialCreditError] = []
        position = {i: j for j, i in enumerate(valid)}
        for i in range(len(people)):
            if i in errors:
                out.append(errors[i])
                continue
            out.append(outcome.decision(position[i]))
        return out

    def flush(self) -> None:
        """Write counters and stored decisions (one transaction)."""
        with self._lock:
            counts, pending, lazy = self.counts, self._pending, self._lazy
            self.counts, self._pending, self._lazy = Counter(), [], []
        for batch, gate_name, at in lazy:  # reasons of vectorised denies, built now
            for i in sorted(batch.base_rows):
                d = batch.decision(i)
                sid = int(batch.table.subject_ids[batch.base_rows[i]])
                pending.append({"id": d.decision_id, "at": at, "service": d.service,
                                "outcome": "deny", "subject_id": sid, "gate": gate_name,
                                "reasons": json.dumps(d.reasons, ensure_ascii=False)})
        if not counts and not pending:
            return
        try:
            with self.store.engine.begin() as conn:
                if pending:
                    conn.execute(decisions.insert(), pending)
                increment_counts(conn, counts)
        except Exception:  # database unreachable: keep them for the next flush
            with self._lock:
                self.counts.update(counts)
                self._pending[:0] = pending
            raise
