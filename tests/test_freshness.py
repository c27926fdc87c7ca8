"""Freshness across gate replicas: two real ``serve --role gate`` processes on one database.

Each gate follows the ledger every ``SOCIALCREDIT_GATE_REFRESH_MS`` (200 ms) and answers from its
in-memory index. The furnisher side ingests in this process (``ingest_rows``, as ``POST
/v1/records`` does). Pollers on threads record every answer of each gate with the time it was
sent and received, so the tests check not only that the gates get there (bounded waits) but the
order of what they said on the way: a person is never allowed again once a gate has denied them
until their performance is recorded, and never denied again once allowed after it.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import make_id
from servers import free_port
from socialcredit.api.keys import add_furnisher, add_gate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_rows
from socialcredit.ingest.readers import RawRow
from socialcredit.settings import Settings

#: The gates decide as of the real date, so records are dated relative to it.
DAY = dt.datetime.now(dt.UTC).date()
REFRESH_MS = 200  # the default, set explicitly: the bounds below are in its terms
WAIT_S = 10.0  # longest wait for a change to reach a gate
STARTUP_S = 120.0  # longest wait for a gate replica to answer /healthz
HOLD_S = 0.6  # keep watching after a change arrived (3 refresh periods): it must stay
SERVICES = ("air", "rail_hsr")  # both sanction dishonest judgment debtors


def _date(days_ago: int) -> str:
    return (DAY - dt.timedelta(days=days_ago)).isoformat()


def finding(nid: str, case: str, days_ago: int = 30) -> dict[str, Any]:
    return {"furnisher_record_id": f"F-{case}", "kind": "dishonesty_finding",
            "occurred_at": _date(days_ago), "national_id": nid, "name": "测试人",
            "case_number": case, "ground": 1, "amount_minor": 5_000_00, "currency": "CNY"}


def performance(nid: str, case: str, *, days_ago: int = 1, full: bool = True,
                rid: str | None = None) -> dict[str, Any]:
    return {"furnisher_record_id": rid or f"P-{case}", "kind": "judgment_performance",
            "occurred_at": _date(days_ago), "national_id": nid, "case_number": case,
            "amount_minor": 5_000_00, "currency": "CNY", "full": full}


class Court:
    """The furnisher side, in process: one ``ingest_rows`` call (one ledger batch) per send."""

    def __init__(self, registry: Registry, name: str = "court-freshness") -> None:
        self.registry = registry
        add_furnisher(registry.store, name=name, kind="court")
        self.fid = furnisher_id(registry.store, name)
        self.sent = 0

    def send(self, *rows: dict[str, Any]) -> None:
        self.sent += 1
        result = ingest_rows(self.registry.store, self.registry.policy, furnisher_id=self.fid,
                             rows=[RawRow(i, dict(r)) for i, r in enumerate(rows, start=1)],
                             source=f"test-freshness-{self.sent}", as_of=DAY)
        assert (result.accepted, result.rejected) == (len(rows), 0), result.problems


@pytest.fixture
def setup(db_url: str) -> Iterator[tuple[Registry, Court, str]]:
    """The registry (schema created), a court and one gate key (air, rail_hsr) that both gate
    replicas serve."""
    reg = Registry(Settings(database_url=db_url))
    reg.ensure_schema()
    key = add_gate(reg.store, reg.policy, name="replicated-gate", services=list(SERVICES))
    try:
        yield reg, Court(reg), key
    finally:
        reg.close()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def gate_processes(db_url: str, logs: Path, n: int = 2) -> Iterator[list[str]]:
    """Start ``n`` gate replicas (``python -m socialcredit serve --role gate``) on free
    loopback ports, wait for ``/healthz``, yield their base URLs; always terminate them."""
    env = {**os.environ, "SOCIALCREDIT_GATE_REFRESH_MS": str(REFRESH_MS)}
    env.pop("SOCIALCREDIT_DATABASE_URL", None)
    procs: list[tuple[subprocess.Popen[bytes], Path, str]] = []
    try:
        for i in range(n):
            port = free_port()
            log = logs / f"gate-{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "socialcredit", "--database-url", db_url, "serve",
                     "--role", "gate", "--host", "127.0.0.1", "--port", str(port)],
                    stdout=out, stderr=subprocess.STDOUT, env=env)
            procs.append((proc, log, f"http://127.0.0.1:{port}"))
        # generous: a replica's import alone took 26 s on a shared 2-core machine under load
        deadline = time.monotonic() + STARTUP_S
        with httpx.Client(timeout=2, trust_env=False) as client:
            for proc, log, url in procs:
                while True:
                    if proc.poll() is not None:
                        pytest.fail(f"gate {url} exited with {proc.returncode}:\n{_tail(log)}")
                    try:
                        if client.get(f"{url}/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        pytest.fail(f"gate {url} did not answer /healthz in {STARTUP_S:.0f} s:\n"
                                    f"{_tail(log)}")
                    time.sleep(0.05)
        yield [url for _, _, url in procs]
    finally:
        for proc, _, _ in procs:
            proc.terminate()
        for proc, _, _ in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@dataclass
class Answer:
    sent: float
    received: float
    decisions: tuple[str, ...]  # one per person asked


@dataclass
class Poller:
    """Asks one gate about ``people`` in a loop (one keep-alive connection, so answers arrive
    in the order asked), alternating the services; keeps every answer."""

    url: str
    key: str
    people: Sequence[str]
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: largest ``X-Gate-Staleness-Ms`` seen (age of the gate's index)
    staleness_ms: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def _ask(self, client: httpx.Client, service: str) -> tuple[str, ...]:
        if len(self.people) == 1:
            r = client.post("/v1/decisions",
                            json={"service": service, "national_id": self.people[0]})
        else:
            r = client.post("/v1/decisions:batch", json={
                "service": service, "people": [{"national_id": p} for p in self.people]})
        if r.status_code != 200:
            raise AssertionError(f"{self.url}: {r.status_code} {r.text}")
        self.staleness_ms = max(self.staleness_ms, int(r.headers["x-gate-staleness-ms"]))
        body = r.json()
        return (body["decision"],) if len(self.people) == 1 else tuple(
            d["decision"] for d in body["data"])

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=5, trust_env=False,
                          headers={"Authorization": f"Bearer {self.key}"}) as client:
            n = 0
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    got = self._ask(client, SERVICES[n % len(SERVICES)])
                except (AssertionError, httpx.HTTPError) as e:
                    self.errors.append(f"{type(e).__name__}: {e}")
                    return
                self.answers.append(Answer(sent, time.monotonic(), got))
                n += 1
                time.sleep(0.005)

    def start(self) -> Poller:
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"poll {self.url}")
        self.thread.start()
        return self

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)

    def latest(self) -> tuple[str, ...] | None:
        if self.errors:
            raise AssertionError(f"gate {self.url} failed: {self.errors[0]}")
        return self.answers[-1].decisions if self.answers else None


@contextmanager
def polling(urls: list[str], key: str, people: Sequence[str]) -> Iterator[list[Poller]]:
    pollers = [Poller(u, key, people).start() for u in urls]
    try:
        wait_until(lambda: all(p.latest() is not None for p in pollers), "a first answer",
                   pollers)
        yield pollers
    finally:
        for p in pollers:
            p.close()


def wait_until(cond: Callable[[], bool], what: str, pollers: list[Poller],
               timeout: float = WAIT_S) -> float:
    """Wait for ``cond`` (checking every 5 ms); return the time it held; fail clearly."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            state = "; ".join(f"{p.url} last said {p.latest()}" for p in pollers)
            pytest.fail(f"gates did not reach {what} within {timeout:.0f} s ({state})")
        time.sleep(0.005)
    return time.monotonic()


