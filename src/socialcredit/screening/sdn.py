"""Reader for the US Treasury OFAC Specially Designated Nationals (SDN) list, legacy CSV format.

Source: US Treasury, Office of Foreign Assets Control (OFAC), "SDN legacy CSV" files, no header
rows, ``-0-`` meaning empty, CRLF line endings and an optional trailing DOS EOF byte (``\\x1a``):

* ``sdn.csv``: ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT,
  Vess_flag, Vess_owner, Remarks
* ``alt.csv``: ent_num, alt_num, alt_type (aka/fka/nka), alt_name, alt_remarks
* ``sdn_comments.csv``: ent_num, text that continues that entry's Remarks verbatim (no separator)
* ``add.csv`` (addresses) is not read: :class:`SdnIndividual` carries no address.

:func:`read_sdn` returns the entries whose SDN_Type is ``individual`` (the gate's); other
entries are counted. :func:`read_sdn_parties` returns every entry as a
:class:`~socialcredit.screening.model.ListedParty`: individuals (persons), entities (SDN_Type
empty, ``-0-``), vessels and aircraft, with strong aliases (alt.csv), weak aliases (Remarks
``a.k.a. '…'``; OFAC: "weak aliases … generally not sufficient to identify"), birth dates,
nationalities and documents.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from socialcredit.screening.model import ListedDocument, ListedParty, ListProblem, ListRead
from socialcredit.screening.text import Kind, normalise_document_number

__all__ = [
    "SdnDocument", "SdnFormatError", "SdnIndividual", "SdnProblem", "SdnReadResult",
    "normalise_document_number", "parse_remarks", "read_sdn", "read_sdn_parties",
    "weak_aliases",
]

EMPTY = "-0-"
#: alt.csv and sdn_comments.csv of one publication refer only to entries of its sdn.csv (the
#: real list of 2026-12 has none that do not). When more than this share of either file's
#: rows (and more than :data:`ORPHAN_MIN_ROWS` rows) names an ent_num sdn.csv lacks, sdn.csv
#: is cut short or from another copy of the list, and the folder is refused: importing it
#: would delist (or never list) every entry past the cut.
ORPHAN_SHARE_LIMIT = 0.10
#: Below this many orphan rows a folder is read as it is (a hand-made excerpt, a test).
ORPHAN_MIN_ROWS = 20
REQUIRED_FILES = ("sdn.csv", "alt.csv", "sdn_comments.csv")
_WIDTHS = {"sdn.csv": 12, "alt.csv": 5, "sdn_comments.csv": 2}

# Labels used in Remarks before an identity document number, by kind (longest label wins).
_DOCUMENT_LABELS: dict[str, tuple[str, ...]] = {
    "passport": ("Passport", "Diplomatic Passport", "Passport Booklet", "Stateless Person Passport",
                 "British National Overseas Passport"),
    "national_id": ("National ID No.", "National ID Number", "National Foreign ID Number",
                    "Tazkira National ID Card", "Cedula No.", "Identification Number",
                    "Turkish Identification Number", "UAE Identification", "D.N.I.", "N.I.E.",
                    "Personal ID Card", "Moroccan Personal ID No.", "Bosnian Personal ID No.",
                    "Kenyan ID No.", "Citizen's Card Number", "C.U.R.P.", "C.U.I.", "LE Number",
                    "Numero de Identidad", "CNP (Personal Numerical Code)", "SSN",
                    "Stateless Person ID Card", "Refugee ID Card"),
    "tax_id": ("Tax ID No.", "NIT #", "R.F.C.", "RFC", "C.U.I.T.", "C.U.I.L.", "RUC #", "RTN",
               "Italian Fiscal Code"),
    "drivers_license": ("Driver's License No.",),
    "residence_permit": ("Residency Number", "Romanian Permanent Resident CAN"),
    "other": ("Travel Document Number", "Seafarer's Identification Document",
              "Electoral Registry No.", "Credencial electoral", "I.F.E.", "C.U.I.P.",
              "Cartilla de Servicio Militar Nacional", "Birth Certificate Number", "VisaNumberID",
              "Registration ID", "Pilot License Number", "Tarjeta Profesional"),
}
_KIND_BY_LABEL = {lab.lower(): kind for kind, labs in _DOCUMENT_LABELS.items() for lab in labs}
_DOCUMENT_RE = re.compile(
    r"(?:alt\.\s+)?(?P<label>"
    + "|".join(re.escape(lab) for lab in sorted(_KIND_BY_LABEL, key=len, reverse=True))
    + r")(?:\s*(?:No\.?|Number|#)(?=[\s:]))?\s*:?\s+"
    r"(?P<number>.+?)(?=\s+\([^()]*\)(?!\w)|,\s|\s+(?:issued|expires?|expired|and)\b|$)(?P<tail>.*)",
    re.IGNORECASE,
)
_SUBLABEL_RE = re.compile(r"^[A-Z]{2,5}:\s+")  # "CNIC: 35202-...", "RNE: W031645-8"
_PAREN_RE = re.compile(r"\s*\(([^()]*)\)")
_COMMA_COUNTRY_RE = re.compile(r",\s*([A-Z][A-Za-z .'-]*?)\s*(?:,|\)|$)")
_ALT_RE = re.compile(r"^alt\.\s+", re.IGNORECASE)


class SdnFormatError(ValueError):
    """A required SDN file or directory is missing or unreadable, a file ends inside a record
    (cut short), or alt.csv / sdn_comments.csv point to many entries sdn.csv lacks (``file``,
    optional ``line`` and ``reason``)."""

    def __init__(self, message: str, *, file: str | Path, line: int | None = None,
                 reason: str | None = None) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.reason = reason or message


@dataclass(frozen=True)
class SdnDocument:
    """An identity document from Remarks: ``kind`` (passport, national_id, tax_id,
    drivers_license, residence_permit, other), ``number`` as printed, ``country`` or None."""

    kind: str
    number: str
    country: str | None


@dataclass(frozen=True)
class SdnIndividual:
    """One SDN entry of type ``individual``, with aliases from alt.csv and parsed Remarks."""

    ent_num: int
    name: str
    aliases: tuple[str, ...]
    programs: tuple[str, ...]
    birth_dates: tuple[str, ...]
    nationalities: tuple[str, ...]
    documents: tuple[SdnDocument, ...]
    remarks: str


@dataclass(frozen=True)
class SdnProblem:
    """A malformed line that was skipped: file name, 1-based line number, reason."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True)
