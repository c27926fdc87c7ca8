"""Probabilistic linkage model (issue #3): Splink 5 settings, training, prediction, explanations.

Input frames (pandas) carry these text columns, any optional one may be absent:

    unique_id (required, unique within a frame) · family_name · given_name · full_name
    · birth_date (ISO ``YYYY-MM-DD`` text, impossible dates kept as text) · national_id · phone
    (E.164) · occurred_at (ISO date of a record) · phone_from / phone_to (ISO validity interval
    of ``phone`` on the subjects side, ``phone_to`` null = still valid) · address · postcode
    · suburb · state

Comparisons (output names, each gives ``w_<name>`` and ``level_<name>`` in :func:`predict`):
``name``, ``birth_date``, ``national_id``, ``phone``, ``address``, ``postcode``, ``suburb``,
``state`` — each only when its columns are present. Every SQL condition is written once and
runs unchanged on DuckDB and Spark (dates are ISO text; Spark needs Splink's similarity jar,
see :func:`local_spark`). String similarity uses (Damerau-)Levenshtein distances only:
Splink's Spark jar computes Jaro and Jaro-Winkler differently from DuckDB (measured here on
FEBRL names: 1,698 of 5,006 pairs differ, up to 0.11), which would give different links on
the two engines; Levenshtein and Damerau-Levenshtein agreed on all 8,498 pairs tried.

A trained model (:class:`LinkageModel`) keeps Splink's full JSON settings with the trained
m/u probabilities. :func:`predict` rebuilds the settings for the target backend's dialect from
:func:`linkage_settings` and copies the trained parameters into them, so a model trained on
DuckDB scores identically on Spark.

The level "same number outside its validity interval" of ``phone`` has its m probability set
equal to its u probability after training (Bayes factor 1, weight 0): a recycled number is no
evidence (issue #3, item 4).

Method: Fellegi-Sunter with EM (Splink, https://moj-analytical-services.github.io/splink/).

Blocking rules come from :mod:`socialcredit.identity.blocking` (written once for the model's
settings and the batch pass). Over 400 lines: the comparison levels, the saved model and the
prediction share the level labels this file defines; splitting settings from inference is
left for a later change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on

from socialcredit.errors import ConfigError, InputError
from socialcredit.identity.blocking import scale_rules

__all__ = [
    "COLUMNS",
    "LinkageModel",
    "backend_api",
    "best_links",
    "blocking_warnings",
    "linkage_settings",
    "local_spark",
    "predict",
    "train",
]

logger = logging.getLogger(__name__)

Backend = Literal["duckdb", "spark"]
LinkType = Literal["link_only", "dedupe_only"]

#: Every column a linkage frame may carry, in a fixed order.
COLUMNS: tuple[str, ...] = (
    "unique_id", "family_name", "given_name", "full_name", "birth_date", "national_id", "phone",
    "occurred_at", "phone_from", "phone_to", "address", "postcode", "suburb", "state",
)
MODEL_FORMAT = "socialcredit.linkage_model/1"
MAX_BLOCK_PEOPLE = 100
MAX_RULE_COMPARISONS = 10_000_000
_U_MAX_PAIRS = 1.2e6
_EM_MAX_PAIRS = 2e6
_SIGNIFICANT_DIGITS = 12
# A level never seen in training (e.g. day/month swapped on FEBRL) would get Splink's
# default; we assume instead that one true match in a thousand shows it (m) and, if random
# pairs never showed it either, Splink's own "not observed" u of 1e-6.
_UNOBSERVED_U = 1e-6
_RECYCLED_LABEL = "same number outside its validity interval"

# A date of birth is ISO text: year = chars 1-4, month = 6-7, day = 9-10.
_DOB_SWAPPED = (
    "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)"
    " AND substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2)"
    " AND substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)"
)
_DOB_YEAR_OFF_BY_ONE = (
    "substr(birth_date_l, 6, 5) = substr(birth_date_r, 6, 5)"
    " AND abs(TRY_CAST(substr(birth_date_l, 1, 4) AS INTEGER)"
    " - TRY_CAST(substr(birth_date_r, 1, 4) AS INTEGER)) = 1"
)
# Either side may be the record (occurred_at) or the subject (phone_from/phone_to): symmetric.
_PHONE_IN_INTERVAL = (
    "phone_l = phone_r AND ("
    "(occurred_at_l >= phone_from_r AND (phone_to_r IS NULL OR occurred_at_l < phone_to_r))"
    " OR (occurred_at_r >= phone_from_l AND (phone_to_l IS NULL OR occurred_at_r < phone_to_l)))"
)


# --------------------------------------------------------------------------- settings


def _one_typo(col: str) -> Any:
    """Damerau-Levenshtein distance <= 1 (one substitution, insertion, deletion or adjacent
    transposition). DL <= 1 implies Levenshtein <= 2; the cheap test first makes it about 4x
    faster on DuckDB, whose damerau_levenshtein is slow."""
    return cll.And(cll.LevenshteinLevel(col, 2), cll.DamerauLevenshteinLevel(col, 1))


def _name_comparison(cols: Collection[str]) -> cl.CustomComparison:
    has_full = "full_name" in cols
    levels: list[Any] = [
        cll.CustomLevel(
            "(family_name_l IS NULL OR family_name_r IS NULL)"
            " AND (given_name_l IS NULL OR given_name_r IS NULL)",
            "null",
        ).configure(is_null_level=True),
    ]
    if has_full:
        levels.append(cll.ExactMatchLevel("full_name").configure(
            tf_adjustment_column="full_name", tf_adjustment_weight=1.0,
            label_for_charts="exact full name"))
    levels += [
        cll.ColumnsReversedLevel("family_name", "given_name", symmetrical=True).configure(
            label_for_charts="family and given name swapped"),
        cll.And(cll.ExactMatchLevel("family_name"), cll.LevenshteinLevel("given_name", 2))
        .configure(tf_adjustment_column="family_name", tf_adjustment_weight=1.0,
                   label_for_charts="same family name, similar given name"),
        cll.And(cll.LevenshteinLevel("family_name", 2), cll.ExactMatchLevel("given_name"))
        .configure(tf_adjustment_column="given_name", tf_adjustment_weight=1.0,
                   label_for_charts="similar family name, same given name"),
    ]
    if has_full:
        levels += [
            cll.LevenshteinLevel("full_name", 2).configure(
                label_for_charts="full name within 2 edits"),
            cll.LevenshteinLevel("full_name", 4).configure(
                label_for_charts="full name within 4 edits"),
        ]
    levels += [
        cll.ExactMatchLevel("family_name").configure(
            tf_adjustment_column="family_name", tf_adjustment_weight=1.0,
            label_for_charts="same family name only"),
        cll.ExactMatchLevel("given_name").configure(
            tf_adjustment_column="given_name", tf_adjustment_weight=1.0,
            label_for_charts="same given name only"),
        cll.ElseLevel().configure(label_for_charts="different"),
    ]
    return cl.CustomComparison(levels, output_column_name="name",
                               comparison_description="family and given name")


def _birth_date_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("birth_date").configure(label_for_charts="null"),
            cll.ExactMatchLevel("birth_date").configure(label_for_charts="exact"),
            cll.CustomLevel(_DOB_SWAPPED, "day and month swapped"),
            _one_typo("birth_date").configure(label_for_charts="one-character typo"),
            cll.CustomLevel(_DOB_YEAR_OFF_BY_ONE, "one year apart, same month and day"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ],
        output_column_name="birth_date",
        comparison_description="date of birth (ISO text)",
    )


def _national_id_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("national_id").configure(label_for_charts="null"),
            cll.ExactMatchLevel("national_id").configure(label_for_charts="exact"),
            cll.LevenshteinLevel("national_id", 1).configure(label_for_charts="one edit"),
            _one_typo("national_id").configure(label_for_charts="transposition"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ],
        output_column_name="national_id",
        comparison_description="national ID",
    )


def _phone_comparison(cols: Collection[str]) -> cl.CustomComparison:
    levels: list[Any] = [cll.NullLevel("phone").configure(label_for_charts="null")]
    if {"occurred_at", "phone_from", "phone_to"} <= set(cols):
        levels += [
            cll.CustomLevel(_PHONE_IN_INTERVAL, "same number within its validity interval"),
            cll.CustomLevel("phone_l = phone_r", _RECYCLED_LABEL),
        ]
    else:
        levels.append(cll.ExactMatchLevel("phone").configure(label_for_charts="same number"))
    levels.append(cll.ElseLevel().configure(label_for_charts="different"))
    return cl.CustomComparison(levels, output_column_name="phone",
                               comparison_description="phone (E.164) and its validity")


def _address_comparison() -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel("address").configure(label_for_charts="null"),
            cll.ExactMatchLevel("address").configure(label_for_charts="exact"),
            cll.LevenshteinLevel("address", 2).configure(label_for_charts="within 2 edits"),
            cll.LevenshteinLevel("address", 5).configure(label_for_charts="within 5 edits"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ],
        output_column_name="address",
        comparison_description="normalised address",
    )


def _exact_or_typo(col: str) -> cl.CustomComparison:
    return cl.CustomComparison(
        [
            cll.NullLevel(col).configure(label_for_charts="null"),
            cll.ExactMatchLevel(col).configure(label_for_charts="exact"),
            _one_typo(col).configure(label_for_charts="one-character typo"),
            cll.ElseLevel().configure(label_for_charts="different"),
        ],
        output_column_name=col,
        comparison_description=col,
    )


def _blocking_rules(cols: Collection[str]) -> list[Any]:
    """The rules of :func:`socialcredit.identity.blocking.scale_rules` as Splink SQL."""
    return [rule.splink_sql() for rule in scale_rules(cols)]


def linkage_settings(columns: Collection[str], *, link_type: LinkType) -> SettingsCreator:
    """Splink 5 settings (untrained) for frames that carry ``columns`` (see the module
    docstring). Only comparisons and blocking rules whose columns are present are built.

    Raises :class:`~socialcredit.errors.InputError` if ``unique_id`` is missing or no
    comparison can be built."""
    c = set(columns)
    if "unique_id" not in c:
        raise InputError("linkage frames need a unique_id column")
    comparisons: list[Any] = []
    if {"family_name", "given_name"} <= c:
        comparisons.append(_name_comparison(c))
    if "birth_date" in c:
        comparisons.append(_birth_date_comparison())
    if "national_id" in c:
        comparisons.append(_national_id_comparison())
    if "phone" in c:
        comparisons.append(_phone_comparison(c))
    if "address" in c:
        comparisons.append(_address_comparison())
    for col in ("postcode", "suburb"):
        if col in c:
            comparisons.append(_exact_or_typo(col))
    if "state" in c:
        comparisons.append(cl.ExactMatch("state"))
    if len(comparisons) < 2:
        raise InputError("linkage needs at least two comparable columns",
                         details={"columns": sorted(c)})
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=_blocking_rules(c),
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        em_convergence=0.0001,
        max_iterations=25,
    )


# --------------------------------------------------------------------------- backends


def backend_api(backend: Backend, spark: Any = None) -> Any:
    """A fresh Splink database API: ``DuckDBAPI()`` (in memory) or ``SparkAPI`` on ``spark``
    (a :func:`local_spark` session when None). Raises ImportError naming the extra
    ``socialcredit[spark]`` when pyspark is missing; :class:`ConfigError` for another name."""
    if backend == "duckdb":
        from splink.backends.duckdb import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        _require_pyspark()
        from splink.backends.spark import SparkAPI

        return SparkAPI(spark_session=spark if spark is not None else local_spark(None))
    raise ConfigError(f"unknown linkage backend {backend!r}", details={"backend": backend})


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "the Spark linkage backend needs pyspark: pip install 'socialcredit[spark]'") from e


def local_spark(tmp_dir: str | Path | None) -> Any:
    """A ``local[2]`` SparkSession with Splink's similarity jar (``JARO_WINKLER``…) and a
    checkpoint directory under ``tmp_dir`` (a new temporary directory when None), as NOTES.md
    requires. Raises ImportError naming ``socialcredit[spark]`` without pyspark."""
    _require_pyspark()
    import tempfile

    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    base = Path(tmp_dir) if tmp_dir is not None else Path(tempfile.mkdtemp(prefix="sc-spark-"))
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("socialcredit-linkage")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.local.dir", str(base / "local"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir(str(base / "checkpoints"))
    return spark


def _frame_columns(frames: Sequence[pd.DataFrame]) -> tuple[str, ...]:
    present = set().union(*(set(f.columns) for f in frames))
    return tuple(c for c in COLUMNS if c in present)


def _as_arrow(frame: pd.DataFrame, columns: Sequence[str]) -> pa.Table:
    if "unique_id" not in frame.columns:
        raise InputError("linkage frame without a unique_id column")
    if frame["unique_id"].isna().any() or frame["unique_id"].duplicated().any():
        raise InputError("unique_id must be present and unique within a frame")
    arrays = []
    for col in columns:
        if col in frame.columns:
            values = frame[col].astype("string")
            arrays.append(pa.Array.from_pandas(values, type=pa.string()))
        else:
            arrays.append(pa.nulls(len(frame), type=pa.string()))
    return pa.Table.from_arrays(arrays, names=list(columns))


def _register(db_api: Any, frames: Sequence[pd.DataFrame], columns: Sequence[str],
              backend: Backend) -> list[Any]:
    out = []
    for i, frame in enumerate(frames):
        table = _as_arrow(frame, columns)
        name = f"d{i}"
        if backend == "spark":
            from pyspark.sql.types import StringType, StructField, StructType

            schema = StructType([StructField(c, StringType(), True) for c in columns])
            pdf = table.to_pandas().astype(object)
            pdf = pdf.where(pdf.notna(), None)
            sdf = db_api.spark.createDataFrame(pdf, schema=schema)
            out.append(db_api.register(sdf, dataset_display_name=name))
        else:
            out.append(db_api.register(table, dataset_display_name=name))
    return out


def _check_frames(frames: Sequence[pd.DataFrame], link_type: LinkType) -> None:
    if link_type == "link_only" and len(frames) != 2:
        raise InputError("link_only needs exactly two frames", details={"frames": len(frames)})
    if link_type == "dedupe_only" and len(frames) != 1:
        raise InputError("dedupe_only needs exactly one frame", details={"frames": len(frames)})


# --------------------------------------------------------------------------- blocking warnings


def blocking_warnings(
    frames: Sequence[pd.DataFrame],
    settings: SettingsCreator | LinkageModel,
    backend: Backend = "duckdb",
    *,
    spark: Any = None,
    max_block_people: int = MAX_BLOCK_PEOPLE,
    max_comparisons: int = MAX_RULE_COMPARISONS,
) -> list[str]:
    """Warnings (also logged at WARNING) for each blocking rule of ``settings`` that makes a
    block of more than ``max_block_people`` records (both sides counted for link_only) or more
    than ``max_comparisons`` comparisons in all (issue #3: 100 people, 10 M comparisons).
    Counts are exact and taken before the rule's filter conditions, from the equi-join keys.
    A warning names the rule, the number of oversize blocks and the largest block's size,
    never a key value (no names or IDs in logs)."""
    if isinstance(settings, LinkageModel):
        settings = linkage_settings(settings.columns, link_type=settings.link_type)
    from splink.internals.blocking_analysis import (
        _count_comparisons_from_blocking_rule_pre_filter_conditions_sqls as block_sqls,
    )
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator
    from splink.internals.pipeline import CTEPipeline

    link_type: LinkType = settings.link_type  # type: ignore[assignment]
    _check_frames(frames, link_type)
    db_api = backend_api(backend, spark)
    dialect = db_api.sql_dialect.sql_dialect_str
    columns = _frame_columns(frames)
    registered = _register(db_api, frames, columns, backend)
    tables = {sdf.templated_name: sdf for sdf in registered}
    two_sided = link_type == "link_only"
    people = "count_l + count_r" if two_sided else "count_l"
    pairs = "count_l * count_r" if two_sided else "count_l * (count_l - 1) / 2"
    warnings_out: list[str] = []
    for creator in settings.blocking_rules_to_generate_predictions:
        rule = to_blocking_rule_creator(creator).get_blocking_rule(dialect)
        pipeline = CTEPipeline()
        pipeline.enqueue_list_of_sqls(block_sqls(tables, rule, link_type))
        pipeline.enqueue_sql(
            f"""
            SELECT
                SUM(CASE WHEN {people} > {int(max_block_people)} THEN 1 ELSE 0 END) AS big,
                MAX({people}) AS largest,
                SUM({pairs}) AS comparisons
            FROM __splink__block_counts
            """,
            "__sc_block_summary",
        )
        result = db_api.sql_pipeline_to_splink_dataframe(pipeline)
        row = result.as_record_list()[0]
        result.drop_table_from_database_and_remove_from_cache()
        big, largest = int(row["big"] or 0), int(row["largest"] or 0)
        comparisons = int(row["comparisons"] or 0)
        text = " ".join(rule.blocking_rule_sql.split())
        if big:
            warnings_out.append(
                f"blocking rule {text}: {big} block(s) exceed {max_block_people} people "
                f"(largest {largest})")
        if comparisons > max_comparisons:
            warnings_out.append(
                f"blocking rule {text}: {comparisons:,} comparisons exceed "
                f"{max_comparisons:,}")
    for msg in warnings_out:
        logger.warning(msg)
    return warnings_out


# --------------------------------------------------------------------------- model


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _round(x: float) -> float:
    return float(f"{x:.{_SIGNIFICANT_DIGITS}g}")


@dataclass(frozen=True)
class LinkageModel:
    """A trained model: ``settings`` is Splink's full JSON settings dict (m/u probabilities,
    ``probability_two_random_records_match``, DuckDB-dialect SQL); ``version`` the first 16 hex
    characters of the SHA-256 of its canonical JSON (sorted keys, no spaces); ``trained_at``
    ISO UTC; ``columns`` the frame columns it was trained on."""

    settings: dict[str, Any]
    version: str
    trained_at: str
    seed: int
    link_type: LinkType
    columns: tuple[str, ...] = field(default_factory=tuple)

    @staticmethod
    def version_of(settings: dict[str, Any]) -> str:
        return hashlib.sha256(_canonical(settings).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        """The file text: ``{"format", "version", "trained_at", "seed", "link_type",
        "columns", "settings"}`` with sorted keys."""
        return json.dumps({
            "format": MODEL_FORMAT, "version": self.version, "trained_at": self.trained_at,
            "seed": self.seed, "link_type": self.link_type, "columns": list(self.columns),
            "settings": self.settings,
        }, sort_keys=True, indent=1, ensure_ascii=True) + "\n"

    def save(self, folder: str | Path) -> Path:
        """Write ``<folder>/linkage-<version>.json`` (the folder is created). An existing file
        of the same model is left as it is; a file of that name holding another model raises
        :class:`ConfigError` (models are never overwritten)."""
        target = Path(folder) / f"linkage-{self.version}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            try:
                other = LinkageModel.load(target)
            except ConfigError as e:
                raise ConfigError(f"{target} exists and is not a model; not overwritten",
                                  details={"path": str(target)}) from e
            if _canonical(other.settings) != _canonical(self.settings):
                raise ConfigError(f"{target} holds a different model; not overwritten",
                                  details={"path": str(target)})
            return target
        tmp = target.with_suffix(".json.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(target)
        return target

    @property
    def comparison_names(self) -> tuple[str, ...]:
        """Output names of the comparisons (``w_<name>``/``level_<name>`` in predictions)."""
        return tuple(c["output_column_name"] for c in self.settings["comparisons"])

    @property
    def tf_columns(self) -> tuple[str, ...]:
        """Columns with term-frequency adjustments, in first-use order."""
        cols = [lv["tf_adjustment_column"] for c in self.settings["comparisons"]
                for lv in c["comparison_levels"] if lv.get("tf_adjustment_column")]
        return tuple(dict.fromkeys(cols))

    @classmethod
    def load(cls, path: str | Path) -> LinkageModel:
        """Read a file written by :meth:`save`. Raises :class:`ConfigError` when the file is
        missing, unreadable, not a model, or its settings do not hash to its version."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError as e:
            raise ConfigError(f"linkage model {p} not found", details={"path": str(p)}) from e
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"linkage model {p} is unreadable: {e}",
                              details={"path": str(p)}) from e
        return cls.from_json(text, source=str(p))

    @classmethod
    def from_json(cls, text: str, *, source: str = "<text>") -> LinkageModel:
        """Parse the text of :meth:`to_json`. Raises :class:`ConfigError` when it is not a
        model or its settings do not hash to its version."""
        p = source
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"linkage model {p} is unreadable: {e}",
                              details={"path": str(p)}) from e
        try:
            if doc["format"] != MODEL_FORMAT:
                raise ValueError(f"format {doc['format']!r}")
            settings = doc["settings"]
            if not isinstance(settings, dict) or not settings.get("comparisons"):
                raise ValueError("no comparisons")
            model = cls(settings=settings, version=str(doc["version"]),
                        trained_at=str(doc["trained_at"]), seed=int(doc["seed"]),
                        link_type=doc["link_type"], columns=tuple(doc["columns"]))
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            raise ConfigError(f"linkage model {p} is corrupt: {e}",
                              details={"path": str(p)}) from e
        if model.link_type not in ("link_only", "dedupe_only"):
            raise ConfigError(f"linkage model {p}: unknown link_type", details={"path": str(p)})
        if cls.version_of(settings) != model.version:
            raise ConfigError(f"linkage model {p} is corrupt: settings do not match version",
                              details={"path": str(p)})
        return model


