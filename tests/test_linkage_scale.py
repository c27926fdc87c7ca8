"""Linkage at national scale (issue #12, item 4): capped blocking, the batch pass on DuckDB and
Spark, and ``socialcredit link --batch`` on a real registry.

Fixtures: a population made here with a seed — 400 namesakes "zhang wei" sharing one birth date
(a block far over a small cap) among ordinary people — in the shipped default model's columns;
the registry tests reuse the people and files of ``tests/test_linkage.py``. The Spark test runs
one local[2] session on a few hundred rows (slow: about a minute).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import TODAY
from socialcredit.api.registry import Registry
from socialcredit.identity.batch import BatchConfig, score_parquet
from socialcredit.identity.blocking import scale_rules
from socialcredit.identity.model import best_links
from socialcredit.identity.relink import _default_model
from test_linkage import ADDRESS, PHONE, A, _court, _ingest, _link, _loan, _one_typo, _subject_of

CAP = 60


def _population(n: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, subjects): ``n`` subjects, 400 of them "zhang wei" born 1985-03-12 in
    different regions; one record per subject, its ID typo'd, for the first ``n // 2``."""
    rng = np.random.default_rng(seed)
    fam = np.where(np.arange(n) < 400, "zhang", rng.choice(["li", "wang", "chen", "liu"], n))
    giv = np.where(np.arange(n) < 400, "wei", rng.choice(["na", "fang", "jun", "min", "li"], n))
    birth = np.where(np.arange(n) < 400, "1985-03-12", [
        f"19{rng.integers(50, 99)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        for _ in range(n)])
    nid = [f"{110101 + i % 3000}{b.replace('-', '')}{i % 1000:03d}X" for i, b in
           enumerate(birth)]
    subjects = pd.DataFrame({
        "unique_id": [f"s{i}" for i in range(n)], "family_name": fam, "given_name": giv,
        "full_name": [f"{a} {b}" for a, b in zip(fam, giv, strict=True)], "birth_date": birth,
        "national_id": nid, "phone": [f"+86138{i:08d}" for i in range(n)],
        "occurred_at": None, "phone_from": "2015-01-01", "phone_to": None,
        "address": [f"{i % 97} renmin lu" for i in range(n)]})
    records = subjects.iloc[: n // 2].copy()
    records["unique_id"] = [f"r{i}" for i in range(len(records))]
    records["national_id"] = [x[:9] + str((int(x[9]) + 1) % 10) + x[10:]
                              for x in records["national_id"]]
    records["phone"] = None
    records[["phone_from", "phone_to"]] = None
    records["occurred_at"] = "2026-01-10"
    return records, subjects


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("scale")
    records, subjects = _population(1200)
    records.to_parquet(folder / "r.parquet")
    subjects.to_parquet(folder / "s.parquet")
    return folder / "r.parquet", folder / "s.parquet"


def test_oversize_blocks_are_capped_named_and_links_survive(
        files: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = _default_model()
    with caplog.at_level(logging.WARNING, logger="socialcredit.identity.batch"):
        result = score_parquet(model, *files, tmp_path / "p.parquet", min_probability=0.5,
                               config=BatchConfig(max_block_people=CAP,
                                                  temp_directory=tmp_path / "spill"))
    capped = {c["rule"]: c for c in result.capped}
    # 400 + 400 zhang wei born on one day: every name + birth rule's block is capped, named
    assert capped["date of birth + family name"]["key"] == "1985-03-12 | zhang"
    assert capped["date of birth + family name"]["people"] == 800
    assert "full name + year and month of birth" in capped
    assert "full name + date of birth, day and month swapped" not in capped  # one-sided
    assert any("'1985-03-12 | zhang' (800 people)" in r.getMessage() for r in caplog.records)
    # linear: no rule makes more than cap × records / 4 comparisons
    rules = scale_rules(model.columns)
    assert result.comparisons <= len(rules) * CAP * (result.records + result.subjects) / 4
    # each namesake still finds their own subject (ID region + last four, not the name)
    links = best_links(pd.read_parquet(result.path))
    got = dict(zip(links["unique_id_l"], links["unique_id_r"], strict=True))
    assert all(got.get(f"r{i}") == f"s{i}" for i in range(600))


def test_without_the_cap_the_same_pairs_are_found_the_long_way(
        files: tuple[Path, Path], tmp_path: Path) -> None:
    model = _default_model()
    small = score_parquet(model, *files, tmp_path / "a.parquet", min_probability=0.5,
                          config=BatchConfig(max_block_people=CAP))
    large = score_parquet(model, *files, tmp_path / "b.parquet", min_probability=0.5,
                          config=BatchConfig(max_block_people=10_000))
    assert large.capped_blocks == 0 and large.comparisons > 5 * small.comparisons
    keys = ["unique_id_l", "unique_id_r"]
    with_cap = best_links(pd.read_parquet(small.path))[keys]
    without = best_links(pd.read_parquet(large.path))[keys]
    pd.testing.assert_frame_equal(with_cap, without)


def test_a_file_without_ids_is_a_clear_error(files: tuple[Path, Path], tmp_path: Path) -> None:
    from socialcredit.errors import InputError

    pd.DataFrame({"name": ["x"]}).to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="has no unique_id column"):
        score_parquet(_default_model(), tmp_path / "bad.parquet", files[1],
                      tmp_path / "o.parquet", min_probability=0.5)


def _backlog(registry: Registry, tmp_path: Path) -> None:
    """Records that arrive before their subject: a typo'd ID, a birth date contradicting the
    ID (review), and a stranger; then the court's record makes subject A."""
    _ingest(registry, "bank", "lender", tmp_path / "b.csv", [
        _loan("l1", national_id=_one_typo(A), name="Zhang Wei", phone=PHONE, address=ADDRESS),
        _loan("l2", name="李娜", phone="+8613900000000")])
    assert _subject_of(registry, "l1") is None
    _ingest(registry, "court", "court", tmp_path / "c.csv", [_court(A, "c1")])


def test_link_batch_links_the_backlog_like_the_chunked_path(registry: Registry,
                                                             tmp_path: Path) -> None:
    from socialcredit.identity.backlog import relink_backlog

    _backlog(registry, tmp_path)
    out = relink_backlog(registry.store, registry.policy, as_of=TODAY,
                         config=BatchConfig(temp_directory=tmp_path / "spill"), chunk=1)
    assert (out["linked"], out["unlinked"]) == (1, 1)
    assert _subject_of(registry, "l1") == A and _subject_of(registry, "l2") is None
    link = _link(registry, "l1")
    assert (link.rule, link.status) == ("probabilistic", "confirmed")
    again = relink_backlog(registry.store, registry.policy, as_of=TODAY)
    assert (again["linked"], again["unlinked"]) == (0, 1)  # l1 is no longer in the backlog
    from socialcredit.identity.review import unlink_record

    unlink_record(registry.store, registry.policy, _link(registry, "l1").record_id, by="op",
                  reason="not me", as_of=TODAY)
    third = relink_backlog(registry.store, registry.policy, as_of=TODAY)
    assert _subject_of(registry, "l1") is None  # a subject the operator refused stays refused
    assert third["linked"] == 0


def test_link_batch_from_the_cli_matches_link(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from socialcredit.cli import app
    from socialcredit.settings import Settings
    from socialcredit.store.tables import links, records

    outcomes = []
    for name, extra in (("chunked", []), ("batch", ["--batch", "--memory-limit", "1GB",
                                                    "--temp-dir", str(tmp_path / "t")])):
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        reg = Registry(Settings(database_url=url), today=TODAY)
        reg.ensure_schema()
        (tmp_path / name).mkdir()
        _backlog(reg, tmp_path / name)
        reg.close()
        res = CliRunner().invoke(app, ["--database-url", url, "link", *extra])
        assert res.exit_code == 0, res.output
        assert "Linked 1 records" in res.output
        reg = Registry(Settings(database_url=url), today=TODAY)
        with reg.store.read() as conn:
            outcomes.append(sorted(conn.execute(
                records.select().with_only_columns(records.c.furnisher_record_id,
                                                   records.c.subject_id, links.c.status)
                .outerjoin(links, links.c.record_id == records.c.id)).all()))
        reg.close()
    assert outcomes[0] == outcomes[1]



def test_spark_and_duckdb_give_identical_pairs(files: tuple[Path, Path], tmp_path: Path,
                                               ) -> None:
    pytest.importorskip("pyspark", reason="the Spark backend needs pip install "
                        "'socialcredit[spark]'")
    from socialcredit.identity.model import local_spark

    model = _default_model()
    small = [tmp_path / "r.parquet", tmp_path / "s.parquet"]
    pd.read_parquet(files[0]).iloc[300:].to_parquet(small[0])  # 100 namesakes + 200 others
    pd.read_parquet(files[1]).iloc[300:].to_parquet(small[1])
    duck = score_parquet(model, *small, tmp_path / "d.parquet", min_probability=0.01,
                         config=BatchConfig(max_block_people=CAP))
    spark = local_spark(tmp_path / "spark")
    try:
        on_spark = score_parquet(model, *small, tmp_path / "s.parquet", min_probability=0.01,
                                 config=BatchConfig(backend="spark", max_block_people=CAP),
                                 spark=spark)
    finally:
        spark.stop()
    assert on_spark.capped == duck.capped and on_spark.comparisons == duck.comparisons
    a, b = pd.read_parquet(duck.path), pd.read_parquet(on_spark.path)
    keys = ["unique_id_l", "unique_id_r"]
    a, b = (x.sort_values(keys).reset_index(drop=True) for x in (a, b))
    assert len(a) > 100
    labels = [c for c in a.columns if c.startswith("level_")]
    pd.testing.assert_frame_equal(a[keys + labels], b[keys + labels])
    assert np.allclose(a["match_weight"], b["match_weight"], rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(best_links(a)[keys], best_links(b)[keys])


def test_an_empty_backlog_scores_nothing(registry: Registry) -> None:
    from socialcredit.identity.backlog import relink_backlog

    out = relink_backlog(registry.store, registry.policy, as_of=TODAY)
    assert (out["records"], out["linked"], out["comparisons"]) == (0, 0, 0)
