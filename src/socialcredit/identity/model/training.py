"""Training the linkage model (Fellegi-Sunter with EM, Splink: the prior, u, then m).

The level "same number outside its validity interval" of ``phone`` has its m probability set
equal to its u probability after training (Bayes factor 1, weight 0): a recycled number is no
evidence (issue #3, item 4).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from splink import Linker, block_on

from socialcredit.identity.model.backends import (
    Backend,
    _check_frames,
    _frame_columns,
    _register,
    backend_api,
)
from socialcredit.identity.model.settings import _RECYCLED_LABEL, LinkType, linkage_settings
from socialcredit.identity.model.trained import LinkageModel, _level_dicts

__all__ = ["train"]

_U_MAX_PAIRS = 1.2e6
_EM_MAX_PAIRS = 2e6
_SIGNIFICANT_DIGITS = 12
# A level never seen in training (e.g. day/month swapped on FEBRL) would get Splink's
# default; we assume instead that one true match in a thousand shows it (m) and, if random
# pairs never showed it either, Splink's own "not observed" u of 1e-6.
_UNOBSERVED_U = 1e-6


def _round(x: float) -> float:
    return float(f"{x:.{_SIGNIFICANT_DIGITS}g}")


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
