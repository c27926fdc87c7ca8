"""Docs that cannot drift: ``docs/cli.md`` is what Typer's docs command makes of the CLI today.

A command, option or help text changed without ``make docs`` fails here, with the first line
that differs.
"""

from __future__ import annotations

import difflib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "cli.md"


def test_the_cli_reference_is_generated_from_the_cli(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    # the same command as `make docs`, run by this interpreter
    subprocess.run([sys.executable, "-m", "typer", "socialcredit.cli", "utils", "docs",
                    "--name", "socialcredit", "--output", str(fresh)],
                   check=True, capture_output=True, timeout=120, cwd=tmp_path)
    want, have = fresh.read_text(encoding="utf-8"), REFERENCE.read_text(encoding="utf-8")
    diff = "".join(list(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                             "docs/cli.md", "the CLI today"))[:40])
    assert have == want, f"docs/cli.md is stale: run `make docs`\n{diff}"
    assert "## `socialcredit policy diff`" in have and "--compare" in have
