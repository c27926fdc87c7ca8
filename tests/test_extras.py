"""A missing optional backend raises an ImportError that names the extra to install (STYLE
habit 3, issue #18): psycopg for PostgreSQL (``socialcredit[postgres]``), pyspark for the Spark
engine (``socialcredit[spark]``). The package is hidden by a ``None`` entry in ``sys.modules``,
which makes its import fail as if it were not installed."""

from __future__ import annotations

import pytest

from socialcredit.errors import ConfigError


def test_postgresql_without_psycopg_names_the_postgres_extra(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcredit.store.db import make_engine

    monkeypatch.setitem(__import__("sys").modules, "psycopg", None)
    with pytest.raises(ImportError, match=r"socialcredit\[postgres\]") as caught:
        make_engine("postgresql://registry@127.0.0.1:5432/registry")
    assert isinstance(caught.value, ConfigError)  # one clear message from the CLI and the API


def test_spark_without_pyspark_names_the_spark_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcredit.engines import local_spark

    monkeypatch.setitem(__import__("sys").modules, "pyspark", None)
    with pytest.raises(ImportError, match=r"socialcredit\[spark\]"):
        local_spark(None)
