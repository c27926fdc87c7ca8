"""Scoring a national backlog in bounded memory, on DuckDB or Spark (issue #12, item 4).

:func:`score_parquet` links two Parquet files (records, subjects; the text columns of
:data:`socialcredit.identity.model.COLUMNS`, ``unique_id`` present and unique, a model column
that is absent read as NULL) with a trained
:class:`~socialcredit.identity.model.LinkageModel` and writes the pairs whose match
probability reaches ``min_probability`` to a Parquet file, in the columns of
:func:`socialcredit.identity.model.predict` (ids, ``match_weight``, ``match_probability``,
``w_<comparison>``, ``level_<comparison>``).

Steps, the same SQL on both engines (Splink writes the scoring SQL for each dialect):

1. read the two files into tables (all text);
2. per blocking rule of :func:`socialcredit.identity.blocking.scale_rules`: count each block
   (left records on the left key, right records on the right key); a block over
   ``max_block_people`` is *capped* — its key is set to NULL so the equi-join never builds its
   pairs — and a warning names the rule, the key and the size (see
   :mod:`socialcredit.identity.blocking` for why this is linear and why naming the key is safe);
   ``comparisons`` counts the pairs the kept blocks make (before Splink drops a pair an earlier
   rule already found);
3. Splink's prediction with the model's trained parameters on the derived keys, kept above
   the threshold only, written as Parquet by the engine;
4. the explanation columns added in batches of ``batch_rows`` (pyarrow), written in row groups.

Memory: DuckDB runs with ``memory_limit`` and spills to ``temp_directory`` above it
(``preserve_insertion_order`` off, so large sorts and joins may spill); Spark persists to memory
and disk under its own ``spark.local.dir``. Python holds one batch at a time. Term frequencies
are those of the two inputs (Splink's own), the same on both engines.

Raises :class:`~socialcredit.errors.InputError` when a file lacks ``unique_id`` or is not
Parquet, and ImportError naming ``socialcredit[spark]`` for Spark without pyspark.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from socialcredit.errors import InputError
from socialcredit.identity.blocking import MAX_BLOCK_PEOPLE, BlockRule, scale_rules
from socialcredit.identity.model import LinkageModel
from socialcredit.identity.model.backends import Backend
from socialcredit.identity.model.inference import _explain, _settings_for

__all__ = ["BatchConfig", "BatchResult", "count_comparisons", "score_parquet"]

log = logging.getLogger(__name__)

#: Largest capped blocks named per rule in a warning.
_NAMED_BLOCKS = 3


@dataclass(frozen=True)
class BatchConfig:
    """How a batch run may use the machine. ``memory_limit``: DuckDB's (e.g. ``"4GB"``);
    ``temp_directory``: where DuckDB spills (default: a new temporary folder);
    ``max_block_people``: the cap on one block (both sides); ``threads``: DuckDB threads
    (None: DuckDB's default); ``batch_rows``: rows per explanation batch and row group."""

    backend: Backend = "duckdb"
    memory_limit: str = "4GB"
    temp_directory: Path | None = None
    max_block_people: int = MAX_BLOCK_PEOPLE
    threads: int | None = None
    batch_rows: int = 200_000


@dataclass
class BatchResult:
    """Counts of one run. ``capped``: one ``{"rule", "key", "people"}`` per named capped
    block; ``warnings``: the messages logged; seconds per step in ``timings``."""

    path: Path
    records: int = 0
    subjects: int = 0
    comparisons: int = 0
    pairs: int = 0
    capped_blocks: int = 0
    capped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "records": self.records, "subjects": self.subjects,
                "comparisons": self.comparisons, "pairs": self.pairs,
                "capped_blocks": self.capped_blocks, "capped": self.capped,
                "warnings": self.warnings, "timings": self.timings}


# --------------------------------------------------------------------------- engines