class SdnReadResult:
    """``individuals``; ``skipped`` malformed lines; ``counts`` with keys entries, individuals,
    skipped_by_type, aliases, continuations, problems."""

    individuals: list[SdnIndividual]
    skipped: list[SdnProblem]
    counts: Mapping[str, int] = field(default_factory=dict)


def _value(raw: str) -> str:
    text = raw.strip()
    return "" if text == EMPTY else text


def _decode(data: bytes) -> str:
    """UTF-8 when valid (plain ASCII is), else Windows-1252, else Latin-1 (never fails)."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _rows(path: Path, problems: list[SdnProblem]) -> Iterator[tuple[int, int, list[str]]]:
    """Yield (line number, ent_num, fields) per well-formed line; record problems otherwise."""
    if not path.is_file():
        raise SdnFormatError(f"OFAC SDN file missing: {path}", file=path)
    try:
        text = _decode(path.read_bytes())
    except OSError as exc:
        raise SdnFormatError(f"cannot read OFAC SDN file {path}: {exc}", file=path) from exc
    width = _WIDTHS[path.name]
    last: tuple[int, str | None] = (0, None)  # last non-empty line, and its problem if any
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip("\x1a")
        if not line.strip():
            continue
        last = (number, None)

        def problem(reason: str, number: int = number) -> None:
            nonlocal last
            last = (number, reason)
            problems.append(SdnProblem(path.name, number, reason))

        try:
            fields = next(csv.reader([line], strict=True))
        except csv.Error as exc:
            problem(f"bad CSV quoting: {exc}")
            continue
        if len(fields) != width:
            problem(f"expected {width} fields, found {len(fields)}")
        elif not fields[0].strip().isdigit():
            problem(f"ent_num is not an integer: {fields[0]!r}")
        else:
            yield number, int(fields[0]), fields
    if last[1] is not None:  # the file was cut inside its last record (a partial download)
        raise SdnFormatError(f"{path.name}:{last[0]}: the file ends inside a record "
                             f"({last[1]}); is it cut short? nothing imported",
                             file=path, line=last[0], reason=last[1])


def _country(tail: str) -> str | None:
    groups = []
    while match := _PAREN_RE.match(tail):
        groups.append(match.group(1))
        tail = tail[match.end():]
    if not groups and (match := _COMMA_COUNTRY_RE.match(tail)):
        groups.append(match.group(1))
    if not groups:
        return None
    country = groups[-1].split(". ")[0].strip(" .")  # "Cabo Verde.  Previously Cape Verde."
    return country or None


def parse_remarks(remarks: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[SdnDocument, ...]]:
    """Split ``;``-separated Remarks into (birth dates, nationalities, documents)."""
    births: list[str] = []
    nationalities: list[str] = []
    documents: dict[tuple[str, str, str | None], SdnDocument] = {}
    for raw in remarks.split(";"):
        item = raw.strip()
        bare = _ALT_RE.sub("", item)
        if bare.startswith("DOB "):
            births.append(bare[4:].strip(" ."))
        elif bare.startswith("nationality "):
            nationalities.append(bare[12:].strip(" ."))
        elif match := _DOCUMENT_RE.match(item):
            number = _SUBLABEL_RE.sub("", match.group("number").strip().lstrip("#"))
            number = number.rstrip(" .,;:")
            if not re.search(r"\d", number):
                continue
            kind = _KIND_BY_LABEL[match.group("label").lower()]
            country = _country(match.group("tail"))
            documents.setdefault((kind, normalise_document_number(number), country),
                                 SdnDocument(kind, number, country))
    with_country = {key[:2] for key in documents if key[2] is not None}
    kept = (doc for key, doc in documents.items() if key[2] or key[:2] not in with_country)
    return tuple(dict.fromkeys(births)), tuple(dict.fromkeys(nationalities)), tuple(kept)


@dataclass
class _Raw:
    entries: dict[int, list[str]]
    aliases: dict[int, list[str]]
    remarks: dict[int, str]
    problems: list[SdnProblem]
    counts: dict[str, int]

    def programs(self, ent: int) -> tuple[str, ...]:
        programs = (p.strip(" []") for p in self.entries[ent][3].split("] ["))
        return tuple(p for p in programs if p and p != EMPTY)


def read_sdn(directory: Path) -> SdnReadResult:
    """Read the individuals of an OFAC SDN legacy-CSV directory (sdn.csv, alt.csv,
    sdn_comments.csv).

    Malformed lines become :class:`SdnProblem` entries and never stop the read.
    Raises :class:`SdnFormatError` when the directory or a required file is missing/unreadable.
    """
    raw = _read(directory)
    individuals: list[SdnIndividual] = []
    for ent, fields in raw.entries.items():
        if _value(fields[2]).lower() != "individual":
            continue
        births, nationalities, documents = parse_remarks(raw.remarks[ent])
        individuals.append(SdnIndividual(
            ent_num=ent, name=_value(fields[1]),
            aliases=tuple(dict.fromkeys(raw.aliases.get(ent, []))),
            programs=raw.programs(ent), birth_dates=births,
            nationalities=nationalities, documents=documents, remarks=raw.remarks[ent],
        ))
    counts = raw.counts | {"individuals": len(individuals), "problems": len(raw.problems),
                           "skipped_by_type": len(raw.entries) - len(individuals)}
    return SdnReadResult(individuals=individuals, skipped=raw.problems, counts=counts)


_KIND_BY_TYPE: dict[str, Kind] = {"individual": "person", "": "organisation",
                                  "vessel": "vessel", "aircraft": "aircraft"}
_WEAK_RE = re.compile(r"a\.k\.a\.,?\s+'(.+?)'(?=\s*[.;,]?\s*(?:$|;|a\.k\.a\.))")


def weak_aliases(remarks: str) -> tuple[str, ...]:
    """The weak aliases of an SDN Remarks field (``a.k.a. 'ABU-'UMAR'.`` → ``ABU-'UMAR``)."""
    return tuple(dict.fromkeys(m.group(1).strip() for m in _WEAK_RE.finditer(remarks)))


def read_sdn_parties(directory: Path) -> ListRead:
    """Every entry of an OFAC SDN legacy-CSV directory as a listed party (list ``ofac_sdn``,
    key the ent_num). An entry of an unknown SDN_Type is skipped with its line's reason.

    Raises :class:`SdnFormatError` when the directory or a required file is missing/unreadable.
    """
    raw = _read(directory)
    skipped = [ListProblem(p.file, p.line, p.reason) for p in raw.problems]
    parties: list[ListedParty] = []
    for ent, fields in raw.entries.items():
        kind = _KIND_BY_TYPE.get(_value(fields[2]).lower())
        if kind is None:
            skipped.append(ListProblem("sdn.csv", None, f"ent_num {ent}: unknown SDN_Type "
                                       f"{_value(fields[2])!r}"))
            continue
        remarks = raw.remarks[ent]
        births, nationalities, documents = parse_remarks(remarks)
        parties.append(ListedParty(
            list="ofac_sdn", key=str(ent), kind=kind, name=_value(fields[1]),
            aliases=tuple(dict.fromkeys(raw.aliases.get(ent, []))),
            weak_aliases=weak_aliases(remarks),
            birth_dates=births if kind == "person" else (), nationalities=nationalities,
            documents=tuple(ListedDocument(d.kind, d.number, d.country) for d in documents),
            programs=raw.programs(ent)))
    return ListRead(parties=parties, skipped=skipped)


def _read(directory: Path) -> _Raw:
    directory = Path(directory)
    if not directory.is_dir():
        raise SdnFormatError(f"OFAC SDN directory missing: {directory}", file=directory)
    problems: list[SdnProblem] = []
    entries: dict[int, list[str]] = {}
    for number, ent, fields in _rows(directory / "sdn.csv", problems):
        if ent in entries:
            problems.append(SdnProblem("sdn.csv", number, f"duplicate ent_num {ent}"))
        elif not _value(fields[1]):
            problems.append(SdnProblem("sdn.csv", number, f"empty SDN_Name for ent_num {ent}"))
        else:
            entries[ent] = fields
    aliases: dict[int, list[str]] = {}
    continuations: dict[int, str] = {}
    for number, ent, fields in _rows(directory / "alt.csv", problems):
        if ent not in entries:
            problems.append(SdnProblem("alt.csv", number, f"alias for unknown ent_num {ent}"))
        elif not (alias := _value(fields[3])):
            problems.append(SdnProblem("alt.csv", number, f"empty alt_name for ent_num {ent}"))
        else:
            aliases.setdefault(ent, []).append(alias)
    for number, ent, fields in _rows(directory / "sdn_comments.csv", problems):
        if ent not in entries:
            problems.append(SdnProblem("sdn_comments.csv", number, f"unknown ent_num {ent}"))
        else:  # verbatim continuation: the split may fall mid-word or next to a space
            continuations[ent] = continuations.get(ent, "") + fields[1]
    _check_orphans(directory, problems, len(entries))
    counts = {"entries": len(entries), "aliases": sum(map(len, aliases.values())),
              "continuations": len(continuations)}
    remarks = {ent: (("" if fields[11].strip() == EMPTY else fields[11])
                     + continuations.get(ent, "")).strip() for ent, fields in entries.items()}
    return _Raw(entries, aliases, remarks, problems, counts)


def _check_orphans(directory: Path, problems: list[SdnProblem], entries: int) -> None:
    """Refuse the folder when alt.csv or sdn_comments.csv point to many entries sdn.csv lacks
    (see :data:`ORPHAN_SHARE_LIMIT`)."""
    for name, marker in (("alt.csv", "alias for unknown ent_num"),
                         ("sdn_comments.csv", "unknown ent_num")):
        orphans = sum(1 for p in problems if p.file == name and p.reason.startswith(marker))
        with (directory / name).open("rb") as f:
            rows = sum(1 for line in f if line.strip(b"\r\n\x1a \t"))
        if orphans > max(ORPHAN_MIN_ROWS, ORPHAN_SHARE_LIMIT * rows):
            reason = (f"{orphans:,} of {rows:,} rows of {name} name an ent_num that sdn.csv "
                      f"({entries:,} entries) lacks")
            raise SdnFormatError(f"{directory / 'sdn.csv'}: {reason}; sdn.csv looks cut short "
                                 "or comes from another copy of the list; nothing imported",
                                 file=directory / "sdn.csv", reason=reason)
