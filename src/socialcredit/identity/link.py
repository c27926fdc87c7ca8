"""Deterministic linkage: one subject per verified national ID; phones follow their holder.

Rules (DESIGN §7, issue "Registry end to end"):

1. A record with a valid national ID links to the subject with that ID, created on first sight
   (ledger event ``subject.created``).
2. Its phone, if no subject holds that number yet, becomes an identifier of the subject from the
   record's date (``identifier.added``, ``valid_from``). A number already held by another
   subject is not moved (recycled numbers are for probabilistic linkage); it is counted.
3. A record with a phone but no national ID links to the phone's current holder, if any.
4. Anything else stays unlinked (``subject_id`` NULL) and is counted.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import select

from socialcredit.store.ledger import Batch
from socialcredit.store.tables import identifiers, names, subjects

__all__ = ["DeterministicLinker", "LinkStats", "name_key"]

_CHUNK = 500


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
    phone_conflicts: int = 0
    unlinked: int = 0


class DeterministicLinker:
    """Links records to subjects inside one write :class:`Batch` (see the module docstring)."""

    def __init__(self, batch: Batch, *, region_from_id: bool = True) -> None:
        self.batch = batch
        self.region_from_id = region_from_id
        self.by_nid: dict[str, int] = {}
        self.by_phone: dict[str, int | None] = {}
        self.stats = LinkStats()

    def prefetch(self, nids: set[str], phones: set[str]) -> None:
        """Load the subjects and phone holders a chunk of records will need (few queries)."""
        conn = self.batch.conn
        todo = sorted(nids - self.by_nid.keys())
        for i in range(0, len(todo), _CHUNK):
            part = todo[i:i + _CHUNK]
            for row in conn.execute(
                select(subjects.c.national_id, subjects.c.id).where(
                    subjects.c.national_id.in_(part))
            ):
                self.by_nid[row.national_id] = row.id
        todo = sorted(phones - self.by_phone.keys())
        for i in range(0, len(todo), _CHUNK):
            part = todo[i:i + _CHUNK]
            found = dict(conn.execute(
                select(identifiers.c.value, identifiers.c.subject_id).where(
                    identifiers.c.kind == "phone", identifiers.c.value.in_(part),
                    identifiers.c.valid_to.is_(None))
            ).all())
            for phone in part:
                self.by_phone[phone] = found.get(phone)

    def link(self, *, national_id: str | None, phone: str | None, name: str | None,
             occurred_at: str, birth_date: str | None = None, sex: str | None = None,
             ) -> int | None:
        """Return the subject id of a record (creating the subject if needed), or None."""
        if national_id is None:
            sid = self.by_phone.get(phone) if phone else None
            if sid is None:
                self.stats.unlinked += 1
            return sid
        sid = self.by_nid.get(national_id)
        if sid is None:
            sid = self._create(national_id, name, occurred_at, birth_date, sex)
        if phone:
            holder = self.by_phone.get(phone)
            if holder is None:
                self._add_identifier(sid, "phone", phone, occurred_at)
                self.by_phone[phone] = sid
                self.stats.phones_added += 1
            elif holder != sid:
                self.stats.phone_conflicts += 1
        return sid

    def _create(self, nid: str, name: str | None, since: str, birth: str | None,
                sex: str | None) -> int:
        b = self.batch
        sid = b.next_id(subjects)
        region = nid[:6] if self.region_from_id and nid[:6].isdigit() else None
        seq = b.emit("subject.created", {"subject_id": sid, "national_id": nid, "name": name,
                                         "birth_date": birth, "sex": sex}, subject_id=sid)
        b.add(subjects, {"id": sid, "national_id": nid, "name": name, "birth_date": birth,
                         "sex": sex, "region_code": region, "source": "registry",
                         "created_seq": seq})
        self._add_identifier(sid, "national_id", nid, since, emit=False)
        if name:
            b.add(names, {"subject_id": sid, "name": name, "name_key": name_key(name)})
        self.by_nid[nid] = sid
        self.stats.subjects_created += 1
        return sid

    def _add_identifier(self, sid: int, kind: str, value: str, since: str,
                        *, emit: bool = True) -> None:
        b = self.batch
        if emit:
            b.emit("identifier.added", {"subject_id": sid, "kind": kind, "value": value,
                                        "valid_from": since}, subject_id=sid)
        b.add(identifiers, {"id": b.next_id(identifiers), "subject_id": sid, "kind": kind,
                            "value": value, "valid_from": since, "valid_to": None})