def _level_dicts(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {c["output_column_name"]: c["comparison_levels"] for c in settings["comparisons"]}


def _finish_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Drop the random linker id, make unobserved levels neutral (m = u), neutralise the
    recycled-phone level, round floats."""
    out = json.loads(json.dumps(settings))
    out.pop("linker_uid", None)
    for levels in _level_dicts(out).values():
        for level in levels:
            if level.get("is_null_level"):
                continue
            # a level training never saw is no evidence either way (m = u, weight 0): a
            # fallback m would turn e.g. "different address" into evidence FOR a match when
            # the training data had no addresses (found by a newcomer's retrain)
            level.setdefault("u_probability", _UNOBSERVED_U)
            level.setdefault("m_probability", level["u_probability"])
            if level.get("label_for_charts") == _RECYCLED_LABEL and "u_probability" in level:
                level["m_probability"] = level["u_probability"]
            for key in ("m_probability", "u_probability"):
                if key in level:
                    level[key] = _round(level[key])
    out["probability_two_random_records_match"] = _round(
        out["probability_two_random_records_match"])
    return out


def train(
    frames: Sequence[pd.DataFrame],
    *,
    link_type: LinkType,
    backend: Backend = "duckdb",
    seed: int = 42,
    spark: Any = None,
) -> LinkageModel:
    """Train a model on ``frames`` (two for link_only, one for dedupe_only): the prior
    ``probability_two_random_records_match`` from deterministic rules (exact national ID;
    full name + date of birth; assumed recall 0.8), u by random sampling with ``seed``
    (1.2 M pairs), m by EM blocked on date of birth and on full name (at most 2 M pairs each,
    hash sampled). Probabilities are rounded to 12 significant digits, so the same seed and the
    same data give a byte-identical ``settings`` (and ``version``). Raises
    :class:`InputError` for unusable frames; ImportError without pyspark on Spark."""
    _check_frames(frames, link_type)
    columns = _frame_columns(frames)
    creator = linkage_settings(columns, link_type=link_type)
    db_api = backend_api(backend, spark)
    linker = Linker(_register(db_api, frames, columns, backend), creator, log_level=None)
    c = set(columns)
    deterministic: list[Any] = []
    if "national_id" in c:
        deterministic.append(block_on("national_id"))
    if {"full_name", "birth_date"} <= c:
        deterministic.append(block_on("full_name", "birth_date"))
    if deterministic:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=_U_MAX_PAIRS, seed=seed)
    em_rules: list[Any] = []
    if "birth_date" in c:
        em_rules.append(block_on("birth_date"))
    if "full_name" in c:
        em_rules.append(block_on("full_name"))
    elif "national_id" in c:
        em_rules.append(block_on("national_id"))
    for rule in em_rules:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True, max_pairs=_EM_MAX_PAIRS)
    settings = _finish_settings(linker.misc.save_model_to_json())
    return LinkageModel(
        settings=settings, version=LinkageModel.version_of(settings),
        trained_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        seed=seed, link_type=link_type, columns=columns)


def _settings_for(model: LinkageModel, dialect: str) -> dict[str, Any]:
    """The model's trained parameters on settings built for ``dialect``."""
    fresh = linkage_settings(model.columns, link_type=model.link_type)
    out = fresh.create_settings_dict(dialect)
    out = json.loads(json.dumps(out, default=str))
    trained = _level_dicts(model.settings)
    comparisons = []
    for comp in out["comparisons"]:
        name = comp["output_column_name"]
        levels = trained.get(name)
        if levels is None or len(levels) != len(comp["comparison_levels"]):
            raise ConfigError(f"linkage model {model.version} does not fit these settings "
                              f"(comparison {name!r})", details={"version": model.version})
        for new, old in zip(comp["comparison_levels"], levels, strict=True):
            if new.get("label_for_charts") != old.get("label_for_charts"):
                raise ConfigError(f"linkage model {model.version}: level labels of "
                                  f"{name!r} changed", details={"version": model.version})
            for key in ("m_probability", "u_probability"):
                if key in old:
                    new[key] = old[key]
        comparisons.append(comp)
    out["comparisons"] = comparisons
    out["probability_two_random_records_match"] = model.settings[
        "probability_two_random_records_match"]
    out["retain_intermediate_calculation_columns"] = True
    out["retain_matching_columns"] = True  # the only way to get the gamma (level) columns
    out["sql_dialect"] = dialect
    return out


def _extra_columns(frames: Sequence[pd.DataFrame]) -> tuple[str, ...]:
    """Columns outside :data:`COLUMNS` present in every frame (e.g. a group id that custom
    blocking rules use); passed through as text."""
    common = set.intersection(*(set(f.columns) for f in frames)) if frames else set()
    return tuple(sorted(common - set(COLUMNS)))


def _linker(model: LinkageModel, frames: Sequence[pd.DataFrame], backend: Backend,
            spark: Any, *, blocking_rules: Sequence[str] | None = None,
            tf_frames: Mapping[str, pd.DataFrame] | None = None) -> Any:
    _check_frames(frames, model.link_type)
    db_api = backend_api(backend, spark)
    dialect = db_api.sql_dialect.sql_dialect_str
    settings = _settings_for(model, dialect)
    if blocking_rules is not None:
        settings["blocking_rules_to_generate_predictions"] = [
            {"blocking_rule": rule, "sql_dialect": dialect} for rule in blocking_rules]
    columns = (*model.columns, *_extra_columns(frames))
    linker = Linker(_register(db_api, frames, columns, backend), settings, log_level=None)
    for col, table in (tf_frames or {}).items():
        if col not in model.tf_columns:
            raise InputError(f"{col!r} has no term-frequency adjustment in this model")
        if list(table.columns) != [col, f"tf_{col}"]:
            raise InputError(f"a term-frequency table for {col!r} has the columns "
                             f"{col!r} and 'tf_{col}'")
        registered = db_api.register(table.reset_index(drop=True))
        linker.table_management.register_term_frequency_lookup(registered, col)
    return linker


def predict(
    model: LinkageModel,
    frames: Sequence[pd.DataFrame],
    *,
    backend: Backend = "duckdb",
    threshold_match_weight: float | None = 0.0,
    spark: Any = None,
    blocking_rules: Sequence[str] | None = None,
    tf_frames: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Score the blocked pairs of ``frames`` and keep those with ``match_weight >=
    threshold_match_weight`` (None: keep all). Columns: ``unique_id_l``, ``unique_id_r``,
    (link_only) ``source_dataset_l``/``_r`` (``d0`` = first frame, ``d1`` = second),
    ``match_weight`` (log2 Bayes factor incl. the prior), ``match_probability``, and per
    comparison ``w_<name>`` (its contribution in log2 Bayes factor, term-frequency adjustment
    included) and ``level_<name>`` (the label of the level that applied). Sorted by ids.

    ``blocking_rules`` (SQL on ``l.``/``r.`` columns, e.g. ``"l.group_id = r.group_id"``)
    replace the model's; columns outside :data:`COLUMNS` present in every frame are kept for
    them. ``tf_frames`` maps a TF column (see :attr:`LinkageModel.tf_columns`) to a frame
    ``[<col>, tf_<col>]`` of relative frequencies used instead of the frames' own."""
    linker = _linker(model, frames, backend, spark, blocking_rules=blocking_rules,
                     tf_frames=tf_frames)
    raw = linker.inference.predict(threshold_match_weight=threshold_match_weight,
                                   warning_mode="never").as_pandas_dataframe()
    return _explain(model, raw)


def _explain(model: LinkageModel, raw: pd.DataFrame) -> pd.DataFrame:
    keys = ["unique_id_l", "unique_id_r"]
    if model.link_type == "link_only":
        keys = ["source_dataset_l", "unique_id_l", "source_dataset_r", "unique_id_r"]
    out = raw[keys].astype(str).copy()
    out["match_weight"] = raw["match_weight"].astype(float)
    out["match_probability"] = raw["match_probability"].astype(float)
    for comp in model.settings["comparisons"]:
        name = comp["output_column_name"]
        levels = comp["comparison_levels"]
        weight = raw[f"mw_{name}"].astype(float)
        if f"mw_tf_adj_{name}" in raw.columns:
            weight = weight + raw[f"mw_tf_adj_{name}"].astype(float)
        out[f"w_{name}"] = weight.to_numpy()
        graded = [lv for lv in levels if not lv.get("is_null_level")]
        labels = {len(graded) - 1 - i: lv.get("label_for_charts", lv["sql_condition"])
                  for i, lv in enumerate(graded)}
        labels[-1] = next((lv.get("label_for_charts", "null") for lv in levels
                           if lv.get("is_null_level")), "null")
        out[f"level_{name}"] = raw[f"gamma_{name}"].astype(int).map(labels)
    return out.sort_values(keys, kind="mergesort").reset_index(drop=True)


def best_links(pairs: pd.DataFrame, *, min_probability: float = 0.5) -> pd.DataFrame:
    """The best right-side match of each left record among ``pairs`` (from :func:`predict`)
    with ``match_probability >= min_probability``: highest match weight, ties broken by the
    smallest ``unique_id_r``. Same columns as ``pairs``, sorted by the left id."""
    left = ["source_dataset_l", "unique_id_l"] if "source_dataset_l" in pairs else ["unique_id_l"]
    right = ["source_dataset_r", "unique_id_r"] if "source_dataset_r" in pairs else ["unique_id_r"]
    kept = pairs[pairs["match_probability"] >= min_probability]
    ordered = kept.sort_values(
        [*left, "match_weight", *right], ascending=[True] * len(left) + [False]
        + [True] * len(right), kind="mergesort")
    return ordered.drop_duplicates(left, keep="first").reset_index(drop=True)