class _Duck:
    dialect = "duckdb"

    def __init__(self, config: BatchConfig) -> None:
        import duckdb

        # a spill folder of our own making is removed on close
        self._own: Path | None = None
        if config.temp_directory is None:
            self._own = spill = Path(tempfile.mkdtemp(prefix="sc-linkage-"))
        else:
            spill = Path(config.temp_directory)
        spill.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect()
        self.con.execute(f"SET memory_limit = '{_plain(config.memory_limit)}'")
        self.con.execute(f"SET temp_directory = '{_plain(str(spill))}'")
        self.con.execute("SET preserve_insertion_order = false")
        if config.threads:
            self.con.execute(f"SET threads = {int(config.threads)}")

    def source(self, path: Path) -> str:
        return f"read_parquet('{_plain(str(path))}')"

    def create(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}")

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def api(self) -> Any:
        from splink.backends.duckdb import DuckDBAPI

        return DuckDBAPI(connection=self.con)

    def register(self, api: Any, name: str, display: str) -> Any:
        return api.register(name, dataset_display_name=display)

    def write(self, sql: str, path: Path) -> None:
        self.con.execute(f"COPY ({sql}) TO '{_plain(str(path))}' (FORMAT parquet)")

    def close(self) -> None:
        self.con.close()
        if self._own is not None:
            shutil.rmtree(self._own, ignore_errors=True)


class _Spark:
    dialect = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self._kept: list[Any] = []

    def source(self, path: Path) -> str:
        return f"parquet.`{_plain(str(path))}`"

    def create(self, name: str, sql: str) -> None:
        df = self.spark.sql(sql).persist()  # memory and disk
        df.createOrReplaceTempView(name)
        self._kept.append(df)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(sql).collect()]

    def api(self) -> Any:
        from socialcredit.identity.model import backend_api

        return backend_api("spark", self.spark)

    def register(self, api: Any, name: str, display: str) -> Any:
        return api.register(self.spark.table(name), dataset_display_name=display)

    def write(self, sql: str, path: Path) -> None:
        self.spark.sql(sql).write.mode("overwrite").parquet(str(path))

    def close(self) -> None:
        for df in self._kept:
            df.unpersist()


def _plain(text: str) -> str:
    if "'" in text or "`" in text:
        raise InputError(f"a quote in {text!r}: not allowed in a path or a setting here")
    return text


# --------------------------------------------------------------------------- the run


def score_parquet(
    model: LinkageModel,
    records: Path,
    subjects: Path,
    out: Path,
    *,
    min_probability: float,
    config: BatchConfig = BatchConfig(),  # noqa: B008 (frozen)
    spark: Any = None,
) -> BatchResult:
    """See the module docstring. ``out`` is a Parquet file (replaced)."""
    if config.temp_directory is not None:
        Path(config.temp_directory).mkdir(parents=True, exist_ok=True)
    if model.link_type != "link_only":
        raise InputError("batch scoring links records to subjects: a link_only model is needed")
    if config.backend == "spark":
        from socialcredit.identity.model import local_spark

        engine: _Duck | _Spark = _Spark(spark if spark is not None else local_spark(
            config.temp_directory))
    else:
        engine = _Duck(config)
    result = BatchResult(path=out)
    work = Path(tempfile.mkdtemp(prefix="sc-linkage-out-", dir=config.temp_directory))
    try:
        _run(engine, model, (records, subjects), out, work, min_probability, config, result)
    finally:
        engine.close()
        shutil.rmtree(work, ignore_errors=True)
    return result


def _tick(result: BatchResult, step: str, since: float) -> float:
    now = time.perf_counter()
    result.timings[step] = round(now - since, 3)
    return now


