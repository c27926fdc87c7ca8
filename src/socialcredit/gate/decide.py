"""Decisions: "may this person buy this service?" answered from the :class:`GateIndex`.

A ``deny`` carries, per restriction, the list, entry, ground, legal basis of the sanction,
since/until, the furnisher and how to contest (DESIGN §3.3). An ``allow`` carries nothing about
the subject. ``review`` means a name matched an external list with no identifier match: a
human must look, and the sale is never refused on a name alone (DESIGN §3.2).

Every decision is counted by service and outcome; denies and reviews are stored with their
reasons (table ``decisions``); counters are written by :meth:`DecisionService.flush`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from socialcredit.access import Principal
from socialcredit.errors import InputError, PermissionDenied, SocialCreditError, UnknownService
from socialcredit.gate.codes import encode_cn_ids, encode_key
from socialcredit.gate.dialect import increment_counts
from socialcredit.gate.index import GateIndex, Restriction
from socialcredit.identity import normalise_phone, scheme_for
from socialcredit.identity.link import name_key
from socialcredit.ingest.ofac_sdn import normalise_document_number
from socialcredit.store.ledger import utc_now
from socialcredit.store.tables import decisions

__all__ = ["MAX_BATCH", "Decision", "DecisionService"]

#: Most people in one batch (a long-haul aircraft or a full high-speed train several times over).
MAX_BATCH = 10_000

Outcome = Literal["allow", "deny", "review"]


@dataclass(frozen=True)
class Decision:
    decision: Outcome
    decision_id: str
    service: str
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "decision_id": self.decision_id,
                "service": self.service, "reasons": self.reasons}


class DecisionService:
    """Decides with one :class:`GateIndex`; ``today`` fixes the clock (tests, replays)."""

    def __init__(self, index: GateIndex, *, today: dt.date | None = None) -> None:
        self.index = index
        self.policy = index.policy
        self.store = index.store
        self.today = today
        self.counts: Counter[tuple[str, str]] = Counter()
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # decision ids: a random per-process prefix and a counter (unique, cheaper than uuid4)
        self._prefix = secrets.token_hex(8)
        self._serial = itertools.count(1)

    def _key(self, national_id: str | None, phone: str | None, document: str | None) -> str:
        given = [k for k, v in (("national_id", national_id), ("phone", phone),
                                ("document", document)) if v]
        if len(given) != 1:
            raise InputError(
                "give exactly one identifier: national_id, phone or document (passport number)"
                + (f" (got {', '.join(given)})" if given else ""),
                details={"fields": given})
        if national_id:
            ident = self.policy.identity.national_id
            return "national_id:" + scheme_for(ident.scheme, ident.pattern).parse(
                national_id).value
        if phone:
            return "phone:" + normalise_phone(phone, self.policy.identity.phone.default_region)
        number = normalise_document_number(document or "")
        if not number:
            raise InputError("document number is empty")
        return "document:" + number

    def _applies(self, r: Restriction, service: str, platform: str | None, day: str) -> bool:
        if r.until is not None and r.until <= day:
            return False  # past its period even if expiry has not been evaluated yet
        if not any(svc == service for svc, _ in r.services):
            return False
        return not (r.scoped_to_platform and r.platform != platform)

    def _reason(self, r: Restriction, service: str) -> dict[str, Any]:
        spec = self.policy.lists[r.list]
        return {
            "list": r.list, "entry_id": r.entry_id, "ground": r.ground,
            "ground_text": spec.grounds.get(r.ground) if r.ground else None,
            "legal_basis": next(lb for svc, lb in r.services if svc == service),
            "list_legal_basis": spec.legal_basis, "since": r.since, "until": r.until,
            "furnisher": r.furnisher or spec.source,
            "how_to_contest": spec.how_to_contest or self.policy.how_to_contest,
        }

    def decide(self, *, service: str, national_id: str | None = None, phone: str | None = None,
               document: str | None = None, name: str | None = None,
               gate: Principal | None = None, platform: str | None = None) -> Decision:
        """Decide for one person.

        ``gate`` is the calling gate (None for an operator, who may pass ``platform``).

        Raises:
            UnknownService: not a service of the policy.
            PermissionDenied: the gate is not registered for the service.
            InputError / IdentifierError: not exactly one identifier, or a malformed or
                checksum-invalid one.
        """
        platform = self._check_service(service, gate, platform)
        key = self._key(national_id, phone, document)
        day = self._day()
        hits = [r for r in self.index.lookup(key) if self._applies(r, service, platform, day)]
        return self._finish(service, hits, name, platform, day, gate)

    def _check_service(self, service: str, gate: Principal | None,
                       platform: str | None) -> str | None:
        if service not in self.policy.services:
            raise UnknownService(f"unknown service {service!r}; the policy defines "
                                 f"{', '.join(self.policy.services)}")
        if gate is not None:
            if service not in gate.services:
                raise PermissionDenied(f"gate {gate.name!r} is not registered for {service!r}")
            return gate.platform
        return platform

    def _day(self) -> str:
        return (self.today or dt.datetime.now(dt.UTC).date()).isoformat()

    def _finish(self, service: str, hits: list[Restriction], name: str | None,
                platform: str | None, day: str, gate: Principal | None) -> Decision:
        outcome: Outcome = "deny" if hits else "allow"
        if not hits and name:
            hits = [r for r in self.index.lookup_name(name_key(name))
                    if self._applies(r, service, platform, day)]
            outcome = "review" if hits else "allow"
        decision = Decision(outcome, f"{self._prefix}-{next(self._serial):012x}", service,
                            [self._reason(r, service) for r in hits])
        with self._lock:
            self.counts[(service, outcome)] += 1
            if hits:
                self._pending.append({
                    "id": decision.decision_id, "at": utc_now(), "service": service,
                    "outcome": outcome, "subject_id": hits[0].subject_id,
                    "gate": gate.name if gate else "operator",
                    "reasons": json.dumps(decision.reasons, ensure_ascii=False)})
        return decision

    def decide_batch(self, *, service: str, people: Sequence[Mapping[str, Any]],
                     gate: Principal | None = None, platform: str | None = None,
                     ) -> list[Decision | SocialCreditError]:
        """Decide for a manifest, answered in input order.

        Each person is a mapping with exactly one of ``national_id`` / ``phone`` /
        ``document`` and optionally ``name``. A person with a bad identifier gets the error in
        their place; the others are decided. Valid CN resident IDs are encoded and looked up
        in one vectorised pass; only possible refusals are examined one by one.

        Raises:
            UnknownService, PermissionDenied: for the whole batch (see :meth:`decide`).
            InputError: more than :data:`MAX_BATCH` people.
        """
        if len(people) > MAX_BATCH:
            raise InputError(f"a batch holds at most {MAX_BATCH:,} people; got {len(people):,}")
        platform = self._check_service(service, gate, platform)
        day = self._day()
        out: list[Decision | SocialCreditError | None] = [None] * len(people)
        keys: list[str | None] = [None] * len(people)
        fast = self.policy.identity.national_id.scheme == "cn.ric"
        ids = [p.get("national_id") if fast and set(p) <= {"national_id", "name"} else None
               for p in people]
        vec = [i for i, v in enumerate(ids) if isinstance(v, str) and len(v) == 18]
        codes = np.zeros(len(people), dtype=np.uint64)
        if vec:
            vcodes, ok = encode_cn_ids([ids[i] for i in vec])  # type: ignore[misc]
            for j, i in enumerate(vec):
                if ok[j]:
                    codes[i] = vcodes[j]
        for i, p in enumerate(people):
            if codes[i]:
                continue
            try:
                keys[i] = self._key(p.get("national_id"), p.get("phone"), p.get("document"))
                codes[i] = np.uint64(encode_key(keys[i]))  # type: ignore[arg-type]
            except SocialCreditError as e:
                out[i] = e
        maybe = set(self.index.candidates(codes, service, day).tolist())
        for i, p in enumerate(people):
            if out[i] is not None:
                continue
            hits: list[Restriction] = []
            if i in maybe:
                key = keys[i] or f"national_id:{str(p['national_id']).upper()}"
                hits = [r for r in self.index.lookup(key)
                        if self._applies(r, service, platform, day)]
            out[i] = self._finish(service, hits, p.get("name"), platform, day, gate)
        return [d for d in out if d is not None]

    def flush(self) -> None:
        """Write counters and stored decisions (one transaction)."""
        with self._lock:
            counts, pending = self.counts, self._pending
            self.counts, self._pending = Counter(), []
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
