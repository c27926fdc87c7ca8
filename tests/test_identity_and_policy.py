"""Identifier schemes, phones, and policy-file validation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from conftest import make_id
from socialcredit.errors import ConfigError, IdentifierError
from socialcredit.identity import normalise_phone, scheme_for
from socialcredit.policy.model import load_policy
from socialcredit.settings import DEFAULT_POLICY_PATH

CN = scheme_for("cn.ric")


@given(st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)), st.integers(0, 999))
def test_valid_ids_round_trip_with_birth_date_and_sex(birth: dt.date, seq: int) -> None:
    nid = make_id(birth=birth.strftime("%Y%m%d"), seq=seq)
    parsed = CN.parse(nid.lower())
    assert parsed.value == nid and parsed.birth_date == birth
    assert parsed.sex == ("M" if seq % 2 else "F")


@given(st.dates(dt.date(1900, 1, 1), dt.date(1999, 12, 31)), st.integers(0, 999))
def test_every_wrong_check_character_is_refused(birth: dt.date, seq: int) -> None:
    nid = make_id(birth=birth.strftime("%Y%m%d"), seq=seq)
    for wrong in "0123456789X":
        if wrong != nid[-1]:
            with pytest.raises(IdentifierError) as err:
                CN.parse(nid[:-1] + wrong)
            assert err.value.details["reason"] == "check_character"


def test_legacy_15_digit_form_is_upgraded() -> None:
    full = make_id(birth="19650708", seq=21)
    legacy = full[:6] + full[8:17]
    parsed = CN.parse(legacy)
    assert parsed.value == full and parsed.upgraded_from_15 and ric.is_valid(full)


@pytest.mark.parametrize(("raw", "reason"), [
    ("11010519490231002X", "birth_date"), ("1101051949", "length"), ("ABC", "length")])
def test_malformed_ids(raw: str, reason: str) -> None:
    with pytest.raises(IdentifierError) as err:
        CN.parse(raw)
    assert err.value.details["reason"] == reason


def test_other_schemes() -> None:
    assert scheme_for("generic", r"[0-9]{7}").parse(" 530-4218 ").value == "5304218"
    with pytest.raises(IdentifierError):
        scheme_for("generic", r"[0-9]{7}").parse("12345")
    assert scheme_for("es.dni").parse("54362315K").value == "54362315K"
    with pytest.raises(ConfigError):
        scheme_for("xx.nothing")
    with pytest.raises(ConfigError):
        scheme_for("generic")


def test_phones() -> None:
    assert normalise_phone("138 1234 5678") == "+8613812345678"
    assert normalise_phone("+44 20 7946 0958") == "+442079460958"
    for bad in ("12", "phone", "+86 123"):
        with pytest.raises(IdentifierError):
            normalise_phone(bad)


def test_default_policy_has_the_catalogue_and_legal_bases() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    assert {"court_judgment", "dishonesty_finding", "judgment_performance", "loan_default",
            "loan_repayment", "fare_evasion", "unruly_passenger", "ride_rating"
            } <= set(policy.catalogue)
    assert all(k.legal_basis and k.retention_days > 0 for k in policy.catalogue.values())
    assert set(policy.lists["dishonest_judgment_debtors"].grounds) == {1, 2, 3, 4, 5, 6}
    assert {"air", "rail_hsr"} <= set(policy.services_of("dishonest_judgment_debtors"))
    assert policy.version_hash.startswith("sha256:")
    assert (Path(__file__).parents[1] / "policies" / "default.yaml").read_bytes() == \
        DEFAULT_POLICY_PATH.read_bytes()


@pytest.mark.parametrize(("change", "where"), [
    (lambda p: p["lists"]["unruly_passengers"].pop("period_years"),
     "lists.unruly_passengers"),
    (lambda p: p["sanctions"][0].update(services=["air", "moon"]), "unknown service 'moon'"),
    (lambda p: p["lists"]["unruly_passengers"]["trigger"].update(kind="tweet"),
     "unknown record kind 'tweet'"),
    (lambda p: p["catalogue"]["fare_evasion"].pop("legal_basis"),
     "catalogue.fare_evasion.legal_basis"),
    (lambda p: p["catalogue"]["ride_rating"]["fields"]["rating"].update(type="float"),
     "catalogue.ride_rating.fields.rating.type"),
])
def test_policy_errors_name_the_yaml_path(tmp_path: Path, change, where: str) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    change(data)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    assert where in err.value.message


def test_unreadable_policy(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("a: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(tmp_path / "bad.yaml")
