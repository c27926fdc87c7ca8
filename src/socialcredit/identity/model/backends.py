"""Splink database APIs (DuckDB in memory, Spark) and the registration of input frames on them.

Every frame is registered with the same text columns, in :data:`~.settings.COLUMNS` order
(absent ones as nulls), under the names ``d0``, ``d1``… that Splink reports as
``source_dataset``. Spark needs Splink's similarity jar, see
:func:`socialcredit.engines.local_spark` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from socialcredit.engines import local_spark, require_pyspark
from socialcredit.errors import ConfigError, InputError
from socialcredit.identity.model.settings import COLUMNS, LinkType

__all__ = ["Backend", "backend_api", "local_spark"]

Backend = Literal["duckdb", "spark"]


def backend_api(backend: Backend, spark: Any = None) -> Any:
    """A fresh Splink database API: ``DuckDBAPI()`` (in memory) or ``SparkAPI`` on ``spark``
    (a :func:`local_spark` session when None). Raises ImportError naming the extra
    ``socialcredit[spark]`` when pyspark is missing; :class:`ConfigError` for another name."""
    if backend == "duckdb":
        from splink.backends.duckdb import DuckDBAPI

        return DuckDBAPI()
    if backend == "spark":
        require_pyspark()
        from splink.backends.spark import SparkAPI

        return SparkAPI(spark_session=spark if spark is not None else local_spark(None))
    raise ConfigError(f"unknown linkage backend {backend!r}", details={"backend": backend})


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
