"""Fixture strategy for the fault tests, and the crash-trial harness.

Crash trials (``test_crash.py``, and ``bench/crash_trials.py`` at a larger size) kill a real
process with SIGKILL while it writes, re-run the same command to completion, and compare the
registry with the one a clean run leaves. They need:

* **a furnisher file** that takes a while to ingest and whose records change listing later:
  :func:`court_rows` makes one court's rows from a seed with the top-level helpers
  (:func:`conftest.make_id`, :func:`conftest.write_csv`): judgments, dishonesty findings (some
  old enough to expire when evaluated later), full and partial performances, corrections
  placed up to a third of the file after their target (so across chunk boundaries), phone-only rows
  that link through an earlier row's phone or stay unlinked, bad rows for quarantine, in-file
  duplicates and re-used ids with other content;
* **identical starting points**: every run (clean or killed) starts from a copy of one template
  database (SQLite: the online backup API into the run's file; PostgreSQL: one scratch schema
  per role, emptied and refilled with ``INSERT … SELECT`` from the template's schema), so any
  difference at the end comes from the runs, not from the set-up;
* **cheap processes**: a killed run (and its re-run) is either the command in a new
  interpreter (``exec``: ``python -m socialcredit ingest …``, what an operator runs) or a
  ``fork()`` of the test process that calls what the command calls (``fork``, the default in
  CI: ``ingest_file`` / ``evaluate_all`` with the command's arguments, without a second of
  interpreter and CLI start-up per process). Either way it is a separate OS process killed with
  SIGKILL, so the kernel drops its SQLite locks and closes its PostgreSQL socket exactly as for
  a crashed ``socialcredit`` command. The clean baseline always runs through ``python -m
  socialcredit`` (and a second clean run in the trials' mode must agree with it).

What "the same state" means is documented on :func:`registry_state`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from conftest import PG_ENV, make_id, write_csv
from socialcredit.api import keys as access
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.model import load_policy
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.settings import Settings
from socialcredit.store import Store
from socialcredit.store.ledger import canonical_json
from socialcredit.store.scratch import scratch_database
from socialcredit.store.tables import (
    events,
    identifiers,
    ingests,
    list_entries,
    metadata,
    names,
    quarantine,
    records,
    subjects,
)

FURNISHER = "court-crash"
#: Days between the date the file is ingested "as of" and the evaluation (today): findings
#: older than two years by then expire when ``evaluate`` runs.
EVALUATE_LAG_DAYS = 200
#: ``evaluate_all`` with a chunk size: the CLI has no option for it and its 5,000 subjects per
#: transaction would make a CI-sized evaluation one transaction (kills only before or after).
EVALUATE_DRIVER = (
    "import sys, datetime as dt\n"
    "from socialcredit.policy.sweeps import evaluate_all\n"
    "from socialcredit.api.registry import Registry\n"
    "reg = Registry()\n"
    "evaluate_all(reg.store, reg.policy, dt.date.fromisoformat(sys.argv[1]),"
    " chunk=int(sys.argv[2]))\n"
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
          "娟", "涛", "明", "超", "秀兰", "霞"]
_REGIONS = ["110101", "310101", "440103", "320102", "330106", "510104"]


def crash_dates() -> tuple[dt.date, dt.date]:
    """(ingest as-of date, evaluation date): evaluation is today (UTC), as the CLI requires."""
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=EVALUATE_LAG_DAYS), today


def court_rows(rows: int, *, seed: int, as_of: dt.date) -> list[dict[str, Any]]:
    """``rows`` rows of one court's file (see the module docstring), deterministic for
    ``seed``; every date lies within 720 days before ``as_of``. Performances, corrections and
    repeated rows come 8 to ``rows / 3`` rows (at least 40, at most 1,600) after the rows they
    follow up, so across chunk boundaries."""
    rng = random.Random(seed)
    span = max(40, min(1600, rows // 3))  # how far later rows (corrections, ...) may land
    placed: list[tuple[int, int, dict[str, Any]]] = []  # (position, tie-break, row)

    def put(pos: int, row: dict[str, Any]) -> None:
        placed.append((pos, len(placed), row))

    p = 0
    while len(placed) < rows * 1.05 + 10:
        nid = make_id(_REGIONS[p % len(_REGIONS)],
                      (dt.date(1955, 1, 1) + dt.timedelta(days=37 * (p // 6000))).strftime(
                          "%Y%m%d"), (p // len(_REGIONS)) % 1000)
        phone = f"+86139{p:08d}"
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        found = as_of - dt.timedelta(days=rng.randint(30, 720))
        judged = found - dt.timedelta(days=rng.randint(10, 60))
        case = f"({judged.year})京01执{p}号"
        amount = rng.randint(1, 5000) * 1000
        base = 4 * p
        judgment = {"furnisher_record_id": f"CJ-{p:07d}", "kind": "court_judgment",
                    "occurred_at": judged.isoformat(), "national_id": nid, "phone": phone,
                    "name": name, "case_number": case, "amount_minor": amount,
                    "currency": "CNY", "creditor": "某某银行股份有限公司"}
        put(base, judgment)
        if rng.random() < 0.7:
            ground = rng.randint(1, 6)
            finding = {"furnisher_record_id": f"DF-{p:07d}", "kind": "dishonesty_finding",
                       "occurred_at": found.isoformat(), "national_id": nid, "name": name,
                       "case_number": case, "ground": ground,
                       "amount_minor": amount, "currency": "CNY"}
            put(base + 1, finding)
            if rng.random() < 0.3:
                paid = min(as_of, found + dt.timedelta(days=rng.randint(1, 300)))
                put(base + rng.randint(8, span), {
                    "furnisher_record_id": f"JP-{p:07d}", "kind": "judgment_performance",
                    "occurred_at": paid.isoformat(), "national_id": nid, "name": name,
                    "case_number": case, "amount_minor": amount, "currency": "CNY",
                    "full": rng.random() < 0.7})
            if rng.random() < 0.08:
                put(base + rng.randint(8, span), {
                    **finding, "furnisher_record_id": f"DF-{p:07d}-c1",
                    "corrects": f"DF-{p:07d}", "ground": ground % 6 + 1})
        r = rng.random()
        if r < 0.05:  # phone only: links through the judgment's phone
            put(base + rng.randint(8, span // 2 + 8), {
                "furnisher_record_id": f"CJP-{p:07d}", "kind": "court_judgment",
                "occurred_at": judged.isoformat(), "phone": phone, "name": name,
                "case_number": case + "之一", "amount_minor": amount, "currency": "CNY"})
        elif r < 0.07:  # phone nobody holds: stays unlinked
            put(base + 2, {**judgment, "furnisher_record_id": f"CJU-{p:07d}",
                           "national_id": "", "phone": f"+86137{p:08d}"})
        elif r < 0.08:  # bad national ID (check digit)
            bad = nid[:-1] + ("0" if nid[-1] != "0" else "1")
            put(base + 2, {**judgment, "furnisher_record_id": f"BAD-{p:07d}",
                           "national_id": bad})
        elif r < 0.09:  # a ground outside 1-6
            put(base + 2, {**judgment, "furnisher_record_id": f"BADG-{p:07d}",
                           "kind": "dishonesty_finding", "ground": 9, "creditor": ""})
        elif r < 0.10:  # the same row again, later in the file
            put(base + rng.randint(8, span // 2 + 8), dict(judgment))
        elif r < 0.105:  # the same id with other content
            put(base + rng.randint(8, span // 2 + 8), {**judgment, "amount_minor": amount + 1})
        p += 1
    placed.sort()
    return [row for _, _, row in placed[:rows]]


def write_court_file(path: Path, rows: int, *, seed: int, as_of: dt.date) -> Path:
    """Write :func:`court_rows` as CSV (empty cells are absent fields)."""
    return write_csv(path, court_rows(rows, seed=seed, as_of=as_of))


# --- databases -----------------------------------------------------------------------------

def _engine(url: str) -> Any:
    """An engine that keeps no connection open between uses, so that forking is safe."""
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                         poolclass=NullPool)


def _schema_of(url: str) -> str:
    found = re.search(r"search_path%3D([A-Za-z0-9_]+)", url)
    assert found, f"not a scratch schema URL: {url}"
    return found.group(1)


class DatabaseKit:
    """Databases for trials on one engine: ``new(role)`` makes an empty migrated registry,
    ``copy(src, dst)`` makes ``dst`` an exact copy of ``src`` (both from ``new``)."""

    def __init__(self, base_url: str | None, folder: Path, stack: ExitStack) -> None:
        self.base_url, self.folder, self.stack = base_url, folder, stack
        self.name = "postgresql" if base_url else "sqlite"
        self.admin = _engine(base_url) if base_url else None
        if self.admin is not None:
            stack.callback(self.admin.dispose)

    def new(self, role: str) -> str:
        if self.base_url is None:
            url = f"sqlite:///{self.folder / (role + '.db')}"
        else:
            url = self.stack.enter_context(
                scratch_database(self.base_url, self.folder, prefix=f"crash_{role}_"))
        store = Store(url)
        try:
            store.ensure_schema()
        finally:
            store.dispose()
        return url

    def copy(self, src: str, dst: str) -> None:
        if self.admin is None:
            source = sqlite3.connect(src.removeprefix("sqlite:///"))
            target = sqlite3.connect(dst.removeprefix("sqlite:///"))
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
            return
        s, d = _schema_of(src), _schema_of(dst)
        tables = [t.name for t in metadata.sorted_tables]
        with self.admin.begin() as conn:  # DELETE: faster than TRUNCATE on small tables
            for t in reversed(tables):
                conn.execute(text(f'DELETE FROM "{d}"."{t}"'))
            for t in tables:
                conn.execute(text(f'INSERT INTO "{d}"."{t}" SELECT * FROM "{s}"."{t}"'))


# --- the state two runs are compared on ----------------------------------------------------

_PROJECTIONS = (records, subjects, identifiers, names, list_entries)


def registry_state(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The registry's state as sorted rows per table, in the form two runs can be compared in.

    Compared as they are: every row and column of ``records``, ``subjects``, ``identifiers``,
    ``names`` and ``list_entries`` (ids included: a run that loses or repeats work allocates
    other ids), the ledger head's ``seq``, and ``quarantine`` without ``ingest_id``.

    The ledger is compared on every hashed field of every event — ``seq``, ``type``,
    ``subject_id``, ``policy_version`` and the canonical ``payload`` — except ``at``; the chain
    itself is checked by ``audit verify`` on each database. The head *hash* of two runs differs
    whatever happens, because each event's hash covers its ``at`` (a wall-clock instant), and
    there is no clock to freeze in the ledger; equal hashed fields but ``at`` plus a verified
    chain is what "the same ledger" can honestly mean: swap in the clean run's ``at`` values and
    the hashes would agree.

    One payload is normalised: ``ingest.completed`` reports the counts of *its* attempt, so a
    re-run after a crash counts the rows the killed attempt had committed as ``duplicates``
    and has its own ``ingest_id``. It is kept with ``furnisher_id``, ``source``, ``sha256``,
    ``rejected`` and ``accepted + duplicates`` (the file's distinct valid rows), which must
    match. ``ingests`` itself (one row per attempt, a killed one with zero counts) is an
    operational log and is left out.
    """
    engine = _engine(url)
    try:
        out: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for table in _PROJECTIONS:
                out[table.name] = sorted(
                    tuple(r) for r in conn.execute(select(table)))
            cols = [c for c in quarantine.c if c.name != "ingest_id"]
            out["quarantine"] = sorted(tuple(r) for r in conn.execute(select(*cols)))
            out["events"] = [
                (r.seq, r.type, r.subject_id, r.policy_version, _normalised(r.type, r.payload))
                for r in conn.execute(select(events.c.seq, events.c.type, events.c.subject_id,
                                             events.c.policy_version, events.c.payload)
                                      .order_by(events.c.seq))]
            out["ledger_head"] = [(conn.execute(text("SELECT seq FROM ledger_head")).scalar(),)]
        return out
    finally:
        engine.dispose()


