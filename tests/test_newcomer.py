"""What a newcomer hit (issue #16, item 5), each kept fixed by running the real thing: the
console script in a subprocess, ``make serve`` on another port.

* human output goes to stdout (``> file`` keeps it), errors to stderr;
* an unknown furnisher's hint names every furnisher kind, ``school`` included;
* a command that fails on a missing SQLite registry leaves no empty file behind;
* ``make serve PORT=…`` serves on that port;
* the way into ``/me`` the demo prints works, followed in chromium word by word.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import last_code, make_id
from servers import free_port, running
from socialcredit.api.keys import FURNISHER_KINDS
from socialcredit.api.registry import Registry
from socialcredit.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEBTOR = make_id(region="320102", birth="19700505", seq=35)


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db",
               COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "socialcredit", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


def test_a_failed_command_leaves_no_empty_registry_behind(tmp_path: Path) -> None:
    r = run(tmp_path, "check", "--service", "air", "--national-id", DEBTOR)
    assert r.returncode == 1 and "no registry at" in r.stderr and r.stdout == ""
    assert not (tmp_path / "cli.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_human_output_on_stdout_and_the_hint_names_every_furnisher_kind(
        tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    r = run(tmp_path, "ingest", str(tmp_path / "x.csv"), "--furnisher", "school-7")
    assert r.returncode == 1 and r.stdout == ""
    hint = " ".join(r.stderr.split())
    assert f"--kind {'|'.join(FURNISHER_KINDS)}" in hint and "|school" in hint

    r = run(tmp_path, "furnishers", "add", "court-nj", "--kind", "court")
    assert r.returncode == 0 and r.stdout.strip().startswith("sc_f_")  # the key alone
    assert "shown once" in r.stderr
    r = run(tmp_path, "check", "--service", "air", "--national-id", DEBTOR)
    assert r.returncode == 0 and r.stdout.startswith("ALLOW (air)") and r.stderr == ""
    r = run(tmp_path, "report", "--out", str(tmp_path / "report"))
    assert r.returncode == 0 and "Report written to" in r.stdout and r.stderr == ""
    r = run(tmp_path, "audit", "verify")
    assert r.returncode == 0 and r.stdout.startswith("Ledger verified:") and r.stderr == ""


def test_make_serve_takes_another_port(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    port = free_port()
    env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/cli.db",
               SOCIALCREDIT_NOTICES_DIR=str(tmp_path / "notices"))
    server = subprocess.Popen(["make", "-s", "-C", str(ROOT), "serve", f"PORT={port}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
                break
            except httpx.TransportError:
                assert server.poll() is None, "make serve exited"
                assert time.monotonic() < deadline, "make serve PORT= did not listen"
                time.sleep(0.5)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.browser
def test_the_way_in_the_demo_prints_works(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    r = run(tmp_path, "demo", "--subjects", "300", "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stdout.split())
    url, nid, phone, outbox = re.search(
        r"open (http://\S+/me/sign-in) 1\. enter ID number (\S+) and phone (\S+), press "
        r"\"Send me a code\"; 2\. the code arrives in the demo's outbox \(its stand-in for the "
        r"phone\): `tail -n 1 (\S+)`", said).groups()
    assert url == "http://127.0.0.1:8000/me/sign-in" and Path(outbox).parent == out / "notices"
    # `make serve` serves the demo's database with the demo's notices folder
    reg = Registry(Settings(database_url=f"sqlite:///{out / 'registry.db'}",
                            notices_dir=out / "notices"))
    last_code(Path(outbox).parent)  # the demo's own code, replaced by the page's new one
    with running(reg) as base:
        page = browser.new_page()
        page.goto(base + "/me/sign-in")
        page.get_by_test_id("national-id").fill(nid)
        page.get_by_test_id("phone").fill(phone)
        page.get_by_test_id("send-code").click()
        page.wait_for_selector("[data-testid=code-form]")
        page.get_by_test_id("code").fill(last_code(Path(outbox).parent))
        page.get_by_test_id("verify-code").click()
        page.wait_for_url(base + "/me")
        assert page.get_by_test_id("entry-row").count() >= 1  # listed, as the demo said
    reg.close()
