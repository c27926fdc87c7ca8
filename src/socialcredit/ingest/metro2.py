"""Reader of Metro 2® character-format files: framing, field parsing and checks.

:func:`read_metro2` yields one :class:`Metro2Record` per base segment (with its appended
segments) and, at the end, the trailer's problems if it has any; it never raises for one bad
record. It raises :class:`~socialcredit.errors.InputError` before yielding anything for a file
that is not Metro 2 in the character format: empty, not starting with a 426-byte header record
(``HEADER`` at bytes 5-10), EBCDIC text, or the packed format.

Positions are 1-based **byte positions in the file**: a record's ``offset`` is the byte its
record descriptor word starts at, and a problem's reason names the field's bytes within the
record (the CRRG's positions, :mod:`.metro2_layout`) and in the file. Records are separated by a
line break (LF or CR LF) or by nothing (each one framed by its record descriptor word).

A record's problems (``(field, reason)``, every one found) are, for example: a record whose
length is not 426 plus its appended segments' (the fields after a lost or extra byte would be
misread, so no field of it is read), an impossible date, a number with letters in it, an
unknown account status or payment rating, an unknown appended segment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from socialcredit.errors import InputError
from socialcredit.ingest.metro2_layout import (
    BASE,
    BASE_LENGTH,
    COMPLIANCE_CONDITIONS,
    ECOA_CODES,
    HEADER,
    HISTORY_CODES,
    PAYMENT_RATINGS,
    PORTFOLIO_TYPES,
    SEGMENTS,
    STATUSES,
    TRAILER,
    Field,
)

__all__ = ["Metro2Header", "Metro2Record", "read_metro2"]

#: Longest record read, in bytes: a base segment with every appended segment several times
#: over; a longer "record" is not Metro 2 and is skipped unread.
MAX_RECORD_BYTES = 1 << 16


@dataclass
class Metro2Header:
    """The header record: ``activity_date`` (ISO) and ``reporter_name``."""

    activity_date: str | None
    reporter_name: str


@dataclass
class Metro2Record:
    """One base segment and its appended segments, as read. ``offset``: 1-based byte position
    of the record in the file; ``text``: the record as text (for quarantine); ``base``: field
    → value (text stripped; ``N`` fields as int; ``D`` fields as ISO date or None);
    ``segments``: (identifier, fields) in file order; ``problems``: (field, reason)."""

    offset: int
    text: str
    base: dict[str, Any] = field(default_factory=dict)
    segments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: list[tuple[str | None, str]] = field(default_factory=list)

    def segment(self, ident: str) -> dict[str, Any] | None:
        """The first appended segment ``ident`` (``"K2"``), or None."""
        return next((f for s, f in self.segments if s == ident), None)


@lru_cache(maxsize=16_384)
def _date(text: str) -> dt.date | None:
    """A ``MMDDYYYY`` date (memoised: a file repeats its days); None for zeros or blanks.

    Raises:
        ValueError: not eight digits, or no such day.
    """
    if text == "00000000" or not text.strip():
        return None
    if not (len(text) == 8 and text.isascii() and text.isdigit()):
        raise ValueError
    return dt.date(int(text[4:]), int(text[:2]), int(text[2:4]))


def _plan(layout: tuple[Field, ...]) -> tuple[tuple[Field, int, int], ...]:
    """(field, 0-based start, end) of each field: slices computed once per layout."""
    return tuple((f, f.start - 1, f.end) for f in layout)


_PLANS = {id(layout): _plan(layout) for layout in (
    BASE, HEADER, TRAILER, *(fields for _, fields in SEGMENTS.values()))}


def _fields(rec: str, layout: tuple[Field, ...], at: int, where: int, seg: str,
            problems: list[tuple[str | None, str]]) -> dict[str, Any]:
    """Parse ``layout`` from ``rec`` starting at 0-based index ``at`` (the segment's start);
    ``where`` is the record's 1-based file offset, for reasons."""
    out: dict[str, Any] = {}
    for f, lo, hi in _PLANS[id(layout)]:
        raw = rec[at + lo: at + hi]
        if f.kind == "A":
            out[f.name] = raw.strip()
            continue
        try:
            if f.kind == "N":
                text = raw.strip()
                if text and not (text.isascii() and text.isdigit()):
                    raise ValueError("is not a whole number")
                out[f.name] = int(text) if text else 0
                continue
            day = _date(raw[:8])
            if f.kind == "T" and day is not None and not raw[8:].isdigit():
                raise ValueError
            out[f.name] = day.isoformat() if day else None
        except ValueError as e:
            shape = "MMDDYYYY" if f.kind == "D" else "MMDDYYYYHHMMSS"
            what = str(e) if f.kind == "N" else f"is not a date ({shape})"
            problems.append((f.name, (
                f"{seg} bytes {at + lo + 1}-{at + hi} (file bytes {where + at + lo}-"
                f"{where + at + hi - 1}): {raw!r} {what}")))
    return out


def _check_codes(base: dict[str, Any], where: int,
                 problems: list[tuple[str | None, str]]) -> None:
    """The code fields' values against the CRRG's tables."""
    def bad(name: str, why: str) -> None:
        f = next(x for x in BASE if x.name == name)
        problems.append((name, f"base bytes {f.start}-{f.end} (file bytes "
                               f"{where + f.start - 1}-{where + f.end - 1}): {why}"))

    status = base.get("account_status")
    if status not in STATUSES:
        bad("account_status", f"unknown account status {status!r} (Metro 2 codes: "
                              f"{', '.join(STATUSES)})")
    rating = base.get("payment_rating")
    if rating and rating not in PAYMENT_RATINGS:
        bad("payment_rating", f"unknown payment rating {rating!r} (0-6, G or L)")
    history = str(base.get("payment_history_profile", ""))
    odd = sorted(set(history) - HISTORY_CODES)
    if odd:
        bad("payment_history_profile", f"unknown payment history code(s) "
                                       f"{', '.join(map(repr, odd))} (0-6, B, D, E, G, H, J, "
                                       "K, L or Z)")
    ccc = base.get("compliance_condition_code")
    if ccc and ccc not in COMPLIANCE_CONDITIONS:
        bad("compliance_condition_code", f"unknown compliance condition code {ccc!r} "
                                         f"({', '.join(COMPLIANCE_CONDITIONS)})")
    portfolio = base.get("portfolio_type")
    if portfolio not in PORTFOLIO_TYPES:
        bad("portfolio_type", f"unknown portfolio type {portfolio!r} (C, I, M, O or R)")
    ecoa = base.get("ecoa_code")
    if ecoa not in ECOA_CODES:
        bad("ecoa_code", f"unknown ECOA code {ecoa!r} (1, 2, 3, 5, 7, T, W, X or Z)")
    if not base.get("consumer_account_number"):
        bad("consumer_account_number", "blank: every account has its number")
    first, info = base.get("date_of_first_delinquency"), base.get("date_of_account_information")
    if first and info and first > info:
        bad("date_of_first_delinquency", f"{first} is after the date of account information "
                                         f"{info}: a delinquency cannot begin after it is "
                                         "reported")
    if "date_of_account_information" in base and base["date_of_account_information"] is None:
        bad("date_of_account_information", "blank: the date the account information is as "
                                           "of is required")


def _base(rec: str, offset: int) -> Metro2Record:
    out = Metro2Record(offset, rec)
    # the appended segments: identifiers one after another from byte 427
    at, spans = BASE_LENGTH, []
    while at < len(rec):
        ident = rec[at:at + 2]
        seg = SEGMENTS.get(ident)
        if seg is None:
            out.problems.append(("record_length", (
                f"the record is {len(rec)} bytes, and its bytes {at + 1}-"
                f"{min(at + 2, len(rec))} (file bytes {offset + at}-"
                f"{offset + min(at + 2, len(rec)) - 1}), {ident!r}, start no appended segment "
                f"(J1, J2, K1, K2, K3, K4, L1 or N1) after the {at} bytes before them: a byte "
                "added or lost?")))
            return out
        spans.append((ident, at))
        at += seg[0]
    rdw = rec[:4]
    if len(rec) < BASE_LENGTH or at != len(rec):
        parts = " + ".join(f"{s} {SEGMENTS[s][0]}" for s, _ in spans)
        out.problems.append(("record_length", (
            f"the record is {len(rec)} bytes; a base segment is {BASE_LENGTH} bytes"
            + (f" and its appended segments {parts}" if parts else "")
            + (f", {at} in all" if parts else "")
            + " (a byte lost or added shifts every field after it, so none is read)")))
        return out
    if not (rdw.isascii() and rdw.isdigit()) or int(rdw) not in (BASE_LENGTH, len(rec)):
        out.problems.append(("record_descriptor_word", (
            f"record bytes 1-4: {rdw!r}, where the record is {len(rec)} bytes")))
    out.base = _fields(rec, BASE, 0, offset, "base", out.problems)
    for ident, start in spans:
        out.segments.append((ident, _fields(rec, SEGMENTS[ident][1], start, offset,
                                            ident, out.problems)))
    _check_codes(out.base, offset, out.problems)
    return out


def _field_at(rec: str, i: int) -> tuple[str, str, Field | None]:
    """(segment, field name, field) of 0-based byte ``i`` of a base record: the base segment's
    field, or that of the appended segment its identifier starts; ``"(reserved)"`` between
    fields, ``"(segment)"`` where no segment can be told."""
    at, seg, layout = 0, "base", BASE
    if i >= BASE_LENGTH:
        at = BASE_LENGTH
        while at < len(rec) and (found := SEGMENTS.get(rec[at:at + 2])) is not None:
            if i < at + found[0]:
                seg, layout = rec[at:at + 2], found[1]
                break
            at += found[0]
        else:
            return "appended", "(segment)", None
    f = next((f for f in layout if f.start - 1 <= i - at < f.end), None)
    return seg, (f.name if f else "(reserved)"), f


def _not_ascii(rec: str, offset: int) -> tuple[str | None, str]:
    """The problem of a record holding bytes that are not ASCII (read with
    ``surrogateescape``, one character a byte): the first such byte by record and file
    position, its value and the field it falls in; how many more there are."""
    bad = [i for i, c in enumerate(rec) if not c.isascii()]
    i = bad[0]
    seg, name, f = _field_at(rec, i)
    byte = ord(rec[i]) - 0xDC00 if "\udc80" <= rec[i] <= "\udcff" else ord(rec[i])
    span = f" (bytes {f.start}-{f.end} of {seg})" if f else ""
    more = f"; {len(bad) - 1} more in the record" if len(bad) > 1 else ""
    return name, (f"record byte {i + 1} (file byte {offset + i}), in {seg} field "
                  f"{name}{span}: byte 0x{byte:02X} is not ASCII{more} (the Metro 2 "
                  "character format is ASCII text)")


def _frames(fh: BinaryIO, lines: bool, start: int) -> Iterator[tuple[int, bytes | None]]:
    """(1-based offset, record bytes) after the header; bytes None for a record that cannot
    be framed (its descriptor word is not a number: the rest of the file is unreadable)."""
    offset = start
    while True:
        if lines:
            chunk = fh.readline(MAX_RECORD_BYTES + 1)
            if not chunk:
                return
            size = len(chunk)
            rec = chunk.rstrip(b"\r\n")
            if len(chunk) > MAX_RECORD_BYTES and not chunk.endswith(b"\n"):
                while chunk and not chunk.endswith(b"\n"):
                    chunk = fh.readline(MAX_RECORD_BYTES)
                    size += len(chunk)
            if rec.strip():
                yield offset, rec
            offset += size
            continue
        rdw = fh.read(4)
        if not rdw.strip(b"\r\n\x1a "):  # end of file (a final line break or DOS EOF mark)
            return
        if not (rdw.isdigit() and int(rdw) >= 4):
            yield offset, None
            return
        rec = rdw + fh.read(int(rdw) - 4)
        yield offset, rec
        offset += len(rec)


def _open_metro2(fh: BinaryIO, where: str) -> tuple[Metro2Header, bool, int]:
    """Check and read the header; (header, records on lines?, offset of the next record)."""
    head = fh.read(BASE_LENGTH + 2)
    refuse = (f"{where}: not a Metro 2 file in the character format: ")
    if not head:
        raise InputError(refuse + "it is empty", details={"file": where})
    if head[4:10] != b"HEADER":
        if head[4:10].decode("cp037", "replace") == "HEADER":
            raise InputError(refuse + "it is EBCDIC text; convert it to ASCII",
                             details={"file": where})
        if head[:4].isdigit() or head[4:10].isupper():
            why = "the first record is not a header (bytes 5-10 are not 'HEADER')"
        else:
            why = ("it does not start with a record descriptor word and a header record "
                   "(bytes 5-10 'HEADER')")
        raise InputError(refuse + why, details={"file": where, "line": 1})
    if not head[:4].isdigit():
        raise InputError(refuse + "its record descriptor word is binary: the packed format "
                         "is not read; send the character format", details={"file": where})
    text = head[:BASE_LENGTH]
    lines = b"\n" in head or b"\r" in head  # a line break by the header's end: on lines
    if lines:
        end = head.find(b"\n")
        if end < 0 or len(head[:end].rstrip(b"\r")) != BASE_LENGTH:
            raise InputError(refuse + f"the header record is not {BASE_LENGTH} bytes",
                             details={"file": where, "line": 1})
        nxt = end + 1
    else:
        nxt = BASE_LENGTH
    problems: list[tuple[str | None, str]] = []
    fields = _fields(text.decode("ascii", "replace"), HEADER, 0, 1, "header", problems)
    if problems:
        raise InputError(refuse + "its header " + "; ".join(r for _, r in problems),
                         details={"file": where, "line": 1})
    fh.seek(nxt)
    return (Metro2Header(fields.get("activity_date"),
                         str(fields.get("reporter_name", ""))), lines, nxt + 1)


def _open(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as e:
        raise InputError(f"{path}: cannot read file: {e.strerror}",
                         details={"file": str(path)}) from e


def read_metro2(path: Path) -> Iterator[Metro2Header | Metro2Record]:
    """The header (:class:`Metro2Header`, first), then each base segment of ``path``
    (:class:`Metro2Record`), then — only when the trailer is missing, wrong or followed by
    more data — a :class:`Metro2Record` with no base and the trailer's problems.

    Raises:
        InputError: the file cannot be read or is not Metro 2 in the character format (see
            the module docstring); raised before anything is yielded.
    """
    where = str(path)
    with _open(path) as fh:
        header, lines, start = _open_metro2(fh, where)
        yield header
        bases = 0
        trailer: Metro2Record | None = None
        for offset, rec in _frames(fh, lines, start):
            if rec is None:
                yield Metro2Record(offset, "", problems=[("record_descriptor_word", (
                    f"file bytes {offset}-{offset + 3} are not a record length, so the "
                    "records from here on cannot be found; the rest of the file is not "
                    "read"))])
                return
            text = rec.decode("ascii", "surrogateescape")
            if trailer is not None:
                trailer.problems.append((None, f"data after the trailer at file byte "
                                               f"{offset}: not read"))
                break
            if text[4:11] == "TRAILER":
                trailer = Metro2Record(offset, text)
                got = _fields(text, TRAILER, 0, offset, "trailer", trailer.problems)
                total = got.get("total_base_records")
                if total is not None and total != bases:
                    trailer.problems.append(("total_base_records", (
                        f"the trailer counts {total} base records; the file holds {bases} "
                        "(records lost or added in transit?)")))
                continue
            bases += 1
            if not text.isascii():
                yield Metro2Record(offset, text, problems=[_not_ascii(text, offset)])
                continue
            yield _base(text, offset)
        if trailer is None:
            yield Metro2Record(path.stat().st_size + 1, "", problems=[("trailer", (
                "the file ends without a trailer record: it may have been cut short; the "
                "records before the end were read"))])
        elif trailer.problems:
            yield trailer
