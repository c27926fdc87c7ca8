"""Synthetic CN identifiers: resident identity numbers and +86 mobile numbers.

Resident identity number (GB 11643-1999): 6-digit region code, birth date ``YYYYMMDD``,
3-digit sequence (odd last digit for men, even for women) and an ISO 7064 MOD 11-2 check
character (``0``–``9`` or ``X``) from ``stdnum.iso7064.mod_11_2``.  Region codes are real
county-level codes (MCA administrative division codes); python-stdnum also checks that a code
existed in the birth year (e.g. 510104 Chengdu Jinjiang only from 1990), so codes are only
used for birth years ``stdnum.cn.ric`` accepts, verified once per (code, year).

Mobile numbers use the MIIT-allocated 3-digit prefixes of China Mobile / Unicom / Telecom /
broadcasting, formatted E.164 (``+8613812345678``); each is checked with
``phonenumbers.is_valid_number``.
"""

from __future__ import annotations

import datetime as dt
import functools
import random

import phonenumbers
from stdnum.cn import ric
from stdnum.iso7064 import mod_11_2

__all__ = [
    "MOBILE_PREFIXES",
    "REGIONS",
    "national_id",
    "random_mobile",
    "region_valid",
    "with_wrong_check",
]

#: (6-digit region code, prefecture/county name) — real codes, mostly urban districts.
REGIONS: tuple[tuple[str, str], ...] = (
    ("110101", "北京市东城区"),
    ("110102", "北京市西城区"),
    ("110105", "北京市朝阳区"),
    ("110106", "北京市丰台区"),
    ("110108", "北京市海淀区"),
    ("120101", "天津市和平区"),
    ("120103", "天津市河西区"),
    ("120104", "天津市南开区"),
    ("310101", "上海市黄浦区"),
    ("310104", "上海市徐汇区"),
    ("310105", "上海市长宁区"),
    ("310107", "上海市普陀区"),
    ("310110", "上海市杨浦区"),
    ("310115", "上海市浦东新区"),
    ("440103", "广州市荔湾区"),
    ("440104", "广州市越秀区"),
    ("440106", "广州市天河区"),
    ("440303", "深圳市罗湖区"),
    ("440304", "深圳市福田区"),
    ("440305", "深圳市南山区"),
    ("510104", "成都市锦江区"),
    ("510107", "成都市武侯区"),
    ("510121", "成都市金堂县"),
    ("500103", "重庆市渝中区"),
    ("320102", "南京市玄武区"),
    ("330106", "杭州市西湖区"),
    ("330122", "杭州市桐庐县"),
    ("420106", "武汉市武昌区"),
    ("430121", "长沙市长沙县"),
    ("610113", "西安市雁塔区"),
    ("410105", "郑州市金水区"),
    ("370102", "济南市历下区"),
    ("370202", "青岛市市南区"),
    ("210102", "沈阳市和平区"),
    ("350203", "厦门市思明区"),
    ("350121", "福州市闽侯县"),
    ("360121", "南昌市南昌县"),
    ("340121", "合肥市长丰县"),
    ("530124", "昆明市富民县"),
    ("620121", "兰州市永登县"),
    ("650121", "乌鲁木齐县"),
    ("140121", "太原市清徐县"),
)

#: Mobile prefixes (1 + 2 digits) with rough integer weights by subscriber base.  Every
#: 11-digit number under these prefixes is valid for ``phonenumbers`` (its CN mobile pattern
#: only looks at the first three digits here; ``tests/test_simulate.py`` checks each number).
MOBILE_PREFIXES: tuple[tuple[int, int], ...] = (
    *((p, 6) for p in range(130, 140)),
    *((p, 4) for p in (150, 151, 152, 153, 155, 156, 157, 158, 159)),
    *((p, 5) for p in range(180, 190)),
    *((p, 2) for p in (166, 176, 177, 178, 191, 193, 195, 198, 199)),
)
_PREFIX_POOL = tuple(p * 100_000_000 for p, w in MOBILE_PREFIXES for _ in range(w))
_CHECK_CHARS = "0123456789X"


def national_id(region: str, birth: dt.date, sequence: int) -> str:
    """Return the 18-character identity number for ``region``, ``birth`` and ``sequence``
    (1–999; odd for men, even for women), check character included."""
    body = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return body + mod_11_2.calc_check_digit(body)


@functools.lru_cache(maxsize=4096)
def region_valid(region: str, year: int) -> bool:
    """Whether ``stdnum.cn.ric.validate`` accepts ``region`` for a person born in ``year``."""
    return ric.is_valid(national_id(region, dt.date(year, 6, 15), 1))


def random_mobile(rng: random.Random) -> str:
    """Return a valid CN mobile number in E.164 form, e.g. ``"+8613812345678"``."""
    while True:
        national = rng.choice(_PREFIX_POOL) + rng.randrange(100_000_000)
        number = phonenumbers.PhoneNumber(country_code=86, national_number=national)
        if phonenumbers.is_valid_number(number):
            return f"+86{national}"


def with_wrong_check(rng: random.Random, nid: str) -> str:
    """Return ``nid`` with its check character replaced by a different (wrong) one."""
    wrong = rng.choice([c for c in _CHECK_CHARS if c != nid[-1]])
    return nid[:-1] + wrong
