"""The guard against mass delisting: an import that would delist a large share of a list's live
entries is refused whole, unless the caller asks for it deliberately (``allow_delist``; the CLI's
``lists import --allow-delist``).

Why: an entry missing from a newer file is delisted, so a file cut short or the wrong file
silently delists everything past the cut — and a delisted person's passport no longer denies at
the gate. Issue #14: the first 300 kB of the OFAC ``sdn.csv`` (1,843 of its 8,976 entries)
delisted 7,133 entries, a 50-row file 8,926.

Checked against both tables an import changes, before either is written:
``screen_entries`` (every kind, :mod:`~socialcredit.screening.lists`) and ``list_entries`` (the
gate's persons, :mod:`~socialcredit.screening.gate_lists`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Table, select

from socialcredit.errors import InputError

__all__ = ["MAX_DELIST_SHARE", "MIN_DELIST_GUARDED", "check_delisting", "would_delist"]

#: The largest share of a list's live entries one import may delist without ``allow_delist``.
#: A routine publication removes a small part of a list, while a cut-short or foreign file
#: removes most of it (79% and 99% in issue #14). No history of publications is at hand to
#: measure routine removals, so the figure is a judgement: far above an ordinary update, far
#: below a broken file. A deliberate large delisting (a whole programme lifted) passes with
#: the flag, and is then recorded in the ledger like any other import.
MAX_DELIST_SHARE = 0.10
#: Delisting at most this many entries is never refused, whatever the share: on a small list
#: (a hand-made excerpt, a test) one entry is already more than 10%.
MIN_DELIST_GUARDED = 20


def would_delist(conn: Connection, table: Table, list_name: str,
                 keys: Iterable[str]) -> tuple[int, int]:
    """``(live, delisted)``: the active rows of ``list_name`` in ``table`` (``screen_entries``
    or ``list_entries``: columns ``list``, ``key``, ``status``), and how many of them are not
    among ``keys`` (an import of ``keys`` would delist them)."""
    active = set(conn.execute(select(table.c.key).where(
        table.c.list == list_name, table.c.status == "active")).scalars())
    return len(active), len(active - set(keys))


def check_delisting(*, list_name: str, what: str, live: int, delisted: int,
                    allow_delist: bool) -> None:
    """Refuse an import that would delist more than :data:`MAX_DELIST_SHARE` of ``live``
    entries (and more than :data:`MIN_DELIST_GUARDED`), unless ``allow_delist``.

    Raises:
        InputError: ``details``: ``list``, ``what`` (``entries`` or ``gate entries``),
            ``live``, ``delisted``, ``max_share``.
    """
    if allow_delist or delisted <= max(MIN_DELIST_GUARDED, MAX_DELIST_SHARE * live):
        return
    raise InputError(
        f"{list_name}: this import would delist {delisted:,} of {live:,} live {what} "
        f"({delisted / live:.0%}; more than {MAX_DELIST_SHARE:.0%} is refused): is the file "
        "cut short, or another list? Nothing imported. If the delisting is intended, check the "
        "file against the publisher's and import it again with --allow-delist "
        "(allow_delist=True).",
        details={"list": list_name, "what": what, "live": live, "delisted": delisted,
                 "max_share": MAX_DELIST_SHARE})