def _gauge(metrics: str, name: str) -> float:
    """The value of an unlabelled Prometheus gauge in a ``/metrics`` text."""
    line = next(x for x in metrics.splitlines() if x.startswith(name + " "))
    return float(line.split()[1])


def runs(values: Sequence[str]) -> list[str]:
    """Consecutive duplicates collapsed: allow, allow, deny → allow, deny."""
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def test_listing_and_removal_reach_both_gates_in_order(
        setup: tuple[Registry, Court, str], db_url: str, tmp_path: Path) -> None:
    _reg, court, key = setup
    with gate_processes(db_url, tmp_path) as urls:
        for trial in range(3):
            nid = make_id(region="310104", birth=f"198{trial}0412", seq=31 + 2 * trial)
            case = f"(2026)沪0104执{900 + trial}号"
            with polling(urls, key, [nid]) as pollers:
                t_list = time.monotonic()
                court.send(finding(nid, case))
                listed = time.monotonic()
                wait_until(lambda: all(p.latest() == ("deny",) for p in pollers),
                           f"deny for a listed person (trial {trial})", pollers)
                time.sleep(HOLD_S)
                t_perf = time.monotonic()
                court.send(performance(nid, case))
                performed = time.monotonic()
                wait_until(lambda: all(p.latest() == ("allow",) for p in pollers),
                           f"allow after full performance (trial {trial})", pollers)
                time.sleep(HOLD_S)
            for p in pollers:
                assert not p.errors, p.errors
                said = [a.decisions[0] for a in p.answers]
                assert runs(said) == ["allow", "deny", "allow"], (
                    f"{p.url} (trial {trial}) said, in order: {runs(said)}; expected allow "
                    "until the listing arrives, deny until the performance arrives, then allow")
                first_deny = next(a for a in p.answers if a.decisions[0] == "deny")
                assert first_deny.received > t_list, f"{p.url} denied before any listing"
                back = next(a for a in p.answers if a.received > first_deny.received
                            and a.decisions[0] == "allow")
                assert back.received > t_perf, (
                    f"{p.url} allowed a listed person again before the performance was sent")
                assert first_deny.received - listed < WAIT_S
                assert back.received - performed < WAIT_S