def _run(engine: _Duck | _Spark, model: LinkageModel, inputs: Sequence[Path], out: Path,
         work: Path, min_probability: float, config: BatchConfig, result: BatchResult) -> None:
    from splink import Linker

    t = time.perf_counter()
    cols = list(model.columns)
    _load(engine, cols, inputs, result)
    t = _tick(result, "load_s", t)
    rules = scale_rules(cols)
    capped = [_cap(engine, i, rule, config.max_block_people, result)
              for i, rule in enumerate(rules)]
    for side in (0, 1):
        # a rule without capped blocks keys every row; one with them nulls their keys
        keys = ", ".join(
            f"CASE WHEN b{i}.k IS NULL THEN {_key(rule, side, 's.')} END AS bk{i}"
            if capped[i] else f"{_key(rule, side, 's.')} AS bk{i}"
            for i, rule in enumerate(rules))
        joins = " ".join(f"LEFT JOIN sc_big_{i} b{i} ON b{i}.k = {_key(rule, side, 's.')}"
                         for i, rule in enumerate(rules) if capped[i])
        engine.create(f"sc_in_{side}", f"SELECT s.*, {keys} FROM sc_src_{side} s {joins}")
    t = _tick(result, "blocking_s", t)
    settings = _settings_for(model, engine.dialect)
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": f"l.bk{i} = r.bk{i}", "sql_dialect": engine.dialect}
        for i in range(len(rules))]
    api = engine.api()
    linker = Linker([engine.register(api, "sc_in_0", "d0"), engine.register(api, "sc_in_1", "d1")],
                    settings, log_level=None)
    threshold = (math.log2(min_probability / (1 - min_probability))
                 if 0 < min_probability < 1 else None)
    scored = linker.inference.predict(threshold_match_weight=threshold, warning_mode="never")
    raw = work / "raw.parquet"
    keep = ["source_dataset_l", "unique_id_l", "source_dataset_r", "unique_id_r",
            "match_weight", "match_probability"]
    for comp in model.comparison_names:
        keep += [f"gamma_{comp}", f"mw_{comp}"]
        if any(lv.get("tf_adjustment_column") for c in model.settings["comparisons"]
               if c["output_column_name"] == comp for lv in c["comparison_levels"]):
            keep.append(f"mw_tf_adj_{comp}")
    engine.write(f"SELECT {', '.join(keep)} FROM {scored.physical_name} "
                 f"WHERE match_probability >= {float(min_probability)!r}", raw)
    t = _tick(result, "score_s", t)
    _explained(model, raw, out, config.batch_rows, result)
    _tick(result, "explain_s", t)


