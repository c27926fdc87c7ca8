"""Enterprises (issue #13): organisations keyed by their unified social credit code, their
legal representatives and main responsible persons, their enforcement cases and their annual
tax-credit ratings, drawn a block of people at a time with NumPy.

Two regulators report them (furnisher kind ``regulator``): the market regulator
(:data:`MARKET_REGULATOR`: ``organisation_registered``, ``organisation_status``,
``representative_appointed``, ``representative_ended``) and the tax authority
(:data:`TAX_AUTHORITY`: ``tax_credit_rating``). The courts of
:mod:`socialcredit.simulate.courts` report the enterprises' judgments and dishonesty findings
with the enterprise's ``organisation_id`` and name and no person's identifier.

Figures (sources / assumptions):

* :data:`ENTERPRISES_PER_PERSON` (0.041): about 58 million enterprises (SAMR, market entities
  at the end of 2023: 184 million, of which about 58 million enterprises and 124 million
  individual businesses, as SAMR reported them; the enterprise figure as we recall it) for
  1,410 million people (NBS, end of 2023). Individual businesses are not simulated;
* unified social credit codes (GB 32100-2015): registration authority ``9`` (market
  regulation), category ``1`` (enterprise), the six-digit region code of the enterprise's
  seat, a nine-character organisation code (``MA`` and six characters, unique per
  enterprise, with its GB 11714-1997 check character) and the check character of GB 32100
  (python-stdnum ``cn.uscc`` accepts every code);
* names: the seat's city, a two-character trade name, an industry and the legal form
  (有限公司 for :data:`LLC_SHARE` 85 %, 股份有限公司 for 5 %, 合伙企业 for 5 %, the rest
  other; assumption: limited liability companies are the great majority of enterprises);
* registration within the four simulated years (the regulator's feed starts then; an older
  enterprise is reported as registered on its first day in the feed, assumption);
* every enterprise has one legal representative, an adult of the block at least
  25 years old, appointed on the registration day; :data:`MAIN_RESPONSIBLE_SHARE` (30 %) also
  name a main responsible person; :data:`CHANGE_SHARE` (8 %) change their legal
  representative once (``representative_ended`` then ``representative_appointed`` the same
  day); one person may represent several enterprises (assumptions);
* :data:`DEREGISTERED_SHARE` (2 %) are deregistered (``organisation_status``) and have no
  case and no rating (assumption);
* :data:`CASE_SHARE` (4 %) have an enforcement case (a ``court_judgment`` at least 60 days
  after registration, amounts log-normal around 300,000 CNY); :data:`FINDING_SHARE` (50 %) of
  these lead to a dishonesty finding 30–365 days later and :data:`PERFORMED_SHARE` (20 %) of
  the findings are later fully performed, so that about 1 % of enterprises are actively
  listed (assumption: the SPC publishes listed entities beside listed people, but we could not
  check a share of enterprises);
* the tax authority rates every enterprise registered before the rating year (the last one
  published by April of ``as_of``'s year, STA Measures for the Administration of Tax Credit,
  annual evaluation) in April of the next year: grade A for :data:`A_GRADE_SHARE` (8 %), B
  62 %, M 22 %, C 5 %, D 3 %; an enterprise with a dishonesty finding before the rating is
  graded D (assumption: the STA announces A-grade taxpayers by the million each year against
  tens of millions of enterprises; the exact shares are uncertain).

The module imports no store module: it writes furnisher rows, the registry reads them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.simulate.courts import COURTS, LISTING_YEARS
from socialcredit.simulate.dates import shift_years
from socialcredit.simulate.identifiers import REGIONS
from socialcredit.simulate.people import PeopleBlock
from socialcredit.simulate.records import FurnisherSpec

__all__ = [
    "A_GRADE_SHARE",
    "CASE_SHARE",
    "ENTERPRISES_PER_PERSON",
    "ENTERPRISE_SPECS",
    "MARKET_REGULATOR",
    "TAX_AUTHORITY",
    "EnterpriseBlock",
    "enterprises_block",
    "uscc_check",
]

ENTERPRISES_PER_PERSON = 0.041
LLC_SHARE = 0.85
MAIN_RESPONSIBLE_SHARE = 0.30
CHANGE_SHARE = 0.08
DEREGISTERED_SHARE = 0.02
CASE_SHARE = 0.04
FINDING_SHARE = 0.5
PERFORMED_SHARE = 0.2
A_GRADE_SHARE = 0.08
_GRADES = (("A", A_GRADE_SHARE), ("B", 0.62), ("M", 0.22), ("C", 0.05), ("D", 0.03))
_FORMS = (("limited_liability", "有限公司", LLC_SHARE),
          ("joint_stock_limited", "股份有限公司", 0.05),
          ("partnership", "合伙企业", 0.05),
          ("other", "经营部", 0.05))
_TRADE = tuple("华信联达恒泰盛鑫源宏瑞丰通德安创科新金天海博中美汇嘉捷永兴和")
_INDUSTRY = ("科技", "商贸", "建设工程", "物业管理", "餐饮管理", "电子商务", "贸易", "实业",
             "投资管理", "文化传媒", "物流", "机械设备", "房地产开发", "食品", "咨询服务")
_CITY = {"乌鲁": "乌鲁木齐"}

MARKET_REGULATOR = "regulator-samr"
TAX_AUTHORITY = "tax-sta"
#: The two regulators, in manifest order (after every furnisher of people).
ENTERPRISE_SPECS: tuple[FurnisherSpec, ...] = (
    FurnisherSpec(MARKET_REGULATOR, "regulator", "csv",
                  ("organisation_registered", "organisation_status", "representative_appointed",
                   "representative_ended"), "SAMR", ("organisation",)),
    FurnisherSpec(TAX_AUTHORITY, "regulator", "csv", ("tax_credit_rating",), "STA",
                  ("organisation",)),
)

#: GB 32100-2015 check: the 31 characters (no I, O, S, V, Z) and the weights 3^i mod 31.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], np.int64)
#: GB 11714-1997 organisation code check: weights of the eight body characters.
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2], np.int64)
_SERIAL_SPACE = 31 ** 6
_SERIAL_STEP = 387_420_489  # 3^18: coprime with 31, scatters consecutive serials
_EPOCH = dt.date(1970, 1, 1)


@dataclass
class EnterpriseBlock:
    """One block's enterprise rows: furnisher name → spool columns (see
    :mod:`socialcredit.simulate.spool`), and ``restricted``: block indices of the people who
    represent an enterprise whose listing runs on ``as_of`` (they buy tickets like the listed)."""

    columns: dict[str, dict[str, pa.Array]] = field(default_factory=dict)
    restricted: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


def uscc_check(body: np.ndarray) -> np.ndarray:
    """GB 32100-2015 check character index (into the 31-character alphabet) of each row of
    ``body``: an ``(n, 17)`` array of character values 0–30."""
    return (31 - (body * _USCC_WEIGHTS).sum(axis=1) % 31) % 31


def _codes(serials: np.ndarray, regions: np.ndarray) -> pa.Array:
    """Unified social credit codes of enterprises number ``serials`` seated in ``regions``."""
    n = len(serials)
    scrambled = (serials * _SERIAL_STEP) % _SERIAL_SPACE
    digits = np.stack([(scrambled // 31 ** (5 - i)) % 31 for i in range(6)], axis=1)
    org = np.concatenate([np.tile([21, 10], (n, 1)), digits], axis=1)  # "MA" + six
    # GB 11714: letters count A=10 … Z=35 (the USCC alphabet skips I, O, S, V, Z)
    alpha = np.array([int(c, 36) for c in _ALPHABET])
    total = (alpha[org] * _ORG_WEIGHTS).sum(axis=1)
    check = 11 - total % 11
    check_idx = np.where(check == 10, _ALPHABET.index("X"), np.where(check == 11, 0, check))
    region_digits = np.stack([(regions // 10 ** (5 - i)) % 10 for i in range(6)], axis=1)
    body = np.concatenate([np.tile([9, 1], (n, 1)), region_digits, org, check_idx[:, None]],
                          axis=1)
    full = np.concatenate([body, uscc_check(body)[:, None]], axis=1)
    chars = np.array(list(_ALPHABET))[full]
    return pa.array(["".join(row) for row in chars], pa.string())


def _pick(rng: np.random.Generator, values: tuple[str, ...], n: int) -> pa.Array:
    return pa.array(np.array(values)[rng.integers(0, len(values), n)], pa.string())


def _names(rng: np.random.Generator, seats: np.ndarray, form: np.ndarray) -> pa.Array:
    city = np.array([_CITY.get(name[:2], name[:2]) for _, name in REGIONS])[seats]
    trade = [_pick(rng, _TRADE, len(seats)) for _ in range(2)]
    words = np.array([w for _, w, _ in _FORMS])[form]
    return pc.binary_join_element_wise(pa.array(city), *trade, _pick(rng, _INDUSTRY, len(seats)),
                                       pa.array(words), "")


def _days(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32))


def _rows(kind: str, days: np.ndarray, codes: pa.Array, names: pa.Array, at: np.ndarray,
          **fields: pa.Array | np.ndarray) -> dict[str, pa.Array]:
    """Spool columns of rows of ``kind`` about the enterprises at ``at``."""
    take = pa.array(at)
    cols: dict[str, pa.Array] = {
        "_day": _days(days), "kind": pa.array([kind] * len(at), pa.string()),
        "occurred_at": pa.array(days.astype(np.int32), pa.date32()),
        "organisation_id": codes.take(take), "name": names.take(take)}
    cols.update({k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in fields.items()})
    return cols


def _concat(parts: list[dict[str, pa.Array]], block: int, base: int) -> dict[str, pa.Array]:
    """Row sets of one furnisher, in generation order, with block-unique ``_key``s from
    ``base``; absent columns null."""
    names = list(dict.fromkeys(k for p in parts for k in p))
    out: dict[str, pa.Array] = {}
    for name in names:
        typ = next((p[name].type for p in parts
                    if name in p and p[name].type != pa.null()), pa.string())
        out[name] = pa.concat_arrays([
            p[name] if name in p and p[name].type == typ else pa.nulls(len(p["_day"]), typ)
            for p in parts])
    n = len(out["_day"])
    out["_key"] = pa.array((block << 32) + base + np.arange(n, dtype=np.int64))
    return out


def enterprises_block(rng: np.random.Generator, block: PeopleBlock, as_of: dt.date,
                      serial: list[int], counters: dict[tuple[int, int], int]
                      ) -> EnterpriseBlock:
    """The enterprises seated among ``block``'s people (module docstring for the figures):
    rows of :data:`MARKET_REGULATOR`, :data:`TAX_AUTHORITY` and of the courts of
    :data:`~socialcredit.simulate.courts.COURTS` (keys from ``1 << 31`` so that they never meet
    the court's own rows of the block). ``serial``: one-element list, the enterprises numbered
    so far (advanced); ``counters``: (court index, year) → last case number, shared with the
    courts' cases of people (advanced)."""
    first, last = (shift_years(as_of, -4) - _EPOCH).days, (as_of - _EPOCH).days
    n_people = len(block)
    m = int(n_people * ENTERPRISES_PER_PERSON + rng.random())
    out = EnterpriseBlock()
    adults = np.nonzero(block.birth <= (shift_years(as_of, -25) - _EPOCH).days)[0]
    if m == 0 or len(adults) == 0:
        return out
    serials = serial[0] + np.arange(m, dtype=np.int64)
    serial[0] += m
    codes = [int(c) for c, _ in REGIONS]
    seats = rng.integers(0, len(codes), m)
    form = rng.choice(len(_FORMS), m, p=[w for _, _, w in _FORMS])
    uscc = _codes(serials, np.array(codes, np.int64)[seats])
    names = _names(rng, seats, form)
    reg = rng.integers(first, last - 30, m)
    everyone = np.arange(m)
    rep = adults[rng.integers(0, len(adults), m)]
    ids, pnames = block.national_id, block.name

    def appoint(at: np.ndarray, days: np.ndarray, who: np.ndarray, role: str,
                kind: str = "representative_appointed") -> dict[str, pa.Array]:
        fields: dict[str, pa.Array | np.ndarray] = {
            "role": pa.array([role] * len(at), pa.string()),
            "representative_id": ids.take(pa.array(who))}
        if kind == "representative_appointed":
            fields["representative_name"] = pnames.take(pa.array(who))
        return _rows(kind, days, uscc, names, at, **fields)

    regulator = [
        _rows("organisation_registered", reg, uscc, names, everyone,
              legal_form=pa.array(np.array([f for f, _, _ in _FORMS])[form], pa.string())),
        appoint(everyone, reg, rep, "legal_representative")]
    mrp_at = np.nonzero(rng.random(m) < MAIN_RESPONSIBLE_SHARE)[0]
    mrp = adults[rng.integers(0, len(adults), len(mrp_at))]
    regulator.append(appoint(mrp_at, reg[mrp_at], mrp, "main_responsible_person"))
    change_at = np.nonzero((rng.random(m) < CHANGE_SHARE) & (reg < last - 60))[0]
    change_day = rng.integers(reg[change_at] + 30, last + 1)
    new_rep = adults[rng.integers(0, len(adults), len(change_at))]
    regulator.append(appoint(change_at, change_day, rep[change_at], "legal_representative",
                             "representative_ended"))
    regulator.append(appoint(change_at, change_day, new_rep, "legal_representative"))
    current = rep.copy()
    current[change_at] = new_rep
    gone = rng.random(m) < DEREGISTERED_SHARE
    gone_at = np.nonzero(gone & (reg < last - 90))[0]
    regulator.append(_rows("organisation_status", rng.integers(reg[gone_at] + 90, last + 1),
                           uscc, names, gone_at,
                           status=pa.array(["deregistered"] * len(gone_at), pa.string())))
    out.columns[MARKET_REGULATOR] = _concat(regulator, block.index, 0)

    found_on, listed = _cases(rng, out, uscc, names, reg, ~gone, as_of, block.index, counters)
    out.columns[TAX_AUTHORITY] = _ratings(rng, uscc, names, reg, ~gone, found_on, as_of,
                                          block.index)
    people = np.concatenate([current[listed],
                             mrp[np.isin(mrp_at, np.nonzero(listed)[0])]])
    out.restricted = np.unique(people)
    return out


def _cases(rng: np.random.Generator, out: EnterpriseBlock, uscc: pa.Array, names: pa.Array,
           reg: np.ndarray, eligible: np.ndarray, as_of: dt.date, block: int,
           counters: dict[tuple[int, int], int]) -> tuple[np.ndarray, np.ndarray]:
    """Court rows of the enterprises' cases, added to ``out.columns``; returns each
    enterprise's finding day (days since 1970; a large value for none) and the mask of those
    whose listing runs on ``as_of``."""
    m = len(reg)
    last = (as_of - _EPOCH).days
    at = np.nonzero(eligible & (rng.random(m) < CASE_SHARE) & (reg < last - 90))[0]
    d0 = rng.integers(reg[at] + 60, last - 29)
    amount = (np.exp(rng.normal(np.log(300_000), 1.0, len(at))).round() * 100).astype(np.int64)
    finding = (rng.random(len(at)) < FINDING_SHARE)
    d1 = d0 + rng.integers(30, 366, len(at))
    finding &= d1 <= last
    performed = finding & (rng.random(len(at)) < PERFORMED_SHARE) & (d1 < last)
    d2 = np.where(performed, rng.integers(np.minimum(d1 + 1, last), last + 1), 0)
    ground = np.where(rng.random(len(at)) < 0.9, 1, 4)
    court = rng.integers(0, len(COURTS), len(at))
    years = (d0.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970)
    cases = []
    for c, y in zip(court.tolist(), years.tolist(), strict=True):
        counters[(c, y)] = counters.get((c, y), 0) + 1 + int(rng.integers(0, 40))
        cases.append(f"({y}){COURTS[c][1]}执{counters[(c, y)]}号")
    case = np.array(cases, dtype=object)
    found_on = np.full(m, np.iinfo(np.int64).max)
    found_on[at[finding]] = d1[finding]
    until = np.array([(shift_years(_EPOCH + dt.timedelta(days=int(d)), LISTING_YEARS) - _EPOCH)
                      .days for d in d1], np.int64)
    running = finding & ~performed & (until > last)
    listed = np.zeros(m, bool)
    listed[at[running]] = True
    for i, (name, _, _) in enumerate(COURTS):
        mine = court == i
        f, p = mine & finding, mine & performed
        money = {"currency": pa.array(["CNY"] * int(mine.sum()), pa.string())}
        parts = [_rows("court_judgment", d0[mine], uscc, names, at[mine],
                       case_number=pa.array(case[mine], pa.string()),
                       amount_minor=amount[mine], **money),
                 _rows("dishonesty_finding", d1[f], uscc, names, at[f],
                       case_number=pa.array(case[f], pa.string()), ground=ground[f],
                       amount_minor=amount[f], currency=pa.array(["CNY"] * int(f.sum())),
                       debtor_role=pa.array(["debtor"] * int(f.sum()), pa.string())),
                 _rows("judgment_performance", d2[p], uscc, names, at[p],
                       case_number=pa.array(case[p], pa.string()), amount_minor=amount[p],
                       currency=pa.array(["CNY"] * int(p.sum())),
                       full=np.ones(int(p.sum()), bool))]
        out.columns[name] = _concat(parts, block, 1 << 31)
    return found_on, listed


def _ratings(rng: np.random.Generator, uscc: pa.Array, names: pa.Array, reg: np.ndarray,
             eligible: np.ndarray, found_on: np.ndarray, as_of: dt.date,
             block: int) -> dict[str, pa.Array]:
    """``tax_credit_rating`` rows of the last rating year published by ``as_of`` (in April)."""
    year = as_of.year - 1 if as_of >= dt.date(as_of.year, 4, 30) else as_of.year - 2
    start = (dt.date(year + 1, 4, 1) - _EPOCH).days
    end = min((dt.date(year + 1, 4, 30) - _EPOCH).days, (as_of - _EPOCH).days)
    at = np.nonzero(eligible & (reg < (dt.date(year, 1, 1) - _EPOCH).days))[0]
    day = rng.integers(start, end + 1, len(at))
    grade = np.array([g for g, _ in _GRADES])[rng.choice(len(_GRADES), len(at),
                                                         p=[w for _, w in _GRADES])]
    grade[found_on[at] < day] = "D"
    return _concat([_rows("tax_credit_rating", day, uscc, names, at,
                          rating_year=np.full(len(at), year, np.int64),
                          grade=pa.array(grade, pa.string()))], block, 0)
