"""The namesake stress set (issue 3): many people with the same few names, and furnisher rows
that make linkage hard — for measuring wrong links, wrong merges and wrong listings.

People: every name is one of the 20 most common full names in China (order of the Ministry of
Public Security's name statistics, 全国公民身份证号码查询服务中心 / 公安部户政管理研究中心
全国姓名报告; the press figures for the top three are 张伟 290,607, 王伟 281,568, 王芳
268,268 (2014 edition); ranks 4–20 get weights falling linearly to 185,000, an assumption —
editions differ a little in order and counts, which does not matter here).  90 % of birth
dates fall in :data:`SHARED_AGES` (one birth year each), so many people share name and birth
year and some share name and full birth date.  People
live in households of 2–5 with one family phone and one address; a few households hold twins
with the same name, birth date and address and different identity numbers.  National IDs are
checksum-valid with a birth date and sex digit that agree with the person.

Furnishers (rows follow :mod:`socialcredit.simulate.records`, plus ``birth_date`` and
``address`` where the furnisher would know them):

* ``court-beijing-no1`` (court): one ``dishonesty_finding`` within the last 700 days for
  :data:`FINDING_SHARE` of people, valid ID, Han name, birth date, address — these people must
  be listed on ``dishonest_judgment_debtors``;
* ``bank-icbc`` (lender) and ``pay-alipay`` (payment): ``loan_default`` rows for
  :data:`DEFAULT_SHARE` of people; :data:`TYPO_SHARE` of them carry a one-character typo in the
  national ID and :data:`TRANSPOSITION_SHARE` two adjacent digits swapped (both always fail
  the ISO 7064 MOD 11-2 check);
* ``ride-didi`` (platform): ``ride_rating`` rows keyed by the household phone and a name only;
* recycled numbers: a household's number ends on a date, its household moves to a new number,
  and 90–150 days later the old number goes to an unrelated household; each side has a
  ``loan_default`` (ID and phone) and ride ratings (phone only) on its side of the date.

Names are Han script, or pinyin in either order (``"Zhang Wei"``, ``"Wei Zhang"``) for
:data:`PINYIN_SHARE` of lender and ride-hail rows.  All randomness comes from the seed.

This module draws the set: the population, its households and each furnisher's rows come from
one seeded generator in one order, so that a seed gives the same set. The set's shape and the
files it writes are in :mod:`socialcredit.simulate.namesake_set` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import replace
from functools import cache

from pypinyin import lazy_pinyin
from stdnum.iso7064 import mod_11_2

from socialcredit.simulate.dates import random_date
from socialcredit.simulate.identifiers import (
    REGIONS,
    national_id,
    random_mobile,
    region_valid,
    with_wrong_check,
)
from socialcredit.simulate.namesake_set import (
    NAMESAKE_FURNISHERS,
    TRUTH_COLUMNS,
    TRUTH_FILE,
    Household,
    NamesakeSet,
    PhoneSpan,
    Recycled,
    _Spec,
)
from socialcredit.simulate.population import Person
from socialcredit.simulate.records import Draft, Value, finalize

__all__ = [
    "COMMON_NAMES",
    "NAMESAKE_FURNISHERS",
    "TRUTH_COLUMNS",
    "TRUTH_FILE",
    "Household",
    "NamesakeSet",
    "PhoneSpan",
    "Recycled",
    "namesake_population",
    "pinyin_name",
]

#: The 20 most common full names, most common first, with a weight and the sex of the people
#: bearing it ("M", "F" or "" for a name given to both).  See the module docstring for the source.
COMMON_NAMES: tuple[tuple[str, int, str], ...] = tuple(
    (name, weight, sex)
    for (name, sex), weight in zip(
        (("张伟", "M"), ("王伟", "M"), ("王芳", "F"), ("李伟", "M"), ("李娜", "F"),
         ("张敏", ""), ("李静", "F"), ("王静", "F"), ("刘伟", "M"), ("王秀英", "F"),
         ("张丽", "F"), ("李秀英", "F"), ("王丽", "F"), ("张静", "F"), ("张秀英", "F"),
         ("李强", "M"), ("王敏", ""), ("李敏", ""), ("王磊", "M"), ("刘洋", "")),
        (290_607, 281_568, 268_268,
         *(round(268_268 - (268_268 - 185_000) * k / 17) for k in range(1, 18))),
        strict=True,
    )
)
#: Ages on ``as_of`` of the shared birth years, and the share of people born in one of them.
SHARED_AGES = (28, 35, 42, 50, 58)
SHARED_YEAR_SHARE = 0.9
HOUSEHOLD_SIZES, HOUSEHOLD_WEIGHTS = (2, 3, 4, 5), (35, 30, 25, 10)
TWIN_PAIRS_PER_PERSON = 0.001
RECYCLED_PER_PERSON = 0.0005
FINDING_SHARE = 0.02
DEFAULT_SHARE = 0.06
TYPO_SHARE, TRANSPOSITION_SHARE = 0.03, 0.02
RIDER_SHARE = 0.10
PINYIN_SHARE = 0.15
_STREETS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "胜利路", "幸福路",
            "长江路", "光明街", "朝阳路", "文化路")




@cache
def _syllables(name: str) -> tuple[str, str]:
    family, *given = lazy_pinyin(name)
    return family.capitalize(), "".join(given).capitalize()


def pinyin_name(name: str, *, given_first: bool = False) -> str:
    """``"张伟"`` → ``"Zhang Wei"`` (or ``"Wei Zhang"``); one-character family names only."""
    family, given = _syllables(name)
    return f"{given} {family}" if given_first else f"{family} {given}"


def _garble(rng: random.Random, nid: str, fault: str) -> str:
    """``nid`` with one character changed (``typo``) or two adjacent digits swapped; the result
    always fails the MOD 11-2 check (ISO 7064 detects both kinds of error)."""
    while True:
        if fault == "typo":
            i = rng.randrange(18)
            if i == 17:
                bad = with_wrong_check(rng, nid)
            else:
                bad = nid[:i] + rng.choice([d for d in "0123456789" if d != nid[i]]) + nid[i + 1:]
        else:
            i = rng.randrange(17)
            a, b = nid[i], nid[i + 1]
            if a == b or not (a + b).isdigit():
                continue
            bad = nid[:i] + b + a + nid[i + 2:]
        if not mod_11_2.is_valid(bad):
            return bad


def _people(rng: random.Random, n: int, as_of: dt.date
            ) -> tuple[list[Person], list[Household], list[tuple[int, int]]]:
    sizes: list[int] = []
    left = n
    while left > 0:
        size = min(rng.choices(HOUSEHOLD_SIZES, weights=HOUSEHOLD_WEIGHTS)[0], left)
        if left - size == 1:  # never leave a household of one behind
            size = size + 1 if size < 5 else size - 1
        sizes.append(size)
        left -= size
    pairs = min(len(sizes), max(2, round(n * TWIN_PAIRS_PER_PERSON)))
    with_twins = set(rng.sample([h for h, s in enumerate(sizes) if s >= 2], pairs))
    names = [c[0] for c in COMMON_NAMES]
    cum = list(itertools.accumulate(c[1] for c in COMMON_NAMES))
    sex_of = {c[0]: c[2] for c in COMMON_NAMES}
    used_ids: set[str] = set()
    used_phones: set[str] = set()
    people: list[Person] = []
    households: list[Household] = []
    twins: list[tuple[int, int]] = []

    def new_id(region: str, birth: dt.date, sex: str) -> str:
        while True:
            seq = rng.randrange(500) * 2 + 1 if sex == "M" else rng.randrange(1, 500) * 2
            nid = national_id(region, birth, seq)
            if nid not in used_ids:
                used_ids.add(nid)
                return nid

    for h, size in enumerate(sizes):
        code, place = rng.choice(REGIONS)
        address = (f"{place}{rng.choice(_STREETS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}栋"
                   f"{rng.randint(1, 6)}单元{rng.randint(1, 30)}{rng.randint(1, 4):02d}室")
        phone = random_mobile(rng)
        while phone in used_phones:
            phone = random_mobile(rng)
        used_phones.add(phone)
        members: list[int] = []
        for m in range(size):
            if h in with_twins and m == 1:
                first = people[-1]
                region = first.region_code
                twin = replace(first, index=len(people), person_id=f"N{len(people) + 1:07d}",
                               national_id=new_id(region, first.birth_date, first.sex))
                twins.append((first.index, twin.index))
                people.append(twin)
                members.append(twin.index)
                continue
            name = rng.choices(names, cum_weights=cum)[0]
            sex = sex_of[name] or rng.choice("MF")
            if rng.random() < SHARED_YEAR_SHARE:
                year = as_of.year - rng.choice(SHARED_AGES)
            else:
                year = as_of.year - rng.randint(20, 75)
            birth = random_date(rng, dt.date(year, 1, 1), dt.date(year, 12, 31))
            region = code if region_valid(code, year) else "110101"
            people.append(Person(len(people), f"N{len(people) + 1:07d}",
                                 new_id(region, birth, sex), phone, name, birth, sex, region))
            members.append(len(people) - 1)
        households.append(Household(h, address, code, tuple(members), (PhoneSpan(phone),)))
    return people, households, twins


def _recycle(rng: random.Random, households: list[Household], people: list[Person],
             as_of: dt.date, count: int) -> list[Recycled]:
    """Move ``count`` numbers from one household to another (see the module docstring)."""
    chosen = rng.sample(range(len(households)), min(len(households) // 2 * 2, 2 * count))
    used = {h.phones[0].number for h in households}
    out: list[Recycled] = []
    for a, b in zip(chosen[::2], chosen[1::2], strict=True):
        until = as_of - dt.timedelta(days=rng.randint(200, 300))
        since = until + dt.timedelta(days=rng.randint(90, 150))
        number, old_b = households[a].phones[0].number, households[b].phones[0].number
        fresh = random_mobile(rng)
        while fresh in used:
            fresh = random_mobile(rng)
        used.add(fresh)
        households[a] = replace(households[a], phones=(
            PhoneSpan(number, None, until), PhoneSpan(fresh, until + dt.timedelta(days=1))))
        households[b] = replace(households[b], phones=(
            PhoneSpan(old_b, None, since - dt.timedelta(days=1)), PhoneSpan(number, since)))
        for h in (households[a], households[b]):
            for i in h.members:
                people[i] = replace(people[i], phone=h.phone_on(as_of))
        out.append(Recycled(number, a, until, b, since))
    return out


def namesake_population(n: int, *, seed: int, as_of: dt.date) -> NamesakeSet:
    """Build the stress set of ``n`` people (see the module docstring); the same ``n``,
    ``seed`` and ``as_of`` always give the same set.

    Raises:
        ValueError: ``n`` is below 10.
    """
    if n < 10:
        raise ValueError("a namesake set needs at least 10 people")
    master = random.Random(seed)
    rng = {s: random.Random(master.getrandbits(64))
           for s in ("people", "phones", "court", "lenders", "ride", "names")}
    people, households, twins = _people(rng["people"], n, as_of)
    recycled = _recycle(rng["phones"], households, people, as_of,
                        max(2, round(n * RECYCLED_PER_PERSON)))
    out = NamesakeSet(as_of, people, households, [0] * n, twins, recycled)
    for h in households:
        for i in h.members:
            out.household_of[i] = h.index
    _Records(out, rng).build()
    return out


class _Records:
    """Draws the furnisher rows of a :class:`NamesakeSet` and fills its truth."""

    def __init__(self, data: NamesakeSet, rng: dict[str, random.Random]) -> None:
        self.data, self.rng = data, rng
        self.drafts: dict[str, list[tuple[Draft, str, str]]] = {
            s.name: [] for s in NAMESAKE_FURNISHERS}

    def add(self, furnisher: str, kind: str, day: dt.date, who: int, fields: dict[str, Value],
            *, with_id: bool = True, with_phone: bool = True, fault: str = "",
            pinyin: bool = False, ids: random.Random | None = None) -> None:
        person = self.data.people[who]
        house = self.data.households[self.data.household_of[who]]
        shown = person.name
        names = self.rng["names"]
        if pinyin and names.random() < PINYIN_SHARE:
            shown = pinyin_name(person.name, given_first=names.random() < 0.5)
        nid = _garble(ids, person.national_id, fault) if fault and ids else person.national_id
        extra: dict[str, Value] = {"birth_date": person.birth_date.isoformat(),
                                   "address": house.address}
        spec = next(s for s in NAMESAKE_FURNISHERS if s.name == furnisher)
        wanted = spec.extra if isinstance(spec, _Spec) else ()
        fields = {**{k: v for k, v in extra.items() if k in wanted}, **fields}
        shown_person = replace(person, national_id=nid, phone=house.phone_on(day), name=shown)
        draft = Draft(kind, day, shown_person, fields, with_national_id=with_id,
                      with_phone=with_phone)
        self.drafts[furnisher].append((draft, person.national_id, fault))

    def build(self) -> None:
        data, as_of = self.data, self.data.as_of
        n = len(data.people)
        court, lenders, ride = self.rng["court"], self.rng["lenders"], self.rng["ride"]
        listed = court.sample(range(n), max(1, round(n * FINDING_SHARE)))
        for k, who in enumerate(listed):
            day = as_of - dt.timedelta(days=court.randint(1, 700))
            self.add("court-beijing-no1", "dishonesty_finding", day, who, {
                "case_number": f"({day.year})京01执{k + 1}号", "ground": 1,
                "amount_minor": court.randint(5_000, 500_000) * 100, "currency": "CNY"},
                with_phone=court.random() < 0.6)
        data.must_list = frozenset(data.people[i].national_id for i in listed)
        loan = itertools.count(1)
        for who in lenders.sample(range(n), round(n * DEFAULT_SHARE)):
            for _ in range(1 if lenders.random() < 0.8 else 2):
                r = lenders.random()
                fault = ("typo" if r < TYPO_SHARE else "transposition"
                         if r < TYPO_SHARE + TRANSPOSITION_SHARE else "")
                self._loan(who, random_date(lenders, as_of - dt.timedelta(days=1400), as_of),
                           next(loan), fault)
        for rec in data.recycled:
            a = lenders.choice(data.households[rec.first].members)
            b = lenders.choice(data.households[rec.second].members)
            self._loan(a, random_date(lenders, rec.until - dt.timedelta(days=150), rec.until),
                       next(loan), "", phone=True)
            self._loan(b, random_date(lenders, rec.since, as_of), next(loan), "", phone=True)
            ride_from = max(rec.until - dt.timedelta(days=120), as_of - dt.timedelta(days=364))
            for who, start, end in ((a, ride_from, rec.until),
                                    (b, rec.since, as_of)):
                for _ in range(2):
                    self._ride(who, random_date(ride, start, end))
        year_ago = as_of - dt.timedelta(days=364)
        for who in ride.sample(range(n), round(n * RIDER_SHARE)):
            for _ in range(ride.randint(2, 8)):
                self._ride(who, random_date(ride, year_ago, as_of))
        for spec in NAMESAKE_FURNISHERS:
            triples = self.drafts[spec.name]
            data.records[spec.name] = finalize(spec, [d for d, _, _ in triples])
            for draft, truth, fault in triples:
                data.truth[(spec.name, draft.record_id)] = truth
                if fault:
                    data.faults[(spec.name, draft.record_id)] = fault

    def _loan(self, who: int, day: dt.date, number: int, fault: str, *, phone: bool = False
              ) -> None:
        rng = self.rng["lenders"]
        bank = rng.random() < 0.6
        self.add("bank-icbc" if bank else "pay-alipay", "loan_default", day, who, {
            "loan_id": f"{'ICBC' if bank else 'HB'}-{number:08d}",
            "amount_minor": rng.randint(1_000, 200_000) * 100, "currency": "CNY",
            "days_past_due": rng.randint(30, 400)},
            with_phone=phone or not bank or rng.random() < 0.8, fault=fault, pinyin=True, ids=rng)

    def _ride(self, who: int, day: dt.date) -> None:
        rng = self.rng["ride"]
        self.add("ride-didi", "ride_rating", day, who, {
            "rating": rng.choices((1, 2, 3, 4, 5), cum_weights=(1, 2, 5, 22, 100))[0],
            "trip_id": f"DD{day:%Y%m%d}{rng.randrange(10**10):010d}"},
            with_id=False, pinyin=True)