def _normalised(type_: str, payload: str) -> str:
    if type_ != "ingest.completed":
        return payload
    body = json.loads(payload)
    return canonical_json({k: body[k] for k in ("furnisher_id", "source", "sha256", "rejected")}
                          | {"valid": body["accepted"] + body["duplicates"]})


def state_differences(clean: dict[str, list[tuple[Any, ...]]],
                      got: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Human-readable differences between two :func:`registry_state` results (empty: equal).
    Lost and duplicated records are named first."""
    problems: list[str] = []
    key = [c.name for c in records.c].index
    want = Counter((r[key("furnisher_id")], r[key("furnisher_record_id")])
                   for r in clean["records"])
    have = Counter((r[key("furnisher_id")], r[key("furnisher_record_id")])
                   for r in got["records"])
    lost = sorted(set(want) - set(have))
    dup = sorted(k for k, n in have.items() if n > 1)
    extra = sorted(set(have) - set(want))
    if lost:
        problems.append(f"{len(lost)} records lost, e.g. {lost[:3]}")
    if dup:
        problems.append(f"{len(dup)} records duplicated, e.g. {dup[:3]}")
    if extra:
        problems.append(f"{len(extra)} records not in the clean run, e.g. {extra[:3]}")
    for name, rows in clean.items():
        other = got[name]
        if rows == other:
            continue
        first = next((i for i, (a, b) in enumerate(zip(rows, other, strict=False)) if a != b),
                     min(len(rows), len(other)))
        problems.append(
            f"{name}: {len(other)} rows vs {len(rows)} clean; first difference at #{first}: "
            f"{other[first] if first < len(other) else None} vs "
            f"{rows[first] if first < len(rows) else None}")
    return problems


def ingest_progress(url: str) -> tuple[int, bool, int]:
    """(ingest attempts started, an ``ingest.completed`` event exists, records held)."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            started = conn.execute(select(func.count()).select_from(ingests)).scalar() or 0
            done = conn.execute(select(func.count()).select_from(events).where(
                events.c.type == "ingest.completed")).scalar() or 0
            held = conn.execute(select(func.count()).select_from(records)).scalar() or 0
        return int(started), bool(done), int(held)
    finally:
        engine.dispose()


def ledger_seq(url: str) -> int:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT seq FROM ledger_head")).scalar() or 0)
    finally:
        engine.dispose()


# --- processes -----------------------------------------------------------------------------

class Child:
    """One process: ``argv`` run with ``env`` added to the environment (``exec``), or, without
    ``argv``, a ``fork()`` of this process that calls ``target`` and exits (0, 1 on an
    exception, or the code of a ``SystemExit``). Output goes to ``log``."""

    def __init__(self, argv: list[str] | None, target: Callable[[], None] | None,
                 env: dict[str, str], log: Path) -> None:
        self.started = time.perf_counter()
        self.returncode: int | None = None
        self.popen: subprocess.Popen[bytes] | None = None
        if argv is not None:
            with log.open("ab") as fh:
                self.popen = subprocess.Popen(argv, env={**os.environ, **env}, stdout=fh,
                                              stderr=subprocess.STDOUT)
            self.pid = self.popen.pid
            return
        assert target is not None
        pid = os.fork()
        if pid == 0:  # the child: never returns into the test process
            _child(target, env, log)
        self.pid = pid

    def poll(self) -> int | None:
        if self.returncode is None:
            if self.popen is not None:
                self.returncode = self.popen.poll()
            else:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout_s: float) -> int | None:
        """The exit code (negative: killed by that signal), or None after ``timeout_s``."""
        deadline = time.perf_counter() + timeout_s
        while self.poll() is None and time.perf_counter() < deadline:
            time.sleep(0.002)
        return self.returncode

    def kill(self) -> bool:
        """SIGKILL the process if it still runs; True if it did."""
        if self.poll() is not None:
            return False
        os.kill(self.pid, signal.SIGKILL)
        self.wait(60)
        return True


