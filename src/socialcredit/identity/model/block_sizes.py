"""Warnings for blocking rules that make oversize blocks (issue #3: 100 people, 10 M pairs)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
from splink import SettingsCreator

from socialcredit.identity.model.backends import (
    Backend,
    _check_frames,
    _frame_columns,
    _register,
    backend_api,
)
from socialcredit.identity.model.settings import LinkType, linkage_settings
from socialcredit.identity.model.trained import LinkageModel

__all__ = ["MAX_BLOCK_PEOPLE", "MAX_RULE_COMPARISONS", "blocking_warnings"]

logger = logging.getLogger(__name__)

MAX_BLOCK_PEOPLE = 100
MAX_RULE_COMPARISONS = 10_000_000


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