@dataclass
class Person:
    nid: str
    #: case number → date of its (first) finding
    findings: dict[str, str] = field(default_factory=dict)
    #: (case number, date, full) of every performance, in or out of order with the findings
    performances: list[tuple[str, str, bool]] = field(default_factory=list)

    def listed(self) -> bool:
        return any(not any(c == case and full and d >= since
                           for c, d, full in self.performances)
                   for case, since in self.findings.items())


def test_two_gates_converge_on_a_sequence_of_listings_and_removals(
        setup: tuple[Registry, Court, str], db_url: str, tmp_path: Path) -> None:
    _reg, court, key = setup
    people = [Person(make_id(region="440305", birth=f"19{70 + i}0101", seq=100 + i))
              for i in range(20)]
    ops: list[tuple[int, dict[str, Any]]] = []

    def op_find(i: int, case: str, days_ago: int = 30) -> None:
        ops.append((i, finding(people[i].nid, case, days_ago)))

    def op_perf(i: int, case: str, days_ago: int = 1, full: bool = True,
                rid: str | None = None) -> None:
        ops.append((i, performance(people[i].nid, case, days_ago=days_ago, full=full, rid=rid)))

    def apply(i: int, row: dict[str, Any]) -> None:
        p = people[i]
        if row["kind"] == "dishonesty_finding":
            p.findings.setdefault(row["case_number"], row["occurred_at"])
        else:
            p.performances.append((row["case_number"], row["occurred_at"], row["full"]))

    case = [f"(2026)粤0305执{i:03d}号" for i in range(20)]
    # People 0-7 are listed before the gates start: they are in each gate's base index.
    before = [(i, finding(people[i].nid, case[i])) for i in range(8)]
    for i, row in before:
        apply(i, row)
    court.send(*(row for _, row in before))

    for i in range(8, 19):
        op_find(i, case[i])
        if i in (9, 12, 15):
            op_perf(i - 6, case[i - 6])  # base subjects 3 and 6, then 9 (listed above): removed
    op_perf(0, case[0])
    op_find(1, case[1] + "-2")  # a second case: still listed (base subject touched)
    op_perf(1, case[1])  # one of two cases performed: still listed
    op_perf(2, case[2], full=False)  # partial performance: still listed
    op_perf(5, case[5] + "-other")  # another case's performance: still listed
    op_perf(8, case[8], days_ago=0)
    op_perf(10, case[10])
    op_find(0, case[0] + "-2", days_ago=5)  # relisted after removal, on a new case
    op_perf(12, case[12], days_ago=60)  # dated before the finding: does not remove
    op_perf(14, case[14], days_ago=30)  # the same day as the finding: removes
    op_perf(19, case[19], days_ago=2)  # performance first ...
    op_find(19, case[19], days_ago=3)  # ... then its finding: never listed
    op_perf(16, case[16], full=False)
    op_perf(16, case[16], rid="P-16-full")  # then fully: removed
    op_perf(0, case[0] + "-2")  # removed again
    op_find(16, case[16] + "-2", days_ago=2)  # relisted
    op_perf(4, case[4])
    op_perf(7, case[7])

    # Expected answers after each op, per person (state at gate start first).
    history: list[list[str]] = [["deny" if p.listed() else "allow"] for p in people]
    for i, row in ops:
        apply(i, row)
        history[i].append("deny" if people[i].listed() else "allow")
    expected = tuple("deny" if p.listed() else "allow" for p in people)
    assert 4 < expected.count("deny") < 16  # a real mix (the model above is the oracle)

    with gate_processes(db_url, tmp_path) as urls, \
            polling(urls, key, [p.nid for p in people]) as pollers:
        initial = tuple(h[0] for h in history)
        wait_until(lambda: all(p.latest() == initial for p in pollers),
                   "the state at start", pollers)
        for n, (_i, row) in enumerate(ops):
            court.send(row)
            time.sleep(0.02 * (n % 5))  # uneven pacing: some intermediate states are seen
        wait_until(lambda: all(p.latest() == expected for p in pollers),
                   "the final answers for 20 people", pollers)
        time.sleep(HOLD_S)
        with httpx.Client(timeout=5, trust_env=False,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            single = {(url, svc): tuple(client.post(f"{url}/v1/decisions", json={
                "service": svc, "national_id": p.nid}).json()["decision"]
                for p in people) for url in urls for svc in SERVICES}
            applied = {url: _gauge(client.get(f"{url}/metrics").text,
                                   "socialcredit_gate_applied_seq") for url in urls}
    # converged on the same ledger: every gate has applied up to the head, not just happened
    # to give the expected answers
    head = _reg.store.head()[0]
    assert applied == dict.fromkeys(urls, float(head)), (head, applied)
    for (url, svc), said in single.items():
        assert said == expected, f"{url} /v1/decisions ({svc}) disagrees with the ledger: {said}"
    for poller in pollers:
        assert poller.latest() == expected, f"{poller.url} changed its answers after converging"
        assert poller.staleness_ms < 5000, (
            f"{poller.url} answered from an index {poller.staleness_ms} ms old (it follows the "
            f"ledger every {REFRESH_MS} ms)")
        for who, person in enumerate(people):
            seen = runs([a.decisions[who] for a in poller.answers])
            allowed = runs(history[who])
            j = 0
            for s in seen:  # each answer must be the current or a later state of the person
                while j < len(allowed) and allowed[j] != s:
                    j += 1
                assert j < len(allowed), (
                    f"{poller.url}: person {who} ({person.nid}) was answered {seen}; the ledger "
                    f"took them through {allowed}: an answer went back to an earlier state")
