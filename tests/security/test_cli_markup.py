"""Furnisher text is never read as Rich markup by the operator's terminal (issue #20,
finding 7): a ``kind`` of ``[/]`` crashed ``ingest`` and ``ingest --show-rejects`` with a
traceback, and ``[link=…]`` became a clickable link. Run as the real console script, with
Rich forced to render for a terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import make_id, write_csv

HOSTILE = "[link=https://evil.example/]click[/link]"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "FORCE_COLOR": "1", "TERM": "xterm-256color", "COLUMNS": "300"}
    return subprocess.run([sys.executable, "-c", "from socialcredit.cli import main; main()",
                           *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_furnisher_text_is_printed_not_interpreted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert _cli("--database-url", url, "init", cwd=tmp_path).returncode == 0
    assert _cli("--database-url", url, "furnishers", "add", "court-x", "--kind", "court",
                cwd=tmp_path).returncode == 0
    path = write_csv(tmp_path / "[red]court[bold].csv", [
        {"furnisher_record_id": "A-1", "kind": "[/]", "occurred_at": "2026-05-01",
         "national_id": make_id(), "name": "x"},
        {"furnisher_record_id": "A-2", "kind": HOSTILE, "occurred_at": "2026-05-01",
         "national_id": make_id(seq=125), "name": "x"}])
    for args in (("ingest", str(path), "--furnisher", "court-x", "--as-of", "2026-06-30"),
                 ("ingest", "--show-rejects")):
        out = _cli("--database-url", url, *args, cwd=tmp_path)
        raw = out.stdout + out.stderr
        assert "\x1b]8;" not in raw  # no OSC 8 hyperlink reached the terminal
        text = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw).split())  # colours off
        assert "Traceback" not in text and out.returncode == 0, text
        assert "'[/]'" in text  # shown as typed
        assert HOSTILE in text, text
