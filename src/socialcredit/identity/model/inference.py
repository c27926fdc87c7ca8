"""Scoring pairs with a trained linkage model, on the engine of the caller's choice.

:func:`predict` rebuilds the settings for the target backend's dialect from
:func:`~socialcredit.identity.model.settings.linkage_settings` and copies the trained
parameters into them, so a model trained on DuckDB scores identically on Spark.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from splink import Linker

from socialcredit.errors import ConfigError, InputError
from socialcredit.identity.model.backends import Backend, _check_frames, _register, backend_api
from socialcredit.identity.model.settings import COLUMNS, linkage_settings
from socialcredit.identity.model.trained import LinkageModel, _level_dicts

__all__ = ["best_links", "predict"]


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
