"""The synthetic population drawn a block at a time with NumPy (the simulator's fast path).

Same people as :mod:`socialcredit.simulate.population` describes (ages 18–80 from the census
age bands, the census sex ratio, real region codes valid in the birth year, Han names with the
MPS surname shares, unique checksum-valid identity numbers and unique valid +86 mobiles), drawn
for ``size`` people at once: a block of 250,000 people takes well under a second.
:func:`socialcredit.simulate.population.generate_population` stays the row-by-row reference
(the shipped linkage model is trained on it).

Uniqueness across blocks: :class:`UsedKeys` keeps every identity-number body (17 digits) and
every phone drawn so far as a sorted ``int64`` array, 8 bytes per person each (160 MB for 10
million people) — the only state that grows with the population.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.dates import shift_years
from socialcredit.simulate.identifiers import MOBILE_PREFIXES, REGIONS, region_valid
from socialcredit.simulate.names import draw_names_np
from socialcredit.simulate.population import (
    _AGE_BANDS,
    _FALLBACK_REGION,
    _MALE_SHARE,
    MAX_AGE,
    MIN_AGE,
    Person,
)

__all__ = ["PeopleBlock", "PeopleView", "UsedKeys", "date_parts", "draw_people"]

_EPOCH = dt.date(1970, 1, 1).toordinal()
#: ISO 7064 MOD 11-2 weights of the 17 body digits (GB 11643-1999).
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_CHECK = pa.array(list("0123456789X"))
_SEXES = pa.array(["F", "M"])
_AGES = np.array([age for lo, hi, _ in _AGE_BANDS for age in range(lo, hi + 1)])
_AGE_CUM = np.cumsum([w for lo, hi, w in _AGE_BANDS for _ in range(lo, hi + 1)])
_PREFIXES = np.array([p * 100_000_000 for p, w in MOBILE_PREFIXES for _ in range(w)], np.int64)


def date_parts(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month 1–12, day 1–31) of each day given as days since 1970-01-01."""
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    return (
        dates.astype("datetime64[Y]").astype(np.int64) + 1970,
        months.astype(np.int64) % 12 + 1,
        (dates - months.astype("datetime64[D]")).astype(np.int64) + 1,
    )


@dataclass
class UsedKeys:
    """Integers drawn so far (sorted, unique): ``fresh(keys)`` flags the keys to redraw."""

    keys: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def clashes(self, keys: np.ndarray) -> np.ndarray:
        """Mask of ``keys`` already used, or repeating an earlier key of the same array."""
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        clash = np.zeros(len(keys), bool)
        clash[1:] = ranked[1:] == ranked[:-1]
        if len(self.keys):
            at = np.minimum(np.searchsorted(self.keys, ranked), len(self.keys) - 1)
            clash |= self.keys[at] == ranked
        out = np.empty(len(keys), bool)
        out[order] = clash
        return out

    def add(self, keys: np.ndarray) -> None:
        """Record ``keys`` (unique and unused, see :meth:`clashes`)."""
        self.keys = np.sort(np.concatenate([self.keys, keys]), kind="stable")


