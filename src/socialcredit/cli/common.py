"""What every command group of the CLI shares: the consoles, the ``--json`` and ``--as-of``
options, the global options' state and the registry they configure.

* :data:`console` prints results to stdout (so ``> file`` keeps them); :data:`err_console`
  prints errors, notes and progress to stderr (DESIGN §6).
* :data:`JsonOpt` (``--json``: print one JSON object) and :data:`AsOfOpt` (``--as-of``: an ISO
  date, default today in the policy's time zone) are the options most commands take.
* :data:`state` holds the global ``--database-url`` and ``--policy`` (set by the root callback
  in :mod:`socialcredit.cli`); :func:`settings` and :func:`registry` build on them.
* :func:`out` prints one JSON object; :func:`bar` shows a progress bar on a terminal;
  :func:`as_of` parses ``--as-of``; :func:`by` names the CLI user in the ledger.

Command modules import this module; none imports another command module, and
:mod:`socialcredit.cli` (the app) imports them all.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from socialcredit.errors import ConfigError, InputError

if TYPE_CHECKING:  # the registry loads the gate (pandas, pypinyin): only when used
    from socialcredit.api.registry import Registry
    from socialcredit.settings import Settings

__all__ = ["AsOfOpt", "JsonOpt", "State", "as_of", "bar", "by", "console", "err_console",
           "make_console", "out", "registry", "settings", "state"]

#: Columns of output that is not a terminal (a file, a pipe) when ``COLUMNS`` is not set:
#: Rich's default of 80 squeezed the what-if table's columns to 5 characters.
PIPE_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    """The CLI's console: ``soft_wrap`` (a command printed for copying stays one line; the
    terminal folds it only on screen) and, off a terminal without ``COLUMNS``,
    :data:`PIPE_WIDTH` columns for tables."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH if wide else None)


#: Human output (results) goes to stdout, so `> file` keeps it; errors and progress go to
#: stderr (DESIGN §6).
console = make_console()
err_console = make_console(stderr=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this ISO date "
                                             "(default: today in the policy's time zone).")]


class State:
    """The global options of ``socialcredit`` (``--database-url``, ``--policy``)."""

    database_url: str | None = None
    policy: Path | None = None


state = State()


def settings() -> Settings:
    """The settings from the environment, overridden by the global options given."""
    overrides: dict[str, Any] = {}
    if state.database_url:
        overrides["database_url"] = state.database_url
    if state.policy:
        overrides["policy_path"] = state.policy
    from socialcredit.settings import Settings  # lazily: `--help` loads no pydantic-settings

    return Settings(**overrides)


def _no_new_sqlite_file(url: str) -> None:
    """Raises ConfigError before SQLite would create an empty file at a mistyped path (a
    failed command must leave nothing behind)."""
    from sqlalchemy.engine import make_url  # lazily: `--help` loads no SQLAlchemy

    parsed = make_url(url)
    if (parsed.get_backend_name() == "sqlite" and parsed.database
            and parsed.database != ":memory:" and not parsed.database.startswith("file:")
            and not Path(parsed.database).exists()):
        raise ConfigError(f"no registry at {url}; create one with `socialcredit init` "
                          "(or check SOCIALCREDIT_DATABASE_URL)")


def registry(*, today: dt.date | None = None, create: bool = False) -> Registry:
    """The configured registry. Only ``init`` (``create=True``) makes one: any other command
    on a database without a registry fails, so a mistyped URL can never answer "allow" from an
    empty registry. An existing registry is upgraded to the newest schema."""
    configured = settings()
    if not create:
        _no_new_sqlite_file(configured.database_url)
    from socialcredit.api.registry import Registry

    reg = Registry(configured, today=today)
    if not create and not reg.store.initialised():
        raise ConfigError(f"no registry at {reg.store.url}; create one with `socialcredit init` "
                          "(or check SOCIALCREDIT_DATABASE_URL)")
    reg.ensure_schema()
    return reg


def today() -> dt.date:
    """Today in the configured policy's time zone (:mod:`socialcredit.policy.jurisdiction`)."""
    from socialcredit.policy import jurisdiction, model
    return jurisdiction.local_today(model.load_policy(settings().policy_path).jurisdiction)


def as_of(value: str | None) -> dt.date:
    """The date of ``--as-of`` (today in the policy's time zone when not given); InputError
    if not ISO."""
    if value is None:
        return today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not an ISO date (YYYY-MM-DD)") from None


def out(data: Any) -> None:
    """Print ``data`` as one indented JSON object on stdout."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def bar(enabled: bool, label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on a terminal; a no-op in --json mode or when piped."""
    if not enabled or not err_console.is_terminal:
        yield lambda _n: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task(escape(label), total=total)  # a file name is not markup
        yield lambda n: progress.advance(task, n)


def by() -> str:
    """Who decides, as recorded in the ledger: ``cli:`` and the OS user name."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return "cli:unknown"


def say_already_ended(stats: dict[str, Any]) -> None:
    """Print the entries an evaluation created already ended (``already_expired``,
    ``already_removed`` of :class:`~socialcredit.policy.evaluate.EvaluationStats`), which are
    not counted as listed; nothing when there are none."""
    for key, why in (("already_expired", "their period had ended before the records arrived"),
                     ("already_removed", "paid or withdrawn before the records arrived")):
        if stats.get(key):
            console.print(f"  entries created already {key[8:]}, not counted as listed ({why}): "
                          + ", ".join(f"{escape(k)} {v:,}" for k, v in sorted(stats[key].items())),
                          highlight=False)
