"""Screening: external lists (OFAC SDN, UN), name matching, screens of persons and
organisations (DESIGN §5).

Public surface: :func:`import_list` (lists), :class:`ScreenIndex` / :class:`ScreenQuery` /
:class:`Candidate` (the in-memory screen), :class:`ScreenService` and :func:`parse_query` (what
the API and CLI call), :func:`score_names` and :func:`tokens` (the matcher),
:class:`ListedParty` (one list entry), :data:`DEFAULT_THRESHOLD`.
"""

from socialcredit.screening.index import DEFAULT_THRESHOLD, Candidate, ScreenIndex, ScreenQuery
from socialcredit.screening.lists import import_list
from socialcredit.screening.match import score_names
from socialcredit.screening.model import ListedParty
from socialcredit.screening.service import ScreenService, parse_query
from socialcredit.screening.text import tokens

__all__ = [
    "DEFAULT_THRESHOLD", "Candidate", "ListedParty", "ScreenIndex", "ScreenQuery",
    "ScreenService", "import_list", "parse_query", "score_names", "tokens",
]