def _regions_by_year(first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """(years × regions) table of region codes valid per birth year, padded, and the counts."""
    codes = [int(c) for c, _ in REGIONS]
    rows = []
    for year in range(first_year, last_year + 1):
        ok = [c for c in codes if region_valid(str(c), year)] or [int(_FALLBACK_REGION)]
        rows.append(ok)
    table = np.zeros((len(rows), len(codes)), np.int64)
    for i, ok in enumerate(rows):
        table[i, : len(ok)] = ok
    return table, np.array([len(r) for r in rows])


def _check_chars(body: np.ndarray) -> pa.Array:
    total = np.zeros(len(body), np.int64)
    rest = body.copy()
    for i in range(16, -1, -1):
        total += (rest % 10) * _WEIGHTS[i]
        rest //= 10
    return pc.take(_CHECK, pa.array((12 - total % 11) % 11))


@dataclass
class PeopleBlock:
    """``size`` people starting at population index ``start``: NumPy columns for computing and
    Arrow strings for writing.  ``birth`` is days since 1970-01-01 (``int64``), ``male`` a
    boolean mask, ``region`` the 6-digit code as an integer."""

    index: int
    start: int
    birth: np.ndarray
    male: np.ndarray
    region: np.ndarray
    person_id: pa.Array
    national_id: pa.Array
    phone: pa.Array
    name: pa.Array

    def __len__(self) -> int:
        return len(self.birth)

    def table(self) -> pa.Table:
        """The rows of ``population.csv`` (:data:`POPULATION_COLUMNS`), all strings."""
        return pa.table({
            "person_id": self.person_id,
            "national_id": self.national_id,
            "phone": self.phone,
            "name": self.name,
            "birth_date": pc.cast(pa.array(self.birth.astype(np.int32), pa.date32()),
                                  pa.string()),
            "sex": pc.take(_SEXES, pa.array(self.male.astype(np.int8))),
            "region_code": pc.cast(pa.array(self.region), pa.string()),
        })

    def people(self) -> PeopleView:
        """A lazy ``Sequence[Person]`` over the block (``Person.index`` is the block index)."""
        return PeopleView(self)


class PeopleView(Sequence[Person]):
    """Builds :class:`Person` objects on demand, for the stages that work person by person."""

    def __init__(self, block: PeopleBlock) -> None:
        self._b = block
        self._cache: dict[int, Person] = {}
        self._text: dict[str, list[str]] = {}

    def __len__(self) -> int:
        return len(self._b)

    @overload
    def __getitem__(self, i: int) -> Person: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Person]: ...

    def __getitem__(self, i: int | slice) -> Person | Sequence[Person]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        person = self._cache.get(i)
        if person is None:
            b, text = self._b, self._text
            if not text:
                for name in ("person_id", "national_id", "phone", "name"):
                    text[name] = getattr(b, name).to_pylist()
            person = Person(
                index=i,
                person_id=text["person_id"][i],
                national_id=text["national_id"][i],
                phone=text["phone"][i],
                name=text["name"][i],
                birth_date=dt.date.fromordinal(int(b.birth[i]) + _EPOCH),
                sex="M" if b.male[i] else "F",
                region_code=str(int(b.region[i])),
            )
            self._cache[i] = person
        return person

    def __iter__(self) -> Iterator[Person]:
        return (self[i] for i in range(len(self)))


def draw_people(
    rng: np.random.Generator,
    index: int,
    start: int,
    size: int,
    as_of: dt.date,
    used_ids: UsedKeys,
    used_phones: UsedKeys,
) -> PeopleBlock:
    """Draw block ``index``: ``size`` people (population indices ``start``…) aged 18–80 on
    ``as_of``; their identity numbers and phones differ from every key in ``used_ids`` /
    ``used_phones``, which are updated."""
    male = rng.random(size) < _MALE_SHARE
    ages = _AGES[np.searchsorted(_AGE_CUM, rng.random(size) * _AGE_CUM[-1], side="right")]
    # first and last possible birth day (days since 1970) for each age in whole years on as_of
    lo = np.array([shift_years(as_of, -(a + 1)).toordinal() + 1 - _EPOCH for a in range(91)])
    hi = np.array([shift_years(as_of, -a).toordinal() - _EPOCH for a in range(91)])
    birth = rng.integers(lo[ages], hi[ages] + 1)
    years, months, days = date_parts(birth)
    ymd = years * 10_000 + months * 100 + days
    first_year = as_of.year - MAX_AGE - 1
    table, counts = _regions_by_year(first_year, as_of.year - MIN_AGE)
    row = years - first_year
    region = table[row, (rng.random(size) * counts[row]).astype(np.int64)]
    stem = region * 10**11 + ymd * 1000
    body = stem + _sequence(rng, male)
    while (clash := used_ids.clashes(body)).any():
        body[clash] = stem[clash] + _sequence(rng, male[clash])
    used_ids.add(body)
    phones = _PREFIXES[rng.integers(0, len(_PREFIXES), size)] + rng.integers(0, 10**8, size)
    while (clash := used_phones.clashes(phones)).any():
        n = int(clash.sum())
        phones[clash] = _PREFIXES[rng.integers(0, len(_PREFIXES), n)] + rng.integers(0, 10**8, n)
    used_phones.add(phones)
    number = pc.cast(pa.array(np.arange(start + 1, start + size + 1)), pa.string())
    return PeopleBlock(
        index=index,
        start=start,
        birth=birth,
        male=male,
        region=region,
        person_id=pc.binary_join_element_wise("P", pc.utf8_lpad(number, 7, "0"), ""),
        national_id=pc.binary_join_element_wise(
            pc.cast(pa.array(body), pa.string()), _check_chars(body), ""
        ),
        phone=pc.binary_join_element_wise("+86", pc.cast(pa.array(phones), pa.string()), ""),
        name=draw_names_np(rng, male),
    )


def _sequence(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Sequence numbers 1–999: odd for men, even (2–998) for women."""
    n = len(male)
    return np.where(male, rng.integers(0, 500, n) * 2 + 1, rng.integers(1, 500, n) * 2)
