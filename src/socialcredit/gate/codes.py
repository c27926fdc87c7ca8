"""Identifier keys as 64-bit integers, for the compact gate index.

Exact (invertible) encodings, the kind in the top 4 bits:

* ``national_id`` of 17 digits and a check character ``0-9``/``X`` (CN resident ID, GB 11643):
  ``int(first 17 digits) * 11 + check`` (tag 1);
* ``national_id`` of up to 16 digits (generic schemes): ``int(digits) * 18 + length`` (tag 2);
* ``phone`` in E.164 (``+`` and up to 15 digits, ITU-T E.164): ``int(digits) * 16 + length``
  (tag 3);
* anything else (document numbers, other schemes): the first 60 bits of BLAKE2b (tag 15). Such
  codes are *not* exact; the index keeps their strings and checks them before any deny.

:func:`encode_cn_ids` encodes and validates a whole batch of CN resident IDs with NumPy (check
character per ISO 7064 MOD 11-2, and a real calendar birth date) for the batched gate path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["EXACT_TAGS", "HASHED_TAG", "encode_cn_ids", "encode_key"]

_CHECK = "0123456789X"
_TAG_SHIFT = 60
_LOW = (1 << _TAG_SHIFT) - 1
EXACT_TAGS = frozenset({1, 2, 3})
HASHED_TAG = 15
# ISO 7064 MOD 11-2 weights of the 17 digits: 2^(17-i) mod 11
_WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
_PARTS = np.zeros((17, 6), dtype=np.float64)
_PARTS[:, 0] = _WEIGHTS
_PARTS[:9, 1] = [10 ** (8 - i) for i in range(9)]
_PARTS[9:, 2] = [10 ** (7 - i) for i in range(8)]
_PARTS[6:10, 3] = [1000, 100, 10, 1]
_PARTS[10:12, 4] = [10, 1]
_PARTS[12:14, 5] = [10, 1]
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int32)


def encode_key(key: str) -> int:
    """The 64-bit code of an index key ``"<kind>:<value>"`` (see the module docstring)."""
    kind, _, v = key.partition(":")
    if kind == "national_id":
        if len(v) == 18 and v[:17].isdigit() and v[17] in _CHECK:
            return (1 << _TAG_SHIFT) | (int(v[:17]) * 11 + _CHECK.index(v[17]))
        if v.isdigit() and len(v) <= 16:
            return (2 << _TAG_SHIFT) | (int(v) * 18 + len(v))
    elif kind == "phone" and v[:1] == "+" and v[1:].isdigit() and len(v) <= 16:
        return (3 << _TAG_SHIFT) | (int(v[1:]) * 16 + len(v) - 1)
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return (HASHED_TAG << _TAG_SHIFT) | (digest & _LOW)


def is_exact(code: int) -> bool:
    return (code >> _TAG_SHIFT) in EXACT_TAGS


def encode_cn_ids(ids: Sequence[str] | npt.NDArray[np.bytes_],
                  ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """Encode a batch of 18-character CN resident IDs; return ``(codes, valid)``.

    ``valid[i]`` is False for a wrong length or character, a wrong check character, or an
    impossible birth date (then ``codes[i]`` is 0). Lower-case ``x`` is accepted.
    """
    raw = np.asarray(ids, dtype="S18")
    a = raw.view(np.uint8).reshape(-1, 18)
    d8 = a[:, :17] - np.uint8(48)  # wraps below '0', so one comparison checks the range
    ok = (d8 <= 9).all(axis=1)
    # one float64 matrix product gives every number needed, each exact (< 2^53):
    # checksum, first 9 and last 8 digits of the value, year, month, day
    parts = (d8.astype(np.float64) @ _PARTS).astype(np.int64)
    last = a[:, 17].astype(np.int64)
    check = np.where((last == ord("X")) | (last == ord("x")), 10, last - 48)
    ok &= (check >= 0) & (check <= 10) & (check == (12 - parts[:, 0] % 11) % 11)
    year, month, day = parts[:, 3], parts[:, 4], parts[:, 5]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    longest = _DAYS_IN_MONTH[np.where(month_ok, month, 1)] + (leap & (month == 2))
    ok &= month_ok & (day >= 1) & (day <= longest) & (year >= 1)
    codes = ((parts[:, 1] * 10**8 + parts[:, 2]) * 11 + np.clip(check, 0, 10)).astype(
        np.uint64)
    codes |= np.uint64(1 << _TAG_SHIFT)
    codes[~ok] = 0
    return codes, ok
