"""Reader for the UN Security Council Consolidated List (XML).

Source: United Nations Security Council, "Consolidated United Nations Security Council Sanctions
List", XML as published (schema ``sc-sanctions.xsd``): ``CONSOLIDATED_LIST`` holding
``INDIVIDUALS/INDIVIDUAL`` and ``ENTITIES/ENTITY``. Read here: ``DATAID`` (the key),
``FIRST_NAME`` … ``FOURTH_NAME`` (joined in that order; for an entity ``FIRST_NAME`` is the
whole name), ``NAME_ORIGINAL_SCRIPT``, ``*_ALIAS/ALIAS_NAME`` with ``QUALITY`` (``Low`` = weak
alias, ``Good`` or empty = strong), ``INDIVIDUAL_DATE_OF_BIRTH`` (``DATE``, ``YEAR`` or
``FROM_YEAR``/``TO_YEAR``), ``NATIONALITY/VALUE``, ``INDIVIDUAL_DOCUMENT`` (``TYPE_OF_DOCUMENT``,
``NUMBER``, ``ISSUING_COUNTRY``) and ``UN_LIST_TYPE`` (the sanctions regime, as program).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from socialcredit.screening.model import ListedDocument, ListedParty, ListProblem, ListRead

__all__ = ["UnFormatError", "read_un"]


class UnFormatError(ValueError):
    """The file is missing, not XML (a truncated file is not: it ends inside an element), or
    not a UN consolidated list (``file``, ``line`` when the parser gives one, ``reason``)."""

    def __init__(self, message: str, *, file: str | Path, line: int | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.reason = reason or message


_NAME_PARTS = ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
_DOC_KINDS = {"passport": "passport", "national identification": "national_id",
              "identification": "national_id", "id card": "national_id"}


def _text(node: ET.Element | None, tag: str) -> str:
    found = node.find(tag) if node is not None else None
    return (found.text or "").strip() if found is not None and found.text else ""


def _doc_kind(text: str) -> str:
    low = text.lower()
    return next((kind for label, kind in _DOC_KINDS.items() if label in low), "other")


def _births(node: ET.Element) -> tuple[str, ...]:
    out: list[str] = []
    for dob in node.findall("INDIVIDUAL_DATE_OF_BIRTH"):
        date, year = _text(dob, "DATE"), _text(dob, "YEAR")
        lo, hi = _text(dob, "FROM_YEAR"), _text(dob, "TO_YEAR")
        if date:
            out.append(date[:10])
        elif year:
            out.append(year)
        elif lo and hi:
            out.append(f"{lo} to {hi}")
    return tuple(dict.fromkeys(out))


def _party(node: ET.Element, kind: str, file: str,
           skipped: list[ListProblem]) -> ListedParty | None:
    key = _text(node, "DATAID")
    name = " ".join(p for p in (_text(node, t) for t in _NAME_PARTS) if p)
    if not key or not name:
        skipped.append(ListProblem(file, None, f"{node.tag} without DATAID or name "
                                   f"(DATAID {key or '?'})"))
        return None
    strong: list[str] = []
    weak: list[str] = []
    if original := _text(node, "NAME_ORIGINAL_SCRIPT"):
        strong.append(original)
    for alias in node.findall(f"{node.tag}_ALIAS"):
        alias_name = _text(alias, "ALIAS_NAME")
        if alias_name:
            (weak if _text(alias, "QUALITY").lower() == "low" else strong).append(alias_name)
    docs = tuple(
        ListedDocument(_doc_kind(_text(d, "TYPE_OF_DOCUMENT")), _text(d, "NUMBER"),
                       _text(d, "ISSUING_COUNTRY") or None)
        for d in node.findall("INDIVIDUAL_DOCUMENT") if _text(d, "NUMBER"))
    nationalities = tuple(v.text.strip() for v in node.findall("NATIONALITY/VALUE")
                          if v.text and v.text.strip())
    program = _text(node, "UN_LIST_TYPE")
    return ListedParty(
        list="un_sc", key=key, kind="person" if kind == "INDIVIDUAL" else "organisation",
        name=name, aliases=tuple(dict.fromkeys(a for a in strong if a != name)),
        weak_aliases=tuple(dict.fromkeys(weak)), birth_dates=_births(node),
        nationalities=nationalities, documents=docs, programs=(program,) if program else ())


def read_un(path: Path) -> ListRead:
    """Read a UN consolidated list XML file into listed parties (list ``un_sc``, key DATAID).

    An individual or entity without DATAID or name is skipped with a reason.

    Raises:
        UnFormatError: the file is missing or unreadable, not XML, or its root is not
            ``CONSOLIDATED_LIST``.
    """
    path = Path(path)
    if not path.is_file():
        raise UnFormatError(f"UN consolidated list file missing: {path}", file=path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:  # a file cut short ends here too: "no element found"
        line = e.position[0] if e.position else None
        raise UnFormatError(f"{path}:{line}: not XML ({e}); is it cut short? nothing imported",
                            file=path, line=line, reason=str(e)) from e
    except OSError as e:
        raise UnFormatError(f"cannot read {path}: {e}", file=path) from e
    if root.tag != "CONSOLIDATED_LIST":
        raise UnFormatError(f"{path}: root element is <{root.tag}>, not <CONSOLIDATED_LIST> "
                            "(is this the UN consolidated list XML?)", file=path)
    skipped: list[ListProblem] = []
    parties: list[ListedParty] = []
    seen: set[str] = set()
    for group, tag in (("INDIVIDUALS", "INDIVIDUAL"), ("ENTITIES", "ENTITY")):
        for node in root.findall(f"{group}/{tag}"):
            party = _party(node, tag, path.name, skipped)
            if party is None:
                continue
            if party.key in seen:
                skipped.append(ListProblem(path.name, None, f"duplicate DATAID {party.key}"))
                continue
            seen.add(party.key)
            parties.append(party)
    return ListRead(parties=parties, skipped=skipped)