def _child(target: Callable[[], None], env: dict[str, str], log: Path) -> None:
    code = 70
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115
        os.environ.update(env)
        try:
            target()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


# --- trials --------------------------------------------------------------------------------

@dataclass
class Trial:
    """One kill at ``point`` (see :class:`CrashHarness`), ``delay_s`` after the process
    started. ``phase`` is where it landed: ``startup`` (nothing of the command written yet),
    ``mid`` (the work had started and not finished) or ``after`` (it had finished: nothing left
    to kill). ``rerun_s`` is the wall time of the re-run to completion, ``rerun_code`` its exit
    code; ``verified`` says the hash chain checked out afterwards."""

    index: int
    point: int
    delay_s: float
    phase: str
    rerun_s: float
    rerun_code: int | None
    verified: bool
    differences: list[str]

    @property
    def matched(self) -> bool:
        return not self.differences and self.rerun_code == 0 and self.verified


@dataclass
class TrialRun:
    """The trials of one command on one database beside its clean baseline: ``clean_s`` is
    the wall time of an uninterrupted run in the trials' process mode, ``commits`` the number
    of write batches it made (the kill points are spread over them)."""

    database: str
    command: str
    clean_s: float
    commits: int
    trials: list[Trial] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Figures of the run: counts by phase, clean time, re-run times (s) and their ratio to
        the clean time, whether every final state matched, and the trials that did not."""
        phases = Counter(t.phase for t in self.trials)
        reruns = sorted(t.rerun_s for t in self.trials)
        median = reruns[len(reruns) // 2] if reruns else None
        return {
            "database": self.database, "command": self.command, "trials": len(self.trials),
            "killed_mid": phases["mid"], "killed_at_startup": phases["startup"],
            "finished_before_kill": phases["after"], "clean_s": round(self.clean_s, 3),
            "clean_commits": self.commits,
            "points_hit": len({t.point for t in self.trials}),
            "rerun_median_s": None if median is None else round(median, 3),
            "rerun_max_s": round(reruns[-1], 3) if reruns else None,
            "rerun_over_clean": (round(median / self.clean_s, 3)
                                 if median is not None and self.clean_s else None),
            "all_matched": all(t.matched for t in self.trials),
            "mismatches": [{"trial": t.index, "point": t.point, "phase": t.phase,
                            "delay_s": round(t.delay_s, 3), "rerun_code": t.rerun_code,
                            "verified": t.verified, "differences": t.differences[:3]}
                           for t in self.trials if not t.matched],
        }


@dataclass
class _Clean:
    """A clean run: its state, wall time, and the ledger ``seq`` after each of its commits
    with the seconds from the process's start to that commit's batch (from the events' ``at``;
    a batch that wrote no event is not seen)."""

    state: dict[str, list[tuple[Any, ...]]]
    seconds: float
    commits: list[tuple[int, float]]

    @property
    def gap_s(self) -> float:
        """Mean time between two commits (s): about how long one chunk takes."""
        if len(self.commits) < 2:
            return self.seconds / 2
        return (self.commits[-1][1] - self.commits[0][1]) / (len(self.commits) - 1)


def commit_points(url: str, after_seq: int) -> list[tuple[int, dt.datetime]]:
    """(last ``seq``, ``at``) of each write batch after ``after_seq``: the events of one batch
    share its ``at``."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(events.c.at, func.max(events.c.seq))
                                .where(events.c.seq > after_seq).group_by(events.c.at)
                                .order_by(func.max(events.c.seq))).all()
        return [(int(seq), dt.datetime.fromisoformat(at)) for at, seq in rows]
    finally:
        engine.dispose()


