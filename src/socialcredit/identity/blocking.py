"""Blocking rules that stay near-linear at national scale (issue #12, item 4).

Fellegi-Sunter scoring compares only the pairs that share a *block key*; the cost of a linkage
run is the number of those pairs. A rule whose block grows with the population makes the run
quadratic: on a key "same date of birth and same family name", the Wangs (about 7 % of China's
1.4 billion people, so ~100 M) born on one day are ~4,500 people, and those ~10 M pairs recur
for every one of ~30,000 birth dates. Linkage of 5 M records on such rules was stopped after
37 min and 22 GB (issue #12).

Two things keep the comparisons near-linear:

1. **Narrow keys.** Every rule joins a name with a date of birth (or a part of it and the rest
   of the name), an identifier, or a place. The commonest full name, Zhang Wei (~294,000
   people, China's 2019 household-register name report; figure as reported in the press),
   shares one day of birth with about ten people nationwide. The two rules that pair one half
   of a name with a date of birth (they catch a typo in the other half) have a twin that adds
   the region code (the first six characters of the national ID, the county of first
   registration, GB/T 2260) for when the wide rule's block is capped.
2. **A cap.** A block of more than ``max_block_people`` records (both sides counted) is
   skipped for that rule — its pairs are left to the other rules — and a warning names the
   rule, the block's key and its size. With every block at most ``c`` people, a rule makes at
   most ``c × N / 4`` comparisons over ``N`` records (the sum over blocks of ``n_l × n_r`` is at
   most ``c × Σ n / 4``), so a run is linear in ``N`` for a fixed cap. A capped key is shared
   by more than ``c`` records, so naming it (e.g. ``wang | 1985-03-12``) identifies no one.

The rule list is written once (:func:`scale_rules`) as SQL templates over one row's columns
(``{family_name}``…) that render identically on DuckDB and Spark: as Splink blocking SQL on
``l.``/``r.`` columns (:meth:`BlockRule.splink_sql`, used by the model's settings) and as the
expressions of a derived key column (:meth:`BlockRule.key_sql`, used by the batch scorer in
:mod:`socialcredit.identity.batch`, where a capped block's key is set to NULL so that the
equi-join never builds its pairs). Asymmetric rules (day and month swapped, family and given
name reversed) key the two sides differently: their block is the left records with key ``k``
on their left key and the right records with ``k`` on their right key, capped the same way.
"""

from __future__ import annotations

import string
from collections.abc import Collection
from dataclasses import dataclass

__all__ = ["MAX_BLOCK_PEOPLE", "BlockRule", "scale_rules"]

#: Default cap: records (both sides) in one block of one rule. Above the ~410 Zhang Wei a
#: full national register has per month of birth (294,000 / 720 months), below the ~4,500
#: Wangs born on one day (the date of birth + family name rule, whose region twin takes over).
MAX_BLOCK_PEOPLE = 1_000
_SEP = "'\x1f'"  # unit separator between key parts (never inside a name, date or ID)

_FAM, _GIV, _DOB, _NID = "{family_name}", "{given_name}", "{birth_date}", "{national_id}"
_YEAR, _MONTH, _DAY = (f"substr({_DOB}, 1, 4)", f"substr({_DOB}, 6, 2)",
                       f"substr({_DOB}, 9, 2)")
_REGION = f"substr({_NID}, 1, 6)"