def _load(engine: _Duck | _Spark, cols: list[str], inputs: Sequence[Path],
          result: BatchResult) -> None:
    """Tables ``sc_src_0`` / ``sc_src_1`` (text columns ``cols``) from the two files."""
    for i, path in enumerate(inputs):
        if not Path(path).exists():
            raise InputError(f"linkage input {path} not found", details={"path": str(path)})
        try:
            have = set(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as e:
            raise InputError(f"linkage input {path} is not a Parquet file: {e}",
                             details={"path": str(path)}) from e
        if "unique_id" not in have:
            raise InputError(f"linkage input {path} has no unique_id column",
                             details={"path": str(path)})
        # a model column the file lacks is NULL on every row (as in predict)
        select = ", ".join(f"CAST({c if c in have else 'NULL'} AS STRING) AS {c}"
                           for c in cols)
        engine.create(f"sc_src_{i}", f"SELECT {select} FROM {engine.source(Path(path))}")
    result.records = int(engine.rows("SELECT count(*) FROM sc_src_0")[0][0])
    result.subjects = int(engine.rows("SELECT count(*) FROM sc_src_1")[0][0])


def count_comparisons(model: LinkageModel, records: Path, subjects: Path, *,
                      config: BatchConfig = BatchConfig()) -> BatchResult:  # noqa: B008
    """Steps 1 and 2 of :func:`score_parquet` on DuckDB only (nothing scored): the
    comparisons the blocks under ``config.max_block_people`` make, and the capped blocks."""
    engine = _Duck(config)
    result = BatchResult(path=records)
    try:
        cols = list(model.columns)
        _load(engine, cols, (records, subjects), result)
        for i, rule in enumerate(scale_rules(cols)):
            _cap(engine, i, rule, config.max_block_people, result)
    finally:
        engine.close()
    return result


def _key(rule: BlockRule, side: int, prefix: str = "") -> str:
    return rule.key_sql("left" if side == 0 else "right", prefix)


def _cap(engine: _Duck | _Spark, i: int, rule: BlockRule, cap: int,
         result: BatchResult) -> bool:
    """Whether rule ``i`` has capped blocks (then table ``sc_big_<i>`` holds their keys); adds
    the kept blocks' comparisons, the capped blocks and a warning to ``result``."""
    engine.create(f"sc_blk_{i}", f"SELECT k, sum(l) AS nl, sum(r) AS nr FROM ("
                  f"SELECT {_key(rule, 0)} AS k, 1 AS l, 0 AS r FROM sc_src_0 UNION ALL "
                  f"SELECT {_key(rule, 1)} AS k, 0 AS l, 1 AS r FROM sc_src_1) t "
                  "WHERE k IS NOT NULL GROUP BY k")
    over = f"nl + nr > {int(cap)} AND nl > 0 AND nr > 0"  # a one-sided block pairs nothing
    (kept, big), = engine.rows(
        f"SELECT sum(CASE WHEN {over} THEN 0 ELSE nl * nr END), "
        f"sum(CASE WHEN {over} THEN 1 ELSE 0 END) FROM sc_blk_{i}")
    result.comparisons += int(kept or 0)
    if not big:
        return False
    engine.create(f"sc_big_{i}", f"SELECT k FROM sc_blk_{i} WHERE {over}")
    largest = engine.rows(f"SELECT k, nl + nr AS n FROM sc_blk_{i} WHERE {over} "
                          f"ORDER BY n DESC, k LIMIT {_NAMED_BLOCKS}")
    result.capped_blocks += int(big)
    named = []
    for key, people in largest:
        shown = " | ".join(str(key).split("\x1f"))
        result.capped.append({"rule": rule.label, "key": shown, "people": int(people)})
        named.append(f"'{shown}' ({int(people):,} people)")
    msg = (f"blocking rule '{rule.label}': {int(big):,} block(s) over {cap:,} people capped "
           f"(their pairs are left to the other rules), the largest {', '.join(named)}")
    result.warnings.append(msg)
    log.warning(msg)
    return True


def _explained(model: LinkageModel, raw: Path, out: Path, batch_rows: int,
               result: BatchResult) -> None:
    """The explanation columns of :func:`socialcredit.identity.model.predict`, added batch by
    batch and written as row groups of ``out``."""
    writer: pq.ParquetWriter | None = None
    tmp = out.with_suffix(".parquet.tmp")
    try:
        for batch in ds.dataset(raw, format="parquet").to_batches(batch_size=batch_rows):
            if not batch.num_rows:
                continue
            table = pa.Table.from_pandas(_explain(model, batch.to_pandas()),
                                         preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
            result.pairs += table.num_rows
        if writer is None:  # nothing above the threshold: an empty file of the same shape
            empty = _explain(model, _empty_raw(model))
            pq.write_table(pa.Table.from_pandas(empty, preserve_index=False), tmp)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(out)


def _empty_raw(model: LinkageModel) -> Any:
    import pandas as pd

    cols: dict[str, Any] = {c: pd.Series([], dtype=object) for c in (
        "source_dataset_l", "unique_id_l", "source_dataset_r", "unique_id_r")}
    cols["match_weight"] = pd.Series([], dtype=float)
    cols["match_probability"] = pd.Series([], dtype=float)
    for comp in model.comparison_names:
        cols[f"gamma_{comp}"] = pd.Series([], dtype=int)
        cols[f"mw_{comp}"] = pd.Series([], dtype=float)
    return pd.DataFrame(cols)
