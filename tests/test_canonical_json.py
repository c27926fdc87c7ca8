"""The ledger's canonical JSON (store/ledger.py) writes exactly what the standard library's
encoder wrote: every stored payload, event hash and content hash was made with it, so a byte
of difference would make a re-sent row look new, or a replayed payload differ. Its reader,
``parse_json``, reads what ``json.loads`` reads, value for value and refusal for refusal."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.store.ledger import canonical_json, parse_json

REFERENCE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(
    ["", "张丽", "(2026)京0105执300号", "a\x00\x1f\x7f", "\u2028\u2029", "\ud800", "x\udfffy",
     "\U0001f600", "\ufeff", "1e-07", "e-1"])
_scalars = (st.none() | st.booleans() | st.integers() | _text
            | st.floats(allow_nan=False, allow_infinity=False)
            | st.sampled_from([1e-7, 2.5e-10, 1e16, 1e22, -0.0, 5e-324, 0.1, 1e-06, 2**64,
                               -(2**63) - 1]))
values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(_text, inner, max_size=4), max_leaves=20)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_canonical_json_is_the_reference_encoding(value: object) -> None:
    assert canonical_json(value) == REFERENCE.encode(value)


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [1, 2, {"z": None, "é": True}]},
    {"match_probability": 1e-06, "match_weight": 12.5},   # a negative exponent
    {"big": 2**70},                                         # beyond 64 bits: orjson refuses
    {"text": "lone \ud800 surrogate"},                      # orjson refuses
    {1: "an integer key", 2: "text"},                       # orjson refuses non-text keys
    {1.5: "a float key"},
    ("a", "tuple"),
])
def test_values_orjson_writes_differently_go_to_the_reference(value: object) -> None:
    assert canonical_json(value) == REFERENCE.encode(value)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_float_is_written_null_as_json_has_no_such_number(value: float) -> None:
    assert canonical_json({"weight": value}) == '{"weight":null}'


@dataclasses.dataclass
class _Point:
    x: int


@pytest.mark.parametrize("value", [dt.date(2026, 1, 1), {"at": dt.datetime(2026, 1, 1)},
                                   _Point(1), {1: "mixed keys", "2": "cannot be sorted"}])
def test_what_the_reference_refuses_is_still_refused(value: object) -> None:
    with pytest.raises(TypeError):
        REFERENCE.encode(value)
    with pytest.raises(TypeError):
        canonical_json(value)


def _read(reader: object, text: str) -> tuple[str, object]:
    try:
        return "value", reader(text)  # type: ignore[operator]
    except (ValueError, RecursionError) as e:  # json.JSONDecodeError is a ValueError
        return "refused", type(e).__name__


def _same(a: object, b: object) -> bool:
    """Equal values of equal types all the way down (1 and 1.0 and True differ; NaN is NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    if isinstance(a, list):
        return len(a) == len(b) and all(map(_same, a, b))  # type: ignore[arg-type]
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)  # type: ignore[arg-type]
    return a == b


_json_texts = values.map(REFERENCE.encode) | st.sampled_from([
    '{"a":1,"a":2}', '{"A":1,"a":2}', "[1,]", "NaN", "-Infinity", "1e400", '"\\ud800"',
    '"\\udfff x"', "123456789012345678901234567890", "-9223372036854775809", "1.0", "1E2",
    "-0", "01", '"a\x01b"', "\ufeff{}", " {} ", "[" * 2000 + "]" * 2000, '{"k": "12.5"}',
    '{"amount": 1234.0}', "9" * 5000, "", "tru", '{"a":"\x7f\u2028"}'])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_texts)
def test_parse_json_reads_what_the_reference_reads(text: str) -> None:
    mine, ref = _read(parse_json, text), _read(json.loads, text)
    assert mine[0] == ref[0], (text[:80], mine, ref)
    assert _same(mine[1], ref[1]) if mine[0] == "value" else mine[1] == ref[1]
