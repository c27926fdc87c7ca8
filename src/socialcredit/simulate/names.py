"""Han-script personal names (family name first) with realistic frequencies.

Surname shares (per cent of the population) follow the Ministry of Public Security's household
registration name reports (《二〇二〇年全国姓名报告》 and earlier editions): 王, 李, 张, 刘 and 陈
together cover about 30 % of people.  The tail below lists further common surnames (ranks 21–100,
incl. two compound surnames) with decreasing weights; everything else is left out, so the tail
is heavier per surname than in reality.  Given names are one or two characters drawn from about
150 common characters with Zipf-like weights (伟, 芳, 娜, 敏 … first), so namesakes such as
张伟 or 王芳 occur just as they do in real registers.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SURNAMES", "GIVEN_FEMALE", "GIVEN_MALE", "GIVEN_NEUTRAL", "draw_names", "draw_names_np"]

#: (surname, approximate share of the population in per cent), MPS name reports.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.12),
    ("李", 7.00),
    ("张", 6.60),
    ("刘", 5.30),
    ("陈", 4.50),
    ("杨", 3.10),
    ("黄", 2.30),
    ("赵", 2.10),
    ("吴", 2.00),
    ("周", 1.90),
    ("徐", 1.40),
    ("孙", 1.30),
    ("马", 1.20),
    ("胡", 1.20),
    ("朱", 1.20),
    ("郭", 1.10),
    ("何", 1.00),
    ("罗", 0.90),
    ("高", 0.90),
    ("林", 0.90),
) + tuple(
    (s, round(0.85 - 0.0085 * i, 4))
    for i, s in enumerate(
        (
            *"郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
            "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔",
            "欧阳",
            "上官",
        )
    )
)

#: Given-name characters, most frequent first (weights fall off as 1/rank**0.8).
GIVEN_MALE: tuple[str, ...] = tuple(
    "伟强磊军勇杰涛斌超明刚平辉鹏华飞鑫波宇浩凯健俊帆帅旭龙峰建国"
    "志东亮成阳坤博振兵锋力彬栋晖睿毅松林庆德忠海江山文武荣生祥福"
)
GIVEN_FEMALE: tuple[str, ...] = tuple(
    "芳娜敏静丽艳娟霞秀英玲桂燕红梅莉婷雪琳慧洁萍倩颖琴兰莹佳悦怡"
    "凤蓉丹璐晶露瑶佩蕾薇妍彤雯琪珊菲茜爱翠珍淑娇美花玉香妮媛岚璇"
)
GIVEN_NEUTRAL: tuple[str, ...] = tuple(
    "晓小子一思雨天新欣嘉永安家立春秋冬金宏晨云心乐若舒星清泽诗宁"
)

_SINGLE_GIVEN_SHARE = 0.35  # share of one-character given names (common for 1960s–1990s births)


def _cum_zipf(n: int, exponent: float = 0.8) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank + 1) ** exponent for rank in range(n)))


def _dedupe(chars: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(chars))


_MALE = _dedupe(GIVEN_MALE)
_FEMALE = _dedupe(GIVEN_FEMALE)
_MALE_CUM = _cum_zipf(len(_MALE))
_FEMALE_CUM = _cum_zipf(len(_FEMALE))
_MALE_FIRST = _dedupe(GIVEN_NEUTRAL + _MALE)
_FEMALE_FIRST = _dedupe(GIVEN_NEUTRAL + _FEMALE)
_MALE_FIRST_CUM = _cum_zipf(len(_MALE_FIRST), 0.6)
_FEMALE_FIRST_CUM = _cum_zipf(len(_FEMALE_FIRST), 0.6)
_SURNAME_VALUES = tuple(s for s, _ in SURNAMES)
_SURNAME_CUM = list(itertools.accumulate(share for _, share in SURNAMES))


def draw_names(rng: random.Random, sexes: Sequence[str]) -> list[str]:
    """Return one Han name per entry of ``sexes`` (``"M"``/``"F"``), family name first,
    e.g. ``"张伟"``, ``"王秀英"``, ``"欧阳晓燕"``."""
    n = len(sexes)
    surnames = rng.choices(_SURNAME_VALUES, cum_weights=_SURNAME_CUM, k=n)
    male_last = rng.choices(_MALE, cum_weights=_MALE_CUM, k=n)
    female_last = rng.choices(_FEMALE, cum_weights=_FEMALE_CUM, k=n)
    male_first = rng.choices(_MALE_FIRST, cum_weights=_MALE_FIRST_CUM, k=n)
    female_first = rng.choices(_FEMALE_FIRST, cum_weights=_FEMALE_FIRST_CUM, k=n)
    names: list[str] = []
    for i, sex in enumerate(sexes):
        male = sex == "M"
        given = male_last[i] if male else female_last[i]
        if rng.random() >= _SINGLE_GIVEN_SHARE:
            given = (male_first[i] if male else female_first[i]) + given
        names.append(surnames[i] + given)
    return names


def _draw(rng: np.random.Generator, values: Sequence[str], cum: Sequence[float], n: int
          ) -> pa.Array:
    cum_arr = np.asarray(cum)
    idx = np.searchsorted(cum_arr, rng.random(n) * cum_arr[-1], side="right")
    return pc.take(pa.array(values), pa.array(np.minimum(idx, len(values) - 1)))


def draw_names_np(rng: np.random.Generator, male: np.ndarray) -> pa.Array:
    """:func:`draw_names` for a block: one Han name per entry of the boolean mask ``male``,
    same frequencies, drawn with NumPy; returns an Arrow string array."""
    n = len(male)
    is_male = pa.array(male)
    surname = _draw(rng, _SURNAME_VALUES, _SURNAME_CUM, n)
    last = pc.if_else(is_male, _draw(rng, _MALE, _MALE_CUM, n), _draw(rng, _FEMALE, _FEMALE_CUM, n))
    first = pc.if_else(
        is_male,
        _draw(rng, _MALE_FIRST, _MALE_FIRST_CUM, n),
        _draw(rng, _FEMALE_FIRST, _FEMALE_FIRST_CUM, n),
    )
    first = pc.if_else(pa.array(rng.random(n) < _SINGLE_GIVEN_SHARE), "", first)
    return pc.binary_join_element_wise(surname, first, last, "")