class CrashHarness:
    """Kill-and-re-run trials of the ingest and of the evaluation on one database engine.

    :meth:`prepare` writes the file (``rows`` rows; ``batch_rows`` per ingest transaction, as
    ``SOCIALCREDIT_INGEST_BATCH_ROWS``; the evaluation commits every ``evaluate_chunk``
    subjects), makes the template (schema + furnisher ``court-crash``), runs the clean ingest
    and the clean evaluation through ``python -m socialcredit`` and keeps their states.
    :meth:`ingest_trials` and :meth:`evaluate_trials` then run seeded trials.

    ``mode`` says what a killed run and its re-run are: ``exec``, the command in a new
    interpreter (``python -m socialcredit ingest FILE --furnisher court-crash --as-of DAY``;
    the evaluation is ``evaluate_all`` with a chunk size through ``python -c``, as the CLI has
    no option for it and its 5,000 subjects per transaction would make a small evaluation a
    single commit); ``fork``, a ``fork()`` of this process calling what the command calls
    (``ingest_file`` / ``evaluate_all``, same arguments) — the same writes without a second of
    interpreter and CLI start-up per process. After each recovery the hash chain is verified
    in-process; ``cli_verify`` ``all`` also runs ``socialcredit audit verify`` after each,
    ``last`` after the last trial of a run.

    Where a kill lands: with C commits in the clean run, a trial draws k in 0..C. For k = 0 it
    kills inside the first chunk (a delay from the start drawn between one chunk's time before
    the clean run's first commit and that commit); otherwise it waits until the ledger reaches
    the clean run's k-th commit and kills a random fraction of one chunk's time later, so the
    kills spread over the chunks, and inside them, whatever the machine's load (k = C kills in
    the last chunk or the completion, or finds the process gone).
    """

    def __init__(self, kit: DatabaseKit, folder: Path, *, rows: int, batch_rows: int,
                 evaluate_chunk: int, seed: int = 7, mode: str = "fork",
                 cli_verify: str = "last") -> None:
        self.kit, self.folder, self.rows, self.seed, self.mode = kit, folder, rows, seed, mode
        self.batch_rows, self.evaluate_chunk, self.cli_verify = (batch_rows, evaluate_chunk,
                                                                 cli_verify)
        self.ingest_day, self.evaluate_day = crash_dates()
        self.file = folder / "court-crash.csv"
        self.log = folder / "processes.log"
        self.policy = load_policy(Settings().policy_path)
        #: called with each finished :class:`Trial` (the bench prints progress with it)
        self.on_trial: Callable[[Trial], None] | None = None

    # --- one process of a command
    def _spawn(self, what: str, url: str, mode: str) -> Child:
        env = {"SOCIALCREDIT_DATABASE_URL": url,
               "SOCIALCREDIT_INGEST_BATCH_ROWS": str(self.batch_rows)}
        cli = [sys.executable, "-m", "socialcredit"]
        if what == "verify":
            argv = [*cli, "audit", "verify"]
            if mode == "fork":
                return Child(None, lambda: _cli_main(argv[3:]), env, self.log)
        elif mode == "fork":
            return Child(None, lambda: self._operation(what, url), env, self.log)
        elif what == "ingest":
            argv = [*cli, "ingest", str(self.file), "--furnisher", FURNISHER, "--as-of",
                    self.ingest_day.isoformat(), "--json"]
        else:
            argv = [sys.executable, "-c", EVALUATE_DRIVER, self.evaluate_day.isoformat(),
                    str(self.evaluate_chunk)]
        return Child(argv, None, env, self.log)

    def _operation(self, what: str, url: str) -> None:
        """What the command does once started (the ``fork`` mode's process body)."""
        store = Store(url)
        try:
            if what == "ingest":
                ingest_file(store, self.policy,
                            furnisher_id=access.furnisher_id(store, FURNISHER), path=self.file,
                            as_of=self.ingest_day, chunk_rows=self.batch_rows)
            else:
                evaluate_all(store, self.policy, self.evaluate_day, chunk=self.evaluate_chunk)
        finally:
            store.dispose()

    def _run(self, what: str, url: str, mode: str, timeout_s: float = 1800,
             ) -> tuple[int | None, float]:
        """Run to completion: (exit code, or None after ``timeout_s``; seconds)."""
        child = self._spawn(what, url, mode)
        code = child.wait(timeout_s)
        if code is None:
            child.kill()
        return code, time.perf_counter() - child.started

    def log_tail(self, what: str) -> str:
        """``what``, then the last 3,000 characters the processes wrote."""
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return f"{what}; last output of the processes:\n{tail}"

    # --- clean runs
    def _clean(self, what: str, start: str) -> _Clean:
        """Run ``what`` from ``start`` through ``python -m socialcredit``, then once more in the
        trials' mode: both must leave the same state (else comparing would mean nothing); the
        second run's commits place the kills."""
        self.kit.copy(start, self.work)
        code, _ = self._run(what, self.work, "exec")
        assert code == 0, self.log_tail(f"the clean {what} failed")
        state = registry_state(self.work)
        self.kit.copy(start, self.work)
        began = dt.datetime.now(dt.UTC)
        code, seconds = self._run(what, self.work, self.mode)
        assert code == 0, self.log_tail(f"the second clean {what} failed")
        again = state_differences(state, registry_state(self.work))
        assert not again, f"two clean runs of {what} differ: {again}"
        commits = [(seq, (at - began).total_seconds())
                   for seq, at in commit_points(self.work, ledger_seq(start))]
        return _Clean(state, seconds, commits)

    def prepare(self) -> None:
        write_court_file(self.file, self.rows, seed=self.seed, as_of=self.ingest_day)
        self.template = self.kit.new("template")
        store = Store(self.template)
        try:
            access.add_furnisher(store, name=FURNISHER, kind="court")
        finally:
            store.dispose()
        self.work = self.kit.new("work")
        self.ingested = self.kit.new("ingested")
        self.clean_ingest = self._clean("ingest", self.template)
        self.kit.copy(self.work, self.ingested)
        self.clean_evaluate = self._clean("evaluate", self.ingested)

    # --- trials
    def ingest_trials(self, n: int, seed: int) -> TrialRun:
        """``n`` kills of the ingest, each followed by a re-run to completion."""
        def phase(url: str) -> str:
            started, done, _ = ingest_progress(url)
            return "after" if done else "mid" if started else "startup"

        return self._trials("ingest", n, seed, self.template, self.clean_ingest, phase)

    def evaluate_trials(self, n: int, seed: int) -> TrialRun:
        """``n`` kills of the evaluation, each followed by a re-run to completion, from the
        state the clean ingest left."""
        before = ledger_seq(self.ingested)
        after = self.clean_evaluate.state["ledger_head"][0][0]

        def phase(url: str) -> str:
            seq = ledger_seq(url)
            return "after" if seq == after else "mid" if seq > before else "startup"

        return self._trials("evaluate", n, seed, self.ingested, self.clean_evaluate, phase)

    def _kill_at(self, child: Child, clean: _Clean, k: int, fraction: float) -> bool:
        """Kill ``child`` at point ``k`` (see the class docstring); True if it still ran."""
        gap = clean.gap_s
        if k == 0 or not clean.commits:
            first = clean.commits[0][1] if clean.commits else clean.seconds
            time.sleep(max(0.0, child.started + first - gap * (1 - fraction)
                           - time.perf_counter()))
            return child.kill()
        target = clean.commits[k - 1][0]
        engine = _engine(self.work)
        try:
            with engine.connect() as conn:
                while child.poll() is None:
                    seq = conn.execute(text("SELECT seq FROM ledger_head")).scalar() or 0
                    conn.rollback()  # a SQLite reader must not keep its snapshot
                    if seq >= target:
                        break
                    time.sleep(0.002)
        finally:
            engine.dispose()
        time.sleep(gap * fraction)
        return child.kill()

    def _trials(self, what: str, n: int, seed: int, start: str, clean: _Clean,
                phase: Callable[[str], str]) -> TrialRun:
        run = TrialRun(self.kit.name, what, clean.seconds, len(clean.commits))
        rng = random.Random(seed)
        for i in range(n):
            k, fraction = rng.randint(0, len(clean.commits)), rng.random()
            self.kit.copy(start, self.work)
            child = self._spawn(what, self.work, self.mode)
            where = phase(self.work) if self._kill_at(child, clean, k, fraction) else "after"
            delay = time.perf_counter() - child.started
            code, rerun_s = self._run(what, self.work, self.mode,
                                      timeout_s=60 + 20 * clean.seconds)
            store = Store(self.work, engine=_engine(self.work))
            try:
                verified = store.verify().ok
            finally:
                store.dispose()
            if self.cli_verify == "all" or i == n - 1:
                verify_code, _ = self._run("verify", self.work, self.mode)
                verified = verified and verify_code == 0
            diff = state_differences(clean.state, registry_state(self.work))
            run.trials.append(Trial(i, k, delay, where, rerun_s, code, verified, diff))
            if self.on_trial is not None:
                self.on_trial(run.trials[-1])
        return run


def _cli_main(args: list[str]) -> None:
    from socialcredit.cli import main

    sys.argv = ["socialcredit", *args]
    main()


def env_int(name: str, default: int) -> int:
    """An integer from the environment (the trial sizes), or ``default``."""
    value = os.environ.get(name)
    return int(value) if value else default


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
                scope="module")
def crash_kit(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[DatabaseKit]:
    """A :class:`DatabaseKit` on SQLite, then on PostgreSQL (skipped without ``PG_ENV``)."""
    base = None
    if request.param == "postgres":
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(f"PostgreSQL crash trials need {PG_ENV} (CI sets it)")
    with ExitStack() as stack:
        yield DatabaseKit(base, tmp_path_factory.mktemp(f"crash_{request.param}"), stack)
