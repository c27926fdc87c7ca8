"""Screening review findings 4 and 5 (issue 14): short names one letter apart reach the scorer
(one-edit keys beside the trigrams), and a place word agrees with no other word by spelling
alone (fuzzy, prefix, one letter)."""

from __future__ import annotations

import pytest

from socialcredit.screening.index import DEFAULT_THRESHOLD, ScreenIndex, ScreenQuery
from socialcredit.screening.match import score_names
from socialcredit.screening.model import ListedParty
from socialcredit.screening.text import tokens

#: Given names a trigram index finds "Lu Yi" by (``^lu$``, ``lui``) before ``LI, Yi``.
_CROWD = ("Ivan", "Igor", "Ilya", "Irina", "Inna", "Isaak", "Iosif", "Inga", "Ilona", "Ira",
          "Ivanna", "Izabella", "Ilyas", "Ildar", "Ibragim", "Ignat", "Ilia", "Iskander",
          "Isidor", "Ivo", "Iona", "Irakli")


def _index() -> ScreenIndex:
    crowd = [ListedParty(list="t", key=f"c{k}", kind="person", name=f"LU, {given}")
             for k, given in enumerate(_CROWD)]
    return ScreenIndex([*crowd,
                        ListedParty(list="t", key="liyi", kind="person", name="LI, Yi"),
                        ListedParty(list="t", key="xubin", kind="person", name="XU, Bin")])


@pytest.mark.parametrize(("query", "key"), [
    ("Lu Yi", "liyi"), ("Si Yi", "liyi"), ("Li Ye", "liyi"), ("Yi Lu", "liyi"),
    ("Xo Bin", "xubin"),
])
def test_a_short_name_one_letter_off_reaches_the_scorer(query: str, key: str) -> None:
    found = _index().screen(ScreenQuery(kind="person", names=(query,)), limit=100,
                            min_score=0.0)
    assert key in {c.party.key for c in found}, [c.party.name for c in found]
    hit = next(c for c in found if c.party.key == key)
    assert 0 < hit.score < DEFAULT_THRESHOLD  # a partial hit, not a match


def test_the_exact_short_name_is_still_a_match_and_a_long_name_no_near_key() -> None:
    index = _index()
    top = index.screen(ScreenQuery(kind="person", names=("Li Yi",)))[0]
    assert top.party.key == "liyi" and top.match
    assert index.screen(ScreenQuery(kind="person", names=("Alexandrovich Konstantinov",))) == []


def _org(a: str, b: str) -> float:
    return score_names(tokens(a, "organisation"), tokens(b, "organisation")).score


@pytest.mark.parametrize(("query", "listed"), [
    ("Tehran Trading Company", "BEHRAN TRADING COMPANY"),
    ("Cuba Group", "CUBANACAN GROUP"),
    ("Iran Trading Company", "IRAQ TRADING COMPANY"),
    ("Moscow Holdings", "MOSCOWIA HOLDINGS"),
])
def test_a_place_never_agrees_by_spelling_alone(query: str, listed: str) -> None:
    assert _org(query, listed) < DEFAULT_THRESHOLD, (query, listed)
    index = ScreenIndex([ListedParty(list="t", key="1", kind="organisation", name=listed)])
    assert not any(c.match for c in index.screen(ScreenQuery(kind="organisation",
                                                             names=(query,))))


@pytest.mark.parametrize(("query", "listed"), [
    ("Banco Nacional de Cuba", "BANCO NACIONAL DE CUBA"),
    ("Moskva Trading", "MOSCOW TRADING LLC"),      # a place's other spelling: the same place
    ("Behran Trading", "BEHRAN TRADING COMPANY"),
    ("Behram Trading Company", "BEHRAN TRADING COMPANY"),  # a name's misspelling still counts
])
def test_places_and_names_still_match_as_written(query: str, listed: str) -> None:
    assert _org(query, listed) >= DEFAULT_THRESHOLD, (query, listed)
