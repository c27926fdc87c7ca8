"""Disparate impact of a policy: who the listed are, by region, age band and sex, read from
the national ID (part of the what-if, :mod:`socialcredit.reports.whatif`).

:func:`people` reads the population (subjects with a valid CN resident ID); :func:`impact`
returns, for two sets of listed subjects (``new``, ``current``), each group's listing rate and
its ratio to the overall rate, flagged outside :data:`FOUR_FIFTHS` — the four-fifths rule of
the US Uniform Guidelines on Employee Selection Procedures, 29 CFR 1607.4(D), applied here to a
group's rate against the overall rate in both directions (a rate 25 % above the overall one is
the inverse of 0.8). Groups: region (province of the ID's address code, GB/T 2260), age band
on ``as_of`` (from the ID's birth date) and sex (the ID's 17th digit: odd male, even female).

Where the ID embeds nothing (a US SSN), the policy's ``identity.demographics`` says which
groups the data allows and where they come from (:mod:`socialcredit.policy.demographics`: the
state of the furnished address, the furnished birth date; no sex for the US policy). The report
names each dimension's source (``dimensions``), the dimensions the data does not allow and why
(``unavailable``), and how many people lack a dimension's data (``missing``): those people
count in the overall rate but in none of that dimension's groups.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from socialcredit.policy.demographics import US_STATES, furnished_people
from socialcredit.policy.model import Policy
from socialcredit.store import Store
from socialcredit.store.tables import identifiers, subjects

__all__ = ["AGE_BANDS", "FOUR_FIFTHS", "GB2260_PROVINCES", "SMALL_GROUP", "Person", "impact",
           "people", "person_of", "sources"]

#: A ratio to the overall rate outside this band is flagged (four-fifths rule, 29 CFR
#: 1607.4(D): a rate below 4/5 of the reference; 1.25 = 5/4, the same gap the other way).
FOUR_FIFTHS = (0.8, 1.25)

#: A group smaller than this is marked ``small``: 29 CFR 1607.4(D) warns that differences in
#: rates "based on small numbers" may not show adverse impact.
SMALL_GROUP = 30

#: Age bands (label, first age, first age of the next band) on ``as_of``.
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("<25", 0, 25), ("25-34", 25, 35), ("35-44", 35, 45), ("45-54", 45, 55),
    ("55-64", 55, 65), ("65+", 65, 1000))

#: The 31 province-level divisions of mainland China by the first two digits of their
#: administrative division code (GB/T 2260-2007, Codes for the administrative divisions of the
#: PRC; the first six digits of a resident ID are the address code, GB 11643-1999 §5.2).
GB2260_PROVINCES: dict[str, str] = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia",
    "21": "Liaoning", "22": "Jilin", "23": "Heilongjiang", "31": "Shanghai", "32": "Jiangsu",
    "33": "Zhejiang", "34": "Anhui", "35": "Fujian", "36": "Jiangxi", "37": "Shandong",
    "41": "Henan", "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi",
    "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou", "53": "Yunnan",
    "54": "Tibet", "61": "Shaanxi", "62": "Gansu", "63": "Qinghai", "64": "Ningxia",
    "65": "Xinjiang",
}


@dataclass(frozen=True, slots=True)
class Person:
    """A member of the disparate-impact population: region (a CN province code of 2 digits, or
    a USPS state code), birth date and sex (``M``/``F``); None where the data does not say."""

    subject_id: int
    province: str | None
    birth_date: dt.date | None
    sex: str | None


def person_of(subject_id: int, national_id: str) -> Person | None:
    """The ID's province, birth date and sex, or None unless it is a valid 18-character CN
    resident ID (GB 11643-1999: address code, birth date, order code with sex digit, check)."""
    from socialcredit.errors import IdentifierError
    from socialcredit.identity import scheme_for

    try:
        nid = scheme_for("cn.ric").parse(national_id)
    except IdentifierError:
        return None
    if nid.birth_date is None or nid.sex is None:
        return None
    return Person(subject_id, nid.value[:2], nid.birth_date, nid.sex)


def people(store: Store, policy: Policy) -> tuple[list[Person], int]:
    """The disparate-impact population: subjects (not merged away) with a national ID in
    ``identifiers`` (the current one; else the latest), and how many IDs were not valid CN
    resident IDs. Under another scheme, the groups furnished data allows
    (:func:`socialcredit.policy.demographics.furnished_people`; every ID stored is valid)."""
    if policy.identity.national_id.scheme != "cn.ric":
        return [Person(*row) for row in furnished_people(store, policy)], 0
    best: dict[int, tuple[bool, str, str]] = {}
    with store.read() as conn:
        for r in conn.execute(select(identifiers.c.subject_id, identifiers.c.value,
                                     identifiers.c.valid_from, identifiers.c.valid_to)
                              .join(subjects, subjects.c.id == identifiers.c.subject_id)
                              .where(identifiers.c.kind == "national_id",
                                     subjects.c.merged_into.is_(None))):
            rank = (r.valid_to is None, r.valid_from, r.value)
            if r.subject_id not in best or rank > best[r.subject_id]:
                best[r.subject_id] = rank
    out, invalid = [], 0
    for sid, (_, _, value) in sorted(best.items()):
        p = person_of(sid, value)
        if p is None:
            invalid += 1
        else:
            out.append(p)
    return out, invalid


def _region_label(code: str) -> str:
    """A province's name (2-digit GB/T 2260 code) or a US state's (USPS code)."""
    if code.isdigit():
        return GB2260_PROVINCES.get(code, f"other ({code})")
    return US_STATES.get(code, code)


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _band(age: int) -> str:
    return next(label for label, lo, hi in AGE_BANDS if lo <= max(age, 0) < hi)


def sources(policy: Policy | None) -> tuple[dict[str, str], dict[str, str]]:
    """``(dimensions, unavailable)``: each group dimension the policy's data allows → where it
    is read from, and each it does not → why (``identity.demographics``)."""
    if policy is None or policy.identity.national_id.scheme == "cn.ric":
        return ({"region": "province of the national ID's address code (GB/T 2260)",
                 "age_band": "birth date in the national ID", "sex": "sex digit of the "
                 "national ID"}, {})
    d = policy.identity.demographics
    said = {"region": {"address_state": "state (USPS code) of the newest furnished address"},
            "age_band": {"furnished": "date of birth furnishers reported"},
            "sex": {"furnished": "sex furnishers reported"}}
    chosen = {"region": d.region, "age_band": d.age, "sex": d.sex}
    why = d.note or f"the {policy.identity.national_id.label} carries none"
    return ({k: said[k][v] for k, v in chosen.items() if v != "none"},
            {k: why for k, v in chosen.items() if v == "none"})


def impact(persons: list[Person], invalid: int, l_new: set[int], l_cur: set[int],
            as_of: dt.date, policy: Policy | None = None) -> dict[str, Any]:
    """``{population, invalid_ids, overall: {current, new}: {listed, rate}, band, dimensions:
    {dim: source}, unavailable: {dim: why}, missing: {dim: n}, groups: {region | age_band |
    sex (those allowed): [{group, label, population, small, current: {listed, rate, ratio},
    new: {…}, flagged: [side]}]}}`` for the listed subjects ``l_new`` and ``l_cur``;
    ``policy`` (the NEW one) says which dimensions its data allows (:func:`sources`)."""
    dims, unavailable = sources(policy)
    n = len(persons)
    overall = {"current": sum(p.subject_id in l_cur for p in persons),
               "new": sum(p.subject_id in l_new for p in persons)}
    rate = {k: (v / n if n else None) for k, v in overall.items()}
    lo, hi = FOUR_FIFTHS

    def row(group: str, label: str, members: list[Person]) -> dict[str, Any]:
        out: dict[str, Any] = {"group": group, "label": label, "population": len(members),
                               "small": len(members) < SMALL_GROUP}
        flags = []
        for side, listed in (("current", l_cur), ("new", l_new)):
            k = sum(p.subject_id in listed for p in members)
            r = k / len(members) if members else None
            overall_rate = rate[side]
            ratio = r / overall_rate if r is not None and overall_rate else None
            out[side] = {"listed": k, "rate": r, "ratio": ratio}
            if ratio is not None and not lo <= ratio <= hi:
                flags.append(side)
        out["flagged"] = flags
        return out

    by: dict[str, dict[str, list[Person]]] = {"region": defaultdict(list),
                                              "age_band": defaultdict(list),
                                              "sex": defaultdict(list)}
    missing = {dim: 0 for dim in dims}
    for p in persons:
        for dim, value in (("region", p.province), ("age_band", p.birth_date),
                           ("sex", p.sex)):
            if dim not in dims:
                continue
            if value is None:
                missing[dim] += 1
            elif isinstance(value, dt.date):
                by[dim][_band(_age(value, as_of))].append(p)
            else:
                by[dim][value].append(p)
    order: dict[str, list[str]] = {"region": sorted(by["region"]),
             "age_band": [b for b, _, _ in AGE_BANDS if b in by["age_band"]],
             "sex": [s for s in ("M", "F") if s in by["sex"]]}
    labels: dict[str, Callable[[str], str]] = {
        "region": _region_label,
        "age_band": lambda b: b, "sex": lambda s: {"M": "male", "F": "female"}[s]}
    return {
        "population": n, "invalid_ids": invalid,
        "overall": {side: {"listed": overall[side], "rate": rate[side]} for side in overall},
        "band": list(FOUR_FIFTHS), "dimensions": dims, "unavailable": unavailable,
        "missing": missing,
        "groups": {dim: [row(g, labels[dim](g), by[dim][g]) for g in order[dim]]
                   for dim in ("region", "age_band", "sex") if dim in dims},
    }
