"""Benchmark: policy evaluation rows/s on every engine, against a hand-written query (issue #4).

    python bench/evaluate.py [--subjects N] [--records M] [--large] [--skip-spark]
                             [--incremental-subjects K] [--database-url URL] [--cache-dir DIR]
                             [--json]

1. A synthetic columnar export (Parquet, the columns of
   :func:`socialcredit.policy.batch.record_schema` for the default policy) of ``--records``
   records over ``--subjects`` subjects is generated with one DuckDB SQL statement (seeded
   hashes, no Python loop) and cached in ``--cache-dir`` for later runs. The mix: ride-hail
   ratings (64 %, 2 % of riders rate low), loan defaults and repayments (10 %, 6 %) of one
   subject in five, court judgments, dishonesty findings with performances, settlements,
   consents, revocations, extensions and liftings (one subject in ten), fare evasions (5 %; 30 %
   of them by 1 % of the subjects, who reach three within a year), unruly passengers, student
   status; each dated within its kind's retention and at most three years before the as-of date.
2. ``evaluate_parquet(engine="duckdb")`` on it: seconds, rows/s, peak RSS, entries per list;
   then on a policy holding each list alone, and the scores with the list they read (where
   the time goes); ``engine="python"`` (rules.py per subject) on the same file, its entries
   compared with DuckDB's (``--skip-breakdown``, ``--skip-python``).
3. Baselines, same run: hand-written DuckDB queries of ``repeat_fare_evaders`` (3 rail fare
   evasions within 365 days, episodes, 180-day period) and ``dishonest_judgment_debtors``
   (trigger by case, exemption, extension, removal) over the same file; timed against the
   engine on the whole policy and on a policy holding that list alone; their entries are
   compared with the engine's (mismatches printed).
4. ``evaluate_parquet(engine="spark")`` in local mode: session start apart, a sample of about
   ``--spark-sample-records`` records (whole subjects) first, then the full file unless the
   sample's rate says it would take longer than ``--spark-budget-s``.
5. Incremental path: the records of the first ``--incremental-subjects`` subjects inserted into
   ``records`` as the ingest pipeline writes them (canonical JSON payload), on a SQLite file
   and on PostgreSQL (a fresh schema, dropped afterwards), then ``evaluate_subjects`` in
   chunks, one ``store.batch`` each: subjects/s and records/s; its ``list_entries`` compared
   with the DuckDB engine's entries for the same subjects.

Each measured step runs in its own child process (this script with ``--step``), so that the
peak RSS (``ru_maxrss``) is that step's. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from socialcredit.policy.model import Policy, load_policy

AS_OF = dt.date(2026, 6, 30)
#: the list timed with the scores (the score's L01 factor reads it)
SCORED_WITH = "dishonest_judgment_debtors"
SEED = 1
POLICY_PATH = (Path(__file__).resolve().parents[1] / "src" / "socialcredit" / "policy"
               / "default.yaml")
#: (id, name, kind) of the synthetic furnishers; court, lender and platform follow the subject
FURNISHERS = [(1, "court-beijing", "court"), (2, "court-shanghai", "court"),
              (3, "court-guangzhou", "court"), (4, "bank-icbc", "lender"),
              (5, "lender-ant", "lender"), (6, "rail-12306", "transport"),
              (7, "air-china", "transport"), (8, "ride-didi", "platform"),
              (9, "ride-caocao", "platform"), (10, "school-registry", "school")]
#: kind → share of records in ten-thousandths
MIX = [("ride_rating", 6400), ("loan_default", 1000), ("loan_repayment", 600),
       ("court_judgment", 500), ("fare_evasion", 500), ("dishonesty_finding", 300),
       ("judgment_performance", 250), ("student_status", 250), ("unruly_passenger", 50),
       ("restriction_lifted", 50), ("listing_extended", 30), ("settlement_performed", 30),
       ("listing_revoked", 20), ("creditor_consent", 20)]
COURT_KINDS = ("court_judgment", "dishonesty_finding", "judgment_performance",
               "restriction_lifted", "listing_extended", "settlement_performed",
               "listing_revoked", "creditor_consent")


def say(msg: str) -> None:
    print(f"[bench] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def policy() -> Policy:
    return load_policy(POLICY_PATH)


def only_list(pol: Policy, name: str) -> Policy:
    """``pol`` holding one list (its sanctions) and no score: what the engine compiles for it."""
    return pol.model_copy(update={"lists": {name: pol.lists[name]}, "scores": {},
                                  "sanctions": tuple(pol.sanctions_for(name)), "sharing": (),
                                  "version_hash": ""})


def with_scores(pol: Policy, name: str) -> Policy:
    """``pol`` holding its scores and the list ``name`` (a policy without lists is not
    compiled: its empty entries frame fails, see the report of bench/README.md)."""
    return only_list(pol, name).model_copy(update={"scores": pol.scores})


# ---------------------------------------------------------------------------------------------
# 1. the synthetic export


def record_schema(pol: Policy) -> pa.Schema:
    from socialcredit.policy.batch import record_schema as schema
    return schema(pol)


def _sql_type(t: pa.DataType) -> str:
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    raise ValueError(f"no SQL type for {t}")


def _pick(h: str, choices: list[tuple[str, int]]) -> str:
    """SQL CASE choosing among ``choices`` (value, weight in %) by ``h % 100``."""
    parts, acc = [], 0
    for value, weight in choices:
        acc += weight
        parts.append(f"WHEN {h} % 100 < {acc} THEN {value}")
    return "CASE " + " ".join(parts) + " END"


def generation_sql(pol: Policy, subjects: int, records: int, seed: int, path: Path) -> str:
    """One COPY statement writing the synthetic export to ``path``."""
    retention = {k: min(spec.retention_days, 1095) for k, spec in pol.catalogue.items()}
    acc, kind_case = 0, []
    for kind, share in MIX:
        acc += share
        kind_case.append(f"WHEN u < {acc} THEN '{kind}'")
    assert acc == 10000
    n = subjects
    days_case = " ".join(f"WHEN '{k}' THEN {d}" for k, d in retention.items())
    court_in = ", ".join(f"'{k}'" for k in COURT_KINDS)
    fields = {
        "case_number": f"""CASE WHEN kind IN ({court_in})
            THEN 'C' || subject_id || '-' || (h3 % 2) END""",
        "amount_minor": """CASE
            WHEN kind IN ('court_judgment', 'dishonesty_finding', 'judgment_performance')
                THEN 100000 + h3 % 50000000
            WHEN kind IN ('loan_default', 'loan_repayment') THEN 100000 + h4 % 1900000
            WHEN kind = 'fare_evasion' THEN 500 + h4 % 50000 END""",
        "currency": """CASE WHEN kind IN ('court_judgment', 'dishonesty_finding',
            'judgment_performance', 'loan_default', 'loan_repayment', 'fare_evasion')
            THEN 'CNY' END""",
        "creditor": """CASE WHEN kind = 'court_judgment' AND h4 % 3 > 0
            THEN 'creditor-' || (h4 % 1000) END""",
        "ground": "CASE WHEN kind = 'dishonesty_finding' THEN 1 + h4 % 6 END",
        "debtor_role": """CASE WHEN kind = 'dishonesty_finding' THEN
            CASE (h4 // 7) % 20 WHEN 0 THEN 'company_officer' WHEN 1 THEN NULL
                 ELSE 'debtor' END END""",
        "years": "CASE WHEN kind = 'listing_extended' THEN 1 + h4 % 3 END",
        "service": f"""CASE kind
            WHEN 'restriction_lifted' THEN {_pick('h4', [("'air'", 40), ("'rail_hsr'", 20),
                ("'rail_first_class'", 20), ("'hotel_star'", 10), ("'credit'", 10)])}
            WHEN 'fare_evasion' THEN {_pick('h4', [("'rail_hsr'", 40), ("'rail'", 30),
                ("'metro'", 20), ("'bus'", 10)])}
            WHEN 'unruly_passenger' THEN {_pick('h4', [("'air'", 70), ("'rail_hsr'", 30)])} END""",
        "until": """CASE WHEN kind = 'restriction_lifted' AND h3 % 2 = 0
            THEN strftime(occurred_at + 30, '%Y-%m-%d') END""",
        "full": """CASE WHEN kind = 'judgment_performance' THEN h4 % 10 < 6
            WHEN kind = 'loan_repayment' THEN h4 % 2 = 0 END""",
        "loan_id": """CASE WHEN kind IN ('loan_default', 'loan_repayment')
            THEN 'L' || subject_id || '-' || (h3 % 3) END""",
        "days_past_due": "CASE WHEN kind = 'loan_default' THEN h4 % 240 END",
        "loan_purpose": f"""CASE WHEN kind = 'loan_default' THEN {_pick('(h4 // 240)', [
            ("'consumer'", 60), ("'business'", 20), ("'mortgage'", 10), ("'campus'", 5),
            ("NULL", 5)])} END""",
        "full_time": "CASE WHEN kind = 'student_status' THEN h4 % 10 < 7 END",
        "conduct": f"""CASE WHEN kind = 'unruly_passenger' THEN {_pick('(h4 // 100)', [
            ("'smoking_on_board'", 40), ("'occupying_seat'", 30),
            ("'disrupting_order'", 20), ("'violence_against_crew'", 10)])} END""",
        "rating": f"""CASE WHEN kind = 'ride_rating' THEN
            CASE WHEN subject_id % 50 = 7 THEN 1 + h3 % 3
                 ELSE {_pick('h3', [('5', 70), ('4', 20), ('3', 7), ('2', 2), ('1', 1)])}
            END END""",
        "trip_id": "CASE WHEN kind = 'ride_rating' THEN 'T' || id END",
    }
    schema = record_schema(pol)
    cols = []
    for f in schema:
        expr = fields.get(f.name[2:], "NULL") if f.name.startswith("f_") else f.name
        cols.append(f"CAST({expr} AS {_sql_type(f.type)}) AS {f.name}")
    return f"""
COPY (
  WITH base AS (
    SELECT i AS id, hash(i, {seed}, 1) % 10000 AS u, hash(i, {seed}, 2) AS h2,
           hash(i, {seed}, 3) AS h3, hash(i, {seed}, 4) AS h4, hash(i, {seed}, 5) AS h5
    FROM range(1, {records} + 1) t(i)
  ), k AS (
    SELECT *, CASE {' '.join(kind_case)} END AS kind FROM base
  ), s AS (
    SELECT *, CASE
        WHEN kind IN ({court_in}) THEN (h2 % {max(n // 10, 1)}) * 10 + 1
        WHEN kind IN ('loan_default', 'loan_repayment', 'student_status')
            THEN (h2 % {max(n // 5, 1)}) * 5 + 2
        WHEN kind = 'fare_evasion' AND h3 % 10 < 3 THEN (h2 % {max(n // 100, 1)}) * 100 + 3
        ELSE h2 % {n} + 1 END AS subject_id
    FROM k
  ), d AS (
    SELECT *, CASE
        WHEN kind IN ({court_in}) THEN 1 + subject_id % 3
        WHEN kind IN ('loan_default', 'loan_repayment') THEN 4 + subject_id % 2
        WHEN kind = 'fare_evasion' THEN 6
        WHEN kind = 'unruly_passenger' THEN CASE WHEN h4 % 100 < 70 THEN 7 ELSE 6 END
        WHEN kind = 'ride_rating' THEN
            CASE WHEN h4 % 5 = 0 THEN 9 - subject_id % 2 ELSE 8 + subject_id % 2 END
        ELSE 10 END AS furnisher_id,
        DATE '{AS_OF.isoformat()}' - CAST(h5 % (CASE kind {days_case} END) AS INTEGER)
            AS occurred_at
    FROM s
  ), f AS (
    SELECT *, CASE furnisher_id {' '.join(f"WHEN {i} THEN '{nm}'" for i, nm, _ in FURNISHERS)}
              END AS furnisher, 'R' || id AS furnisher_record_id
    FROM d
  )
  SELECT {', '.join(cols)} FROM f
) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)
"""


def ensure_export(pol: Policy, subjects: int, records: int, seed: int, cache: Path,
                  ) -> tuple[Path, float | None]:
    """The cached export for these sizes (generated when absent); seconds it took, or None."""
    tag = hashlib.sha256(generation_sql(pol, subjects, records, seed, Path("-")).encode()
                         ).hexdigest()[:8]
    path = cache / f"records_{subjects}_{records}_s{seed}_{tag}.parquet"
    if path.exists():
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    say(f"generating {records:,} records over {subjects:,} subjects → {path}")
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{cache / 'duckdb_tmp'}'")
    con.execute("SET enable_progress_bar = false")
    con.execute(generation_sql(pol, subjects, records, seed, tmp))
    con.close()
    tmp.rename(path)
    return path, time.perf_counter() - t0


def subject_sample(path: Path, max_subject: int) -> Path:
    """The records of subjects ``1..max_subject`` of ``path`` (cached beside it)."""
    out = path.with_name(path.stem + f"_upto{max_subject}.parquet")
    if not out.exists():
        tmp = out.with_suffix(".partial")
        duckdb.connect().execute(
            f"COPY (SELECT * FROM read_parquet('{path}') WHERE subject_id <= {max_subject} "
            f"ORDER BY id) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
        tmp.rename(out)
    return out


# ---------------------------------------------------------------------------------------------
# entries as a table

ENTRY_COLUMNS = ("list", "subject_id", "key", "status", "since", "until", "record_id")


def _iso(v: Any) -> str | None:
    if v is None:
        return None
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def entries_table(entries: Any) -> pa.Table:
    """The engine's entries (DesiredEntry list, pyarrow Table, pandas or DuckDB frame) as a
    table of :data:`ENTRY_COLUMNS`, dates as ISO strings."""
    if isinstance(entries, duckdb.DuckDBPyRelation):
        entries = entries.to_arrow_table()
    if hasattr(entries, "to_pandas") and not isinstance(entries, pa.Table):
        entries = entries.to_pandas()  # e.g. a Spark frame
    if hasattr(entries, "columns") and not isinstance(entries, pa.Table):
        entries = pa.Table.from_pandas(entries, preserve_index=False)
    if isinstance(entries, pa.Table):
        cols = {c: entries.column(c).to_pylist() for c in ENTRY_COLUMNS}
    else:
        cols = {c: [getattr(e, c) for e in entries] for c in ENTRY_COLUMNS}
    for c in ("key", "since", "until"):
        cols[c] = [_iso(v) for v in cols[c]]
    return pa.table({
        "list": pa.array(cols["list"], pa.string()),
        "subject_id": pa.array(cols["subject_id"], pa.int64()),
        "key": pa.array(cols["key"], pa.string()),
        "status": pa.array(cols["status"], pa.string()),
        "since": pa.array(cols["since"], pa.string()),
        "until": pa.array(cols["until"], pa.string()),
        "record_id": pa.array(cols["record_id"], pa.int64()),
    })


def by_list(table: pa.Table) -> dict[str, dict[str, int]]:
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in zip(table.column("list").to_pylist(), table.column("status").to_pylist(),
                            strict=True):
        out[name][status] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


def mismatches(con: duckdb.DuckDBPyConnection, a: str, b: str) -> int:
    """Rows of view ``a`` not in ``b`` plus rows of ``b`` not in ``a`` (all entry columns)."""
    cols = ", ".join(f'"{c}"' for c in ENTRY_COLUMNS)
    return int(con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}))"
        f" + (SELECT count(*) FROM (SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a}))"
    ).fetchall()[0][0])


def mismatch_by_list(con: duckdb.DuckDBPyConnection, a: str, b: str) -> dict[str, int]:
    names = sorted({r[0] for r in con.execute(f"SELECT DISTINCT list FROM {a} UNION "
                                              f"SELECT DISTINCT list FROM {b}").fetchall()})
    out = {}
    for name in names:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _a AS SELECT * FROM {a} WHERE list = '{name}'")
        con.execute(f"CREATE OR REPLACE TEMP VIEW _b AS SELECT * FROM {b} WHERE list = '{name}'")
        out[name] = mismatches(con, "_a", "_b")
    return out


# ---------------------------------------------------------------------------------------------
# steps (each in a child process)


def step_engine(args: argparse.Namespace) -> dict[str, Any]:
    """The DuckDB engine on the whole policy (entries written to ``--out``), or on one list."""
    from socialcredit.policy.batch import evaluate_parquet
    pol = policy()
    if args.only_list == "scores":
        pol = with_scores(pol, SCORED_WITH)
    elif args.only_list:
        pol = only_list(pol, args.only_list)
    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    res = evaluate_parquet(pol, Path(args.parquet), AS_OF, engine=args.engine)
    wall = time.perf_counter() - t0
    rss = peak_rss_mb()
    table = entries_table(res.entries)
    if args.out:
        pq.write_table(table, args.out)
    return {"engine": res.engine, "rows": res.rows, "seconds": wall,
            "engine_seconds": res.seconds, "rows_per_s": res.rows / wall,
            "peak_rss_mb": rss, "rss_before_mb": rss0, "entries": table.num_rows,
            "scores": len(res.scores), "by_list": by_list(table)}


def hand_fare_evaders(path: str) -> str:
    """repeat_fare_evaders by hand (rules.py, criteria lists): rail fare evasions; at each,
    the count within 365 days up to its date (all of that date); records reaching 3 qualify;
    an episode runs while the next qualifying record comes within the previous one's 180 days
    (counted as the PRC Civil Code counts them, the start day excluded: ``until`` = date + 181)."""
    return f"""
WITH fe AS (
  SELECT id, subject_id, occurred_at FROM read_parquet('{path}')
  WHERE kind = 'fare_evasion' AND f_service IN ('rail_hsr', 'rail')
    AND occurred_at <= DATE '{AS_OF.isoformat()}'
), w AS (
  SELECT *, count(*) OVER (PARTITION BY subject_id ORDER BY occurred_at
                           RANGE BETWEEN INTERVAL 364 DAYS PRECEDING AND CURRENT ROW) AS n
  FROM fe
), q AS (
  SELECT *, lag(occurred_at) OVER (PARTITION BY subject_id ORDER BY occurred_at, id) AS prev
  FROM w WHERE n >= 3
), e AS (
  SELECT *, sum(CASE WHEN prev IS NULL OR occurred_at >= prev + 181 THEN 1 ELSE 0 END)
            OVER (PARTITION BY subject_id ORDER BY occurred_at, id ROWS UNBOUNDED PRECEDING) AS ep
  FROM q
)
SELECT 'repeat_fare_evaders' AS list, subject_id, strftime(min(occurred_at), '%Y-%m-%d') AS key,
       CASE WHEN max(occurred_at) + 181 <= DATE '{AS_OF.isoformat()}' THEN 'expired'
            ELSE 'active' END AS status,
       strftime(min(occurred_at), '%Y-%m-%d') AS since,
       strftime(max(occurred_at) + 181, '%Y-%m-%d') AS until,
       first(id ORDER BY occurred_at, id) AS record_id
FROM e GROUP BY subject_id, ep
"""


def hand_dishonest_debtors(path: str) -> str:
    """dishonest_judgment_debtors by hand (rules.py, trigger lists): findings grouped by case
    number; the earliest not exempt (company officers) lists for two years, extended by the largest
    ``listing_extended`` (at most 3 years) of the listing court dated within the listing (Civil
    Code counting: through the corresponding day, ``until`` the day after; an extension counted
    from the last day; DuckDB's year interval keeps 29 February → 28); the earliest removal
    record of that court (full performance, settlement, creditor consent, revocation) on or
    after the finding and before the end removes it. A case whose findings are all exempt is an
    ``exempt`` entry."""
    day = f"DATE '{AS_OF.isoformat()}'"
    return f"""
WITH r AS (
  SELECT id, subject_id, furnisher_id, kind, occurred_at, f_case_number AS case_no,
         f_debtor_role AS role, f_years AS years, f_full AS full
  FROM read_parquet('{path}')
  WHERE occurred_at <= {day} AND f_case_number IS NOT NULL
    AND kind IN ('dishonesty_finding', 'listing_extended', 'judgment_performance',
                 'settlement_performed', 'creditor_consent', 'listing_revoked')
), t AS (
  SELECT * FROM r WHERE kind = 'dishonesty_finding'
), cases AS (
  SELECT subject_id, case_no, first(id ORDER BY occurred_at, id) AS id,
         first(occurred_at ORDER BY occurred_at, id) AS d,
         bool_and(role IS NOT DISTINCT FROM 'company_officer') AS all_exempt
  FROM t GROUP BY subject_id, case_no
), live AS (
  SELECT subject_id, case_no, first(id ORDER BY occurred_at, id) AS id,
         first(occurred_at ORDER BY occurred_at, id) AS d,
         first(furnisher_id ORDER BY occurred_at, id) AS fid,
         CAST(first(occurred_at ORDER BY occurred_at, id) + INTERVAL 2 YEAR
              + INTERVAL 1 DAY AS DATE) AS until0
  FROM t WHERE role IS DISTINCT FROM 'company_officer' GROUP BY subject_id, case_no
), ext AS (
  SELECT l.subject_id, l.case_no, least(max(x.years), 3) AS extra
  FROM live l JOIN r x ON x.subject_id = l.subject_id AND x.case_no = l.case_no
   AND x.kind = 'listing_extended' AND x.furnisher_id = l.fid AND x.occurred_at >= l.d
   AND x.occurred_at < l.until0 AND x.years IS NOT NULL
  GROUP BY l.subject_id, l.case_no
), rm AS (
  SELECT l.subject_id, l.case_no, min(x.occurred_at) AS rd
  FROM live l JOIN r x ON x.subject_id = l.subject_id AND x.case_no = l.case_no
   AND x.furnisher_id = l.fid AND x.occurred_at >= l.d
   AND (x.kind IN ('settlement_performed', 'creditor_consent', 'listing_revoked')
        OR (x.kind = 'judgment_performance' AND x.full))
  GROUP BY l.subject_id, l.case_no
), ended AS (
  SELECT l.*, CASE WHEN coalesce(e.extra, 0) > 0
                   THEN CAST(CAST(l.until0 - INTERVAL 1 DAY AS DATE)
                             + to_years(CAST(e.extra AS INTEGER)) + INTERVAL 1 DAY AS DATE)
                   ELSE l.until0 END AS until, rm.rd
  FROM live l LEFT JOIN ext e USING (subject_id, case_no) LEFT JOIN rm USING (subject_id, case_no)
)
SELECT 'dishonest_judgment_debtors' AS list, subject_id, case_no AS key,
       CASE WHEN rd IS NOT NULL AND rd < until THEN 'removed'
            WHEN until <= {day} THEN 'expired' ELSE 'active' END AS status,
       strftime(d, '%Y-%m-%d') AS since, strftime(until, '%Y-%m-%d') AS until, id AS record_id
FROM ended
UNION ALL
SELECT 'dishonest_judgment_debtors', subject_id, case_no, 'exempt', strftime(d, '%Y-%m-%d'),
       NULL, id
FROM cases WHERE all_exempt
"""


#: list → hand-written DuckDB SQL of the same rule (the baselines)
BASELINES = {"repeat_fare_evaders": hand_fare_evaders,
             "dishonest_judgment_debtors": hand_dishonest_debtors}


def step_hand(args: argparse.Namespace) -> dict[str, Any]:
    con = duckdb.connect()
    rows = pq.ParquetFile(args.parquet).metadata.num_rows
    t0 = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE hand AS {BASELINES[args.only_list](args.parquet)}")
    wall = time.perf_counter() - t0
    rss = peak_rss_mb()
    n = con.execute("SELECT count(*) FROM hand").fetchall()[0][0]
    out: dict[str, Any] = {"rows": rows, "seconds": wall, "rows_per_s": rows / wall,
                           "peak_rss_mb": rss, "entries": n}
    if args.out:
        con.execute(f"CREATE TEMP VIEW eng AS SELECT * FROM read_parquet('{args.out}') "
                    f"WHERE list = '{args.only_list}'")
        out["engine_entries"] = con.execute("SELECT count(*) FROM eng").fetchall()[0][0]
        out["mismatches"] = mismatches(con, "hand", "eng")
    return out


def step_spark(args: argparse.Namespace) -> dict[str, Any]:
    from pyspark.sql import SparkSession

    from socialcredit.policy.batch import evaluate_parquet
    t0 = time.perf_counter()
    local = tempfile.mkdtemp(prefix="sc-bench-spark-")
    spark = (SparkSession.builder.master("local[2]").appName("socialcredit-bench")
             .config("spark.driver.memory", args.spark_memory)
             .config("spark.sql.shuffle.partitions", "8")
             .config("spark.default.parallelism", "4")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.local.dir", local)
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    start = time.perf_counter() - t0
    pol = policy()
    out: dict[str, Any] = {"session_start_seconds": start, "runs": []}
    con = duckdb.connect()
    for path, cutoff in args.spark_runs:
        rows = pq.ParquetFile(path).metadata.num_rows
        say(f"spark: {rows:,} records ({path})")
        t0 = time.perf_counter()
        res = evaluate_parquet(pol, Path(path), AS_OF, engine="spark", spark=spark)
        wall = time.perf_counter() - t0
        table = entries_table(res.entries)
        run: dict[str, Any] = {"rows": rows, "seconds": wall, "engine_seconds": res.seconds,
                               "rows_per_s": rows / wall, "entries": table.num_rows,
                               "scores": len(res.scores), "by_list": by_list(table)}
        if args.out:
            con.register("spark_entries", table)
            con.execute(f"CREATE OR REPLACE TEMP VIEW ducks AS SELECT * FROM "
                        f"read_parquet('{args.out}') WHERE subject_id <= {cutoff}")
            run["mismatches_vs_duckdb"] = mismatch_by_list(con, "spark_entries", "ducks")
            con.unregister("spark_entries")
        out["runs"].append(run)
        if args.spark_budget_s and len(args.spark_runs) > 1 and cutoff != args.spark_runs[-1][1]:
            full_rows = pq.ParquetFile(args.spark_runs[-1][0]).metadata.num_rows
            estimate = wall * full_rows / rows
            if estimate > args.spark_budget_s:
                out["skipped_full"] = (f"the sample's rate puts {full_rows:,} records at "
                                       f"~{estimate:.0f} s, over --spark-budget-s "
                                       f"{args.spark_budget_s:.0f}")
                break
    spark.stop()
    return out


def _load_records(store: Any, pol: Policy, path: str, k: int) -> int:
    """Insert furnishers, subjects 1..k and their records as the ingest pipeline writes them
    (canonical JSON payload of the kind's fields, ``status`` active); returns the records."""
    from sqlalchemy import insert

    from socialcredit.store.tables import furnishers, records, subjects
    con = duckdb.connect()
    tbl = con.sql(f"SELECT * FROM read_parquet('{path}') WHERE subject_id <= {k} "
                      "ORDER BY id").to_arrow_table()
    fields = {kind: list(spec.fields) for kind, spec in pol.catalogue.items()}
    at = dt.datetime.now(dt.UTC).isoformat()
    rows = []
    for r in tbl.to_pylist():
        payload = {f: r[f"f_{f}"] for f in fields[r["kind"]] if r.get(f"f_{f}") is not None}
        body = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        rows.append({"id": r["id"], "furnisher_id": r["furnisher_id"],
                     "furnisher_record_id": r["furnisher_record_id"], "kind": r["kind"],
                     "occurred_at": r["occurred_at"].isoformat(), "subject_id": r["subject_id"],
                     "payload": body, "content_hash": hashlib.sha256(body.encode()).hexdigest(),
                     "seq": 0, "status": "active", "superseded_by": None})
    with store.engine.begin() as conn:
        conn.execute(insert(furnishers), [{"id": i, "name": n, "kind": kd, "created_at": at}
                                          for i, n, kd in FURNISHERS])
        conn.execute(insert(subjects), [{"id": s, "source": "registry", "created_seq": 0}
                                        for s in range(1, k + 1)])
        for i in range(0, len(rows), 20000):
            conn.execute(insert(records), rows[i:i + 20000])
    store.refresh_statistics("records", "subjects", "list_entries")
    return len(rows)


def step_incremental(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    from socialcredit.policy.evaluate import EvaluationStats, evaluate_subjects
    from socialcredit.store import Store
    from socialcredit.store.scratch import scratch_database
    from socialcredit.store.tables import list_entries
    pol = policy()
    k = args.incremental_subjects
    with tempfile.TemporaryDirectory(prefix="sc-bench-eval-") as tmp, \
            scratch_database(args.db, Path(tmp), prefix="bench_eval_") as url:
        store = Store(url)
        try:
            store.ensure_schema()
            t0 = time.perf_counter()
            n = _load_records(store, pol, args.parquet, k)
            load_s = time.perf_counter() - t0
            say(f"incremental ({store.dialect}): {n:,} records of {k:,} subjects loaded in "
                f"{load_s:.1f} s; evaluating in chunks of {args.chunk:,}")
            stats = EvaluationStats()
            error = None
            t0 = time.perf_counter()
            try:
                for i in range(1, k + 1, args.chunk):
                    with store.batch(pol.version_hash) as b:
                        stats.merge(evaluate_subjects(b, pol, range(i, min(i + args.chunk,
                                                                           k + 1)), AS_OF))
            except Exception as e:  # a figure, not a crash: report what broke
                error = f"{type(e).__name__}: {e}"[:300]
            wall = time.perf_counter() - t0
            with store.read() as conn:
                got = conn.execute(select(*(list_entries.c[c] for c in ENTRY_COLUMNS))).all()
            table = pa.table({c: pa.array([r[j] for r in got],
                                          pa.int64() if c in ("subject_id", "record_id")
                                          else pa.string())
                              for j, c in enumerate(ENTRY_COLUMNS)})
            out: dict[str, Any] = {
                "database": store.dialect, "subjects": k, "records": n,
                "load_seconds": load_s, "seconds": wall, "subjects_per_s": stats.subjects / wall,
                "records_per_s": n * stats.subjects / k / wall, "evaluated": stats.subjects,
                "error": error, "entries": table.num_rows, "by_list": by_list(table),
                "peak_rss_mb": peak_rss_mb()}
            if args.out:
                con = duckdb.connect()
                con.register("inc", table)
                con.execute(f"CREATE TEMP VIEW ducks AS SELECT * FROM read_parquet('{args.out}')"
                            f" WHERE subject_id <= {k} AND status <> 'exempt'")
                out["mismatches_vs_duckdb"] = mismatch_by_list(con, "inc", "ducks")
            return out
        finally:
            store.dispose()


STEPS = {"engine": step_engine, "hand": step_hand, "spark": step_spark,
         "incremental": step_incremental}


def child(step: str, args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    """Run ``step`` in a child process; its JSON result, or ``{"error": ...}``."""
    argv = [sys.executable, __file__, "--step", step, "--parquet", str(extra.pop("parquet")),
            "--incremental-subjects", str(args.incremental_subjects),
            "--chunk", str(args.chunk), "--spark-memory", args.spark_memory]
    for key, value in extra.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"error": f"exit {proc.returncode} after {time.perf_counter() - t0:.0f} s"}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------------------
# report


def machine() -> dict[str, Any]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import platform
    return {"cores": os.cpu_count(), "ram_gb": round(mem, 1), "load_avg": os.getloadavg(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__, "pyarrow": pa.__version__}


def report(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [f"socialcredit evaluation bench — {r['records']:,} records over {r['subjects']:,} "
             f"subjects, as of {AS_OF}, seed {SEED}",
             f"machine: {m['cores']} cores, {m['ram_gb']} GB RAM, Python {m['python']}, "
             f"DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}; load average at start "
             f"{m['load_avg'][0]:.1f}, at end {r['load_avg_end'][0]:.1f}",
             f"export: {r['parquet']} ({r['parquet_mb']:,.0f} MB"
             + (f", generated in {r['generate_seconds']:.1f} s" if r.get("generate_seconds")
                else ", cached") + ")", "",
             f"{'figure':<52}{'seconds':>10}{'rows/s':>14}{'peak RSS':>10}{'ratio':>8}",
             "-" * 94]

    def row(name: str, res: dict[str, Any] | None, ratio: float | None = None,
            rate_key: str = "rows_per_s") -> None:
        if not res or res.get("error") and "seconds" not in res:
            lines.append(f"{name:<52}{(res or {}).get('error', 'not run'):>42}")
            return
        rss = res.get("peak_rss_mb")
        lines.append(f"{name:<52}{res['seconds']:>10.2f}{res[rate_key]:>14,.0f}"
                     f"{'' if rss is None else f'{rss:,.0f} MB':>10}"
                     f"{'' if ratio is None else f'{ratio:.2f}':>8}")

    eng = r.get("duckdb")
    row("DuckDB engine, whole policy", eng)
    if "python" in r:
        py = r["python"]
        row("reference engine (rules.py per subject), whole policy", py,
            py["seconds"] / eng["seconds"] if eng and "seconds" in eng and "seconds" in py
            else None)
        if "mismatches_vs_duckdb" in py:
            mm = py["mismatches_vs_duckdb"]
            lines.append(f"  entries: reference {py['entries']:,}, DuckDB "
                         f"{(eng or {}).get('entries', 0):,}; mismatches {sum(mm.values()):,}"
                         f" {mm}")
    others = [k.removeprefix("duckdb_") for k in r if k.startswith("duckdb_")
              and k.removeprefix("duckdb_") not in BASELINES]
    for name in others:
        label = f"scores + {SCORED_WITH}" if name == "scores" else f"{name} alone"
        row(f"  DuckDB engine, {label}", r[f"duckdb_{name}"])
    for name in BASELINES:
        one, hand = r.get(f"duckdb_{name}"), r.get(f"hand_{name}")
        hs = hand["seconds"] if hand and "seconds" in hand else None
        lines.append(f"{name}:")
        if hs and eng and "seconds" in eng:
            row("  DuckDB engine, whole policy (ratio to hand)", eng, eng["seconds"] / hs)
        row("  DuckDB engine, this list alone", one,
            one["seconds"] / hs if hs and one and "seconds" in one else None)
        row("  hand-written DuckDB SQL", hand, 1.0 if hs else None)
        if hand and "mismatches" in hand:
            lines.append(f"  hand {hand['entries']:,} entries, engine {hand['engine_entries']:,},"
                         f" mismatches {hand['mismatches']:,}")
    sp = r.get("spark")
    if sp and "runs" in sp:
        lines.append(f"Spark local session start: {sp['session_start_seconds']:.1f} s")
        for run in sp["runs"]:
            row(f"Spark engine (local), {run['rows']:,} records", run)
            mm = run.get("mismatches_vs_duckdb")
            if mm is not None:
                lines.append(f"  mismatches vs DuckDB engine: {sum(mm.values()):,} {mm}")
        if sp.get("skipped_full"):
            lines.append(f"  full file not run on Spark: {sp['skipped_full']}")
    elif sp:
        row("Spark engine (local)", sp)
    for key in ("sqlite", "postgresql"):
        inc = r.get(f"incremental_{key}")
        if inc is None:
            continue
        if "seconds" not in inc:
            row(f"incremental, {key}", inc)
            continue
        lines.append(f"incremental evaluate_subjects, {key}: {inc['evaluated']:,} of "
                     f"{inc['subjects']:,} subjects ({inc['records']:,} records, loaded in "
                     f"{inc['load_seconds']:.1f} s)")
        row("  touched subjects/s", inc, rate_key="subjects_per_s")
        row("  records/s", inc, rate_key="records_per_s")
        if inc.get("error"):
            lines.append(f"  stopped by: {inc['error']}")
        mm = inc.get("mismatches_vs_duckdb")
        if mm is not None:
            lines.append(f"  mismatches vs DuckDB engine: {sum(mm.values()):,} {mm}")
    if eng and "by_list" in eng:
        lines += ["", f"Entries by list (DuckDB engine; {eng['scores']:,} scores):"]
        for name, counts in eng["by_list"].items():
            lines.append(f"  {name:<32}{sum(counts.values()):>10,}  "
                         + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--subjects", type=int, default=1_000_000)
    p.add_argument("--records", type=int, default=10_000_000)
    p.add_argument("--large", action="store_true", help="10 M subjects, 100 M records")
    p.add_argument("--skip-spark", action="store_true")
    p.add_argument("--skip-postgres", action="store_true")
    p.add_argument("--skip-breakdown", action="store_true",
                   help="skip the DuckDB engine on each other list and on the scores")
    p.add_argument("--skip-python", action="store_true",
                   help="skip the reference engine (rules.py per subject over the same file)")
    p.add_argument("--incremental-subjects", type=int, default=20_000)
    p.add_argument("--chunk", type=int, default=5000,
                   help="subjects per evaluate_subjects transaction (incremental)")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1/test",
                   help="PostgreSQL server of the incremental run (a fresh schema is used)")
    p.add_argument("--spark-sample-records", type=int, default=1_000_000)
    p.add_argument("--spark-budget-s", type=float, default=900.0,
                   help="skip the full file on Spark when the sample says it takes longer")
    p.add_argument("--spark-memory", default="8g")
    p.add_argument("--cache-dir", type=Path,
                   default=Path(tempfile.gettempdir()) / "socialcredit-bench-evaluate")
    p.add_argument("--json", action="store_true")
    p.add_argument("--step", choices=sorted(STEPS), help=argparse.SUPPRESS)
    p.add_argument("--parquet", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--only-list", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--engine", default="duckdb", help=argparse.SUPPRESS)
    p.add_argument("--spark-runs", type=json.loads, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step:
        print(json.dumps(STEPS[args.step](args), default=str))
        return 0
    if args.large:
        args.subjects, args.records = 10_000_000, 100_000_000
    pol = policy()
    path, gen_s = ensure_export(pol, args.subjects, args.records, SEED, args.cache_dir)
    result: dict[str, Any] = {"subjects": args.subjects, "records": args.records,
                              "parquet": str(path), "parquet_mb": path.stat().st_size / 2**20,
                              "generate_seconds": gen_s, "machine": machine()}
    entries = path.with_name(path.stem + "_duckdb_entries.parquet")
    say("DuckDB engine, whole policy")
    result["duckdb"] = child("engine", args, parquet=path, out=entries)
    for name in BASELINES:
        say(f"DuckDB engine, {name} alone")
        result[f"duckdb_{name}"] = child("engine", args, parquet=path, only_list=name)
        say(f"hand-written SQL, {name}")
        result[f"hand_{name}"] = child("hand", args, parquet=path, only_list=name,
                                       out=entries if entries.exists() else None)
    have = entries if entries.exists() else None
    if not args.skip_breakdown:
        for name in [*(n for n, spec in pol.lists.items()
                       if n not in BASELINES and not spec.external), "scores"]:
            say(f"DuckDB engine, {name} alone" if name != "scores"
                else f"DuckDB engine, scores + {SCORED_WITH}")
            result[f"duckdb_{name}"] = child("engine", args, parquet=path, only_list=name)
    if not args.skip_python:
        say("reference engine (python, rules.py per subject)")
        ref = path.with_name(path.stem + "_python_entries.parquet")
        result["python"] = child("engine", args, parquet=path, engine="python", out=ref)
        if have and ref.exists():
            con = duckdb.connect()
            con.execute(f"CREATE VIEW py AS SELECT * FROM read_parquet('{ref}')")
            con.execute(f"CREATE VIEW dk AS SELECT * FROM read_parquet('{have}')")
            result["python"]["mismatches_vs_duckdb"] = mismatch_by_list(con, "py", "dk")
    if not args.skip_spark:
        runs = []
        if args.records > args.spark_sample_records:
            cutoff = max(1, args.subjects * args.spark_sample_records // args.records)
            runs.append((str(subject_sample(path, cutoff)), cutoff))
        runs.append((str(path), args.subjects))
        say("Spark local")
        result["spark"] = child("spark", args, parquet=path, out=have,
                                spark_runs=json.dumps(runs), spark_budget_s=args.spark_budget_s)
    say("incremental, SQLite")
    result["incremental_sqlite"] = child("incremental", args, parquet=path, out=have)
    if not args.skip_postgres:
        say("incremental, PostgreSQL")
        result["incremental_postgresql"] = child("incremental", args, parquet=path, out=have,
                                                 db=args.database_url)
    result["load_avg_end"] = os.getloadavg()
    saved = path.with_name(path.stem + "_result.json")
    saved.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    say(f"result saved to {saved}")
    print(json.dumps(result, indent=2, default=str) if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
