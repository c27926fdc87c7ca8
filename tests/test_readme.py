"""The README cannot drift: every command it shows exists, and the Makefile has its targets."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcredit.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = "\n".join(re.findall(r"```sh\n(.*?)```", README, flags=re.S))
COMMANDS = [line.split("#")[0].strip() for line in BLOCKS.splitlines()
            if line.startswith("socialcredit ")]


def test_readme_keeps_the_two_commands_first() -> None:
    first = BLOCKS.splitlines()[:2]
    assert first[0].startswith("make demo") and first[1].startswith("make test")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test", "check", "serve", "bench"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_exists(command: str) -> None:
    words = [w for w in shlex.split(command)[1:] if not w.startswith(("-", "[", "path", "var"))]
    path = []
    for w in words:  # the subcommand path: words until the first argument
        if not re.fullmatch(r"[a-z-]+", w) or len(path) == 2:
            break
        path.append(w)
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, (command, result.output)
    options = re.findall(r"(--[a-z-]+)", command)
    for option in options:
        assert option in result.output, (command, option)
