"""The listed party every list reader returns, and what a reader reports about its file."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from socialcredit.screening.text import Kind

__all__ = ["KINDS", "ListProblem", "ListRead", "ListedDocument", "ListedParty"]

#: Kinds of listed party, in the order imports report them.
KINDS: tuple[Kind, ...] = ("person", "organisation", "vessel", "aircraft")


@dataclass(frozen=True)
class ListedDocument:
    """An identity document of a listed party: ``kind`` (passport, national_id, tax_id, other
    …), ``number`` as printed, ``country`` or None."""

    kind: str
    number: str
    country: str | None = None


@dataclass(frozen=True)
class ListedParty:
    """One entry of an external list.

    ``list``: ``ofac_sdn`` or ``un_sc``; ``key``: the list's own id (SDN ent_num, UN DATAID);
    ``kind``: person, organisation, vessel or aircraft; ``aliases``: strong aliases;
    ``weak_aliases``: low-quality aliases (SDN remarks ``a.k.a. '…'``, UN quality ``Low``);
    ``birth_dates``: as printed (``01 Jan 1970``, ``1970``, ``circa 1970``, ``1968 to 1970``,
    ISO ``1970-01-01``); ``nationalities``: country names as printed.
    """

    list: str
    key: str
    kind: Kind
    name: str
    aliases: tuple[str, ...] = ()
    weak_aliases: tuple[str, ...] = ()
    birth_dates: tuple[str, ...] = ()
    nationalities: tuple[str, ...] = ()
    documents: tuple[ListedDocument, ...] = ()
    programs: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Canonical JSON (sorted keys); :meth:`from_json` reads it back."""
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))

    @property
    def content_hash(self) -> str:
        """SHA-256 of :meth:`to_json`: a re-import updates an entry only when it changed."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_json(cls, text: str) -> ListedParty:
        data: dict[str, Any] = json.loads(text)
        docs = tuple(ListedDocument(**d) for d in data.pop("documents", ()))
        tuples = {k: tuple(v) for k, v in data.items() if isinstance(v, list)}
        return cls(**(data | tuples), documents=docs)


@dataclass(frozen=True)
class ListProblem:
    """A part of a list file that was skipped: ``file``, ``line`` (1-based, or None),
    ``reason``."""

    file: str
    line: int | None
    reason: str


@dataclass
class ListRead:
    """What a reader found: ``parties``; ``skipped`` problems; ``counts`` per kind."""

    parties: list[ListedParty]
    skipped: list[ListProblem] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(KINDS, 0)
        for p in self.parties:
            out[p.kind] += 1
        return out
