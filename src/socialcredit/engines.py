"""Engine sessions that more than one stage uses: local Spark (policy's batch evaluation,
identity's linkage). Policy and identity both import it, so neither reaches into the other
for a session (issue #18, DESIGN §5).

Heavy packages are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

__all__ = ["local_spark", "require_pyspark"]


def require_pyspark() -> None:
    """Raises ImportError naming the extra ``socialcredit[spark]`` when pyspark is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "the Spark engine needs pyspark: pip install 'socialcredit[spark]'") from e


def local_spark(tmp_dir: str | Path | None) -> Any:
    """A ``local[2]`` SparkSession with Splink's similarity jar (``JARO_WINKLER``…) and a
    checkpoint directory under ``tmp_dir`` (a new temporary directory when None), as NOTES.md
    requires. Raises ImportError naming ``socialcredit[spark]`` without pyspark."""
    require_pyspark()
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
