"""Tables the READMEs quote from deterministic benchmark runs match a fresh run.

A quoted table is marked by the command that prints it, on the line before the table::

    <!-- table printed by: bench/clocks.py --people 500 --days 60 --markdown -->
    | promise | kept | broken | pending |
    ...

The test runs that command (with this interpreter, from the repository root) and compares its
output with the quoted lines, character for character. A marker saying ``(slow)`` (the
3,000-person year of ``bench/clocks.py``: minutes) runs only when
``SOCIALCREDIT_SLOW_TABLES`` is set, and skips with that reason otherwise.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!-- table printed by( \(slow\))?: (bench/[^ ]+\.py[^>]*?) -->\n"
                    r"((?:\|.*\n)+)", re.M)
SLOW_ENV = "SOCIALCREDIT_SLOW_TABLES"


def quoted_tables() -> list[tuple[str, bool, str, str]]:
    """(file, slow, command, table) for every marked table of README.md and bench/README.md."""
    out = []
    for name in ("README.md", "bench/README.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        out += [(name, bool(m[1]), m[2], m[3]) for m in MARKER.finditer(text)]
    return out


TABLES = quoted_tables()


def test_the_clocks_table_is_marked() -> None:
    """bench/README.md quotes at least one clocks table, run by the test below on every CI
    run (not only with ``SOCIALCREDIT_SLOW_TABLES``)."""
    assert any(c.startswith("bench/clocks.py") and not slow for _, slow, c, _ in TABLES)


@pytest.mark.parametrize(("where", "slow", "command", "table"), TABLES,
                         ids=[f"{w}: {c}" for w, _, c, _ in TABLES])
def test_a_quoted_table_matches_a_fresh_run(where: str, slow: bool, command: str,
                                            table: str) -> None:
    if slow and not os.environ.get(SLOW_ENV):
        pytest.skip(f"{command} takes minutes; set {SLOW_ENV}=1 to compare {where}'s table")
    script, *args = shlex.split(command)
    run = subprocess.run([sys.executable, str(ROOT / script), *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=3600, check=False)
    assert run.returncode in (0, 1), run.stderr[-2000:]  # 1: a broken promise, still a table
    assert run.stdout == table, (
        f"{where} quotes a table that `{command}` no longer prints; now it prints:\n"
        f"{run.stdout}")