@dataclass(frozen=True)
class BlockRule:
    """One blocking rule: ``left`` and ``right`` are SQL templates of the key parts of each
    side (``right`` None: the same as ``left``): a pair is in the block when the left
    record's left key equals the right record's right key."""

    label: str
    left: tuple[str, ...]
    right: tuple[str, ...] | None = None

    @property
    def symmetric(self) -> bool:
        return self.right is None

    @property
    def columns(self) -> frozenset[str]:
        """The frame columns the rule reads."""
        parts = (*self.left, *(self.right or ()))
        return frozenset(f for p in parts for _, f, _, _ in string.Formatter().parse(p) if f)

    @staticmethod
    def _render(template: str, prefix: str) -> str:
        return template.format_map({c: f"{prefix}{c}" for c in
                                    (f for _, f, _, _ in string.Formatter().parse(template)
                                     if f)})

    def splink_sql(self) -> str:
        """Splink blocking SQL: ``<left part on l.> = <right part on r.> AND …``."""
        right = self.right or self.left
        return " AND ".join(f"{self._render(a, 'l.')} = {self._render(b, 'r.')}"
                            for a, b in zip(self.left, right, strict=True))

    def key_sql(self, side: str = "left", prefix: str = "") -> str:
        """One text key of a row (NULL when any part is NULL), the same on DuckDB and
        Spark: ``CASE WHEN p1 IS NOT NULL AND … THEN concat_ws(<US>, p1, …) END``; columns
        prefixed with ``prefix`` (e.g. ``"s."``)."""
        parts = [self._render(p, prefix) for p in
                 (self.left if side == "left" or self.right is None else self.right)]
        present = " AND ".join(f"{p} IS NOT NULL" for p in parts)
        return f"CASE WHEN {present} THEN concat_ws({_SEP}, {', '.join(parts)}) END"


def scale_rules(columns: Collection[str]) -> list[BlockRule]:
    """The blocking rules for frames carrying ``columns`` (see the module docstring), in
    Splink's order: a pair is scored once, under the first rule that finds it."""
    c = set(columns)
    names = {"family_name", "given_name"} <= c
    rules: list[BlockRule] = []
    if "national_id" in c:
        rules += [BlockRule("national ID", (_NID,)),
                  BlockRule("ID region + last four characters",
                            (_REGION, f"right({_NID}, 4)"))]
    if "phone" in c:
        rules.append(BlockRule("phone", ("{phone}",)))
    if names and "birth_date" in c:
        # same name and a date of birth with at most one typo (or day/month swapped): one of
        # these four keys survives it
        rules += [
            BlockRule("full name + year and month of birth",
                      (_FAM, _GIV, f"substr({_DOB}, 1, 7)")),
            BlockRule("full name + month and day of birth",
                      (_FAM, _GIV, f"substr({_DOB}, 6, 5)")),
            BlockRule("full name + year and day of birth", (_FAM, _GIV, _YEAR, _DAY)),
            BlockRule("full name + date of birth, day and month swapped",
                      (_FAM, _GIV, _YEAR, _MONTH, _DAY), (_FAM, _GIV, _YEAR, _DAY, _MONTH)),
            BlockRule("date of birth + family name", (_DOB, _FAM)),
            BlockRule("date of birth + given name", (_DOB, _GIV)),
        ]
        if "national_id" in c:
            rules += [BlockRule("date of birth + family name + ID region", (_DOB, _FAM, _REGION)),
                      BlockRule("date of birth + given name + ID region", (_DOB, _GIV, _REGION))]
    if names:
        if "birth_date" in c:
            rules.append(BlockRule("family and given name reversed + date of birth",
                                   (_FAM, _GIV, _DOB), (_GIV, _FAM, _DOB)))
        else:
            rules.append(BlockRule("family and given name reversed", (_FAM, _GIV), (_GIV, _FAM)))
        for place in ("postcode", "address"):
            if place in c:
                rules += [BlockRule(f"{place} + family name", (f"{{{place}}}", _FAM)),
                          BlockRule(f"{place} + given name", (f"{{{place}}}", _GIV))]
    if "birth_date" in c:
        for place in ("postcode", "suburb", "address"):
            if place in c:
                rules.append(BlockRule(f"date of birth + {place}", (_DOB, f"{{{place}}}")))
        if not names:
            rules.append(BlockRule("date of birth", (_DOB,)))
    if {"address", "postcode"} <= c:
        rules.append(BlockRule("address + postcode", ("{address}", "{postcode}")))
    return rules
