"""No national ID, phone number, name or API key in the logs at INFO.

A small demo (2,000 people) runs in this process with every logger captured at INFO; then
``socialcredit serve --log-level info`` serves the demo's registry in a subprocess and gets
records, decisions, a batch, public searches by name and by ID (in the query string, where
uvicorn's access log would print them) and refused calls. Every identifier and name of the
simulated files and every key the run made is then looked for in both logs.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from servers import free_port
from socialcredit.api.keys import add_furnisher, add_gate, add_operator
from socialcredit.api.registry import Registry
from socialcredit.cli import app as cli_app
from socialcredit.settings import Settings
from socialcredit.store import Store


def _people(folder: Path) -> Iterator[dict[str, str]]:
    """Every row of the simulated CSV and JSON Lines files."""
    for path in sorted(folder.iterdir()):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                yield from csv.DictReader(fh)
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                yield {k: str(v) for k, v in json.loads(line).items() if v is not None}


def _secrets(rows: list[dict[str, str]]) -> set[str]:
    """Every ID, phone and name as written, URL-encoded (as in a logged query string) and, for
    phones, in national form."""
    found: set[str] = set()
    for row in rows:
        for field in ("national_id", "name", "phone"):
            value = (row.get(field) or "").strip()
            if len(value) >= 2:
                found |= {value, quote(value), quote_plus(value)}
                if field == "phone" and value.startswith("+86"):
                    found.add(value[3:])
    return found


def _serve(db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("SOCIALCREDIT_DATABASE_URL", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "socialcredit", "--database-url", db_url, "serve",
             "--port", str(port), "--log-level", "info"],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"serve exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "serve did not answer /healthz in 60 s"
        time.sleep(0.1)


def test_no_identifier_name_or_key_in_the_logs_at_info(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "demo"
    caplog.set_level(logging.INFO)
    result = CliRunner().invoke(cli_app, ["demo", "--subjects", "2000", "--seed", "7",
                                          "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    rows = list(_people(out / "simulated"))
    secrets = _secrets(rows)
    assert len(secrets) > 2000
    demo_log = "\n".join(r.getMessage() for r in caplog.records)
    assert demo_log, "nothing was logged at INFO: the capture is not working"

    db_url = f"sqlite:///{out / 'registry.db'}"
    reg = Registry(Settings(database_url=db_url))
    keys = [add_furnisher(reg.store, name="log-court", kind="court"),
            add_gate(reg.store, reg.policy, name="log-air", services=["air"]),
            add_operator(reg.store, name="log-ops")]
    reg.close()
    court, gate, ops = ({"Authorization": f"Bearer {k}"} for k in keys)
    finding = next(r for r in rows if r.get("kind") == "dishonesty_finding"
                   and r.get("national_id") and r.get("name"))
    person = next(r for r in rows if r.get("national_id") and r.get("phone") and r.get("name"))
    log = tmp_path / "serve.log"
    proc, base = _serve(db_url, log)
    try:
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            record = {"furnisher_record_id": "log-1", "kind": "dishonesty_finding",
                      "occurred_at": "2026-01-05", "national_id": person["national_id"],
                      "phone": person["phone"], "name": person["name"],
                      "case_number": "(2026)log1", "ground": 1, "amount_minor": 100,
                      "currency": "CNY"}
            bad = {**record, "furnisher_record_id": "log-2", "ground": 9}
            r = client.post("/v1/records", json={"records": [record, bad]}, headers=court)
            assert r.status_code == 200 and r.json()["rejected"] == 1, r.text
            for ident in ({"national_id": finding["national_id"], "name": finding["name"]},
                          {"phone": person["phone"]}):
                r = client.post("/v1/decisions", json={"service": "air", **ident},
                                headers=gate)
                assert r.status_code == 200, r.text
            r = client.post("/v1/decisions:batch", headers=ops, json={
                "service": "rail_hsr", "people": [{"national_id": person["national_id"]},
                                                  {"phone": person["phone"]}]})
            assert r.status_code == 200, r.text
            r = client.post("/v1/decisions", json={"service": "no-such-service",
                                                   "national_id": person["national_id"]},
                            headers={"Authorization": f"Bearer {keys[1]}x"})
            assert r.status_code == 401
            for q in (finding["name"], finding["national_id"], person["phone"]):
                assert client.get("/v1/public/entries", params={"q": q}).status_code == 200
                assert client.get("/", params={"q": q}).status_code == 200
            assert client.get("/v1/furnisher/rejects", headers=court).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    served_log = log.read_text(encoding="utf-8", errors="replace")
    for where, logged in (("demo", demo_log), ("serve", served_log)):
        leaked = sorted(s for s in secrets | set(keys) if s in logged)
        assert not leaked, f"{where} log holds {len(leaked)} secrets, e.g. {leaked[:3]}"
        for key in keys:
            assert key.split("_", 3)[3] not in logged
    # the access log was on, so the searches were logged: without their query strings
    assert '"GET /v1/public/entries HTTP/1.1" 200' in served_log, served_log[-2000:]
    assert '"POST /v1/decisions HTTP/1.1" 401' in served_log


def test_database_errors_carry_no_sql_parameters(sqlite_url: str) -> None:
    """A failed statement's error (and so a 5xx traceback in the log) names no value."""
    store = Store(sqlite_url)
    nid = "11010519491231002X"
    with pytest.raises(DBAPIError) as caught, store.engine.connect() as conn:
        conn.execute(text("SELECT * FROM nowhere WHERE national_id = :nid"), {"nid": nid})
    assert "nowhere" in str(caught.value) and nid not in str(caught.value)
    store.dispose()
