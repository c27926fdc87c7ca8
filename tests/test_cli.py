"""The console script as a user runs it: subprocesses, exit codes, --json, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_id, write_csv

DEBTOR = make_id(region="320102", birth="19700505", seq=35)


def run(tmp_path: Path, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SOCIALCREDIT_DATABASE_URL=db or f"sqlite:///{tmp_path}/cli.db",
               COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "socialcredit", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


def test_furnisher_ingest_check_report_verify(tmp_path: Path) -> None:
    r = run(tmp_path, "check", "--service", "air", "--national-id", DEBTOR)
    assert r.returncode == 1 and "no registry at" in r.stderr  # never "allow" from nothing
    assert run(tmp_path, "init").returncode == 0
    r = run(tmp_path, "furnishers", "add", "court-nj", "--kind", "court")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith("sc_f_")
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": DEBTOR, "name": "周杰",
             "case_number": "K-1", "ground": 1, "amount_minor": 100, "currency": "CNY"},
            {"furnisher_record_id": "2", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": DEBTOR, "case_number": "K-2",
             "ground": 7, "amount_minor": 100, "currency": "CNY"}]
    path = write_csv(tmp_path / "court.csv", rows)
    r = run(tmp_path, "ingest", str(path), "--furnisher", "court-nj", "--as-of", "2026-06-30",
            "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["accepted"], out["rejected"], out["duplicates"]) == (1, 1, 0)
    r = run(tmp_path, "ingest", "--show-rejects", "--json")
    (reject,) = json.loads(r.stdout)["data"]
    assert (reject["line"], reject["field"]) == (3, "ground")
    r = run(tmp_path, "check", "--service", "air", "--national-id", DEBTOR, "--as-of",
            "2026-06-30", "--json")
    assert r.returncode == 3 and json.loads(r.stdout)["decision"] == "deny"
    r = run(tmp_path, "check", "--service", "air", "--national-id", make_id(seq=2))
    assert r.returncode == 0 and "ALLOW" in r.stdout
    r = run(tmp_path, "check", "--service", "air", "--national-id", "110101198001011230")
    assert r.returncode == 2 and "check character" in r.stderr
    assert "Traceback" not in r.stderr
    r = run(tmp_path, "report", "--out", "rep", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["entries"]["dishonest_judgment_debtors"]["active"] == 1
    assert summary["decisions"]["air"]["deny"] == 1
    assert (tmp_path / "rep" / "index.html").is_file()
    r = run(tmp_path, "audit", "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True


@pytest.mark.parametrize(("args", "needle"), [
    (("ingest", "nope.csv", "--furnisher", "x"), "no furnisher named 'x'"),
    (("furnishers", "add", "bank", "--kind", "bakery"), "is not one of"),
    (("gates", "add", "g", "--services", "air,warp"), "unknown service"),
    (("evaluate", "--as-of", "2026-13-01"), "not an ISO date"),
    (("lists", "import", "ofac-sdn", "missing-dir"), "missing-dir"),
    (("check", "--service", "air"), "exactly one identifier"),
])
def test_errors_are_one_clear_line(tmp_path: Path, args: tuple[str, ...], needle: str) -> None:
    assert run(tmp_path, "init").returncode == 0
    r = run(tmp_path, *args)
    assert r.returncode != 0
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_bad_database_url_and_policy(tmp_path: Path) -> None:
    r = run(tmp_path, "init", db="mysql://nobody@127.0.0.1/x")
    assert r.returncode == 1 and "unsupported database" in r.stderr
    (tmp_path / "afile").write_text("not a folder")
    for url in (f"sqlite:///{tmp_path}/afile/x.db", f"sqlite:///{tmp_path}/afile"):
        r = run(tmp_path, "init", db=url)
        assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.count("\n") <= 3
    r = run(tmp_path, "simulate", "--subjects", "0", "--out", "x")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    bad = tmp_path / "p.yaml"
    bad.write_text("version: 1\nname: x\nhow_to_contest: x\ncatalogue: {}\nservices: {}\n"
                   "lists: {l: {title: t, legal_basis: abc, trigger: {kind: k, key: x}}}\n"
                   "sanctions: []\n")
    r = run(tmp_path, "--policy", str(bad), "init")
    assert r.returncode == 1 and "lists.l" in r.stderr and "period_days" in r.stderr


def test_demo_json_summary(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "furnishers", "add", "precious", "--kind", "court").returncode == 0
    r = run(tmp_path, "demo", "--subjects", "3000", "--seed", "5", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["listed"]["dishonest_judgment_debtors"] > 0
    assert out["rejected_rows"] > 0 and out["records"] > out["subjects"] > 0
    assert set(out["decisions"]) >= {"air", "rail_hsr"}
    assert sum(d["deny"] for d in out["decisions"].values()) > 0
    assert Path(tmp_path / out["report"]).is_file()
    r = run(tmp_path, "--database-url", f"sqlite:///{tmp_path}/var/demo/registry.db", "audit",
            "verify", "--json")
    assert json.loads(r.stdout)["events"] == out["ledger_events"]
    # the configured registry is untouched by the demo
    r = run(tmp_path, "furnishers", "list", "--json")
    assert [f["name"] for f in json.loads(r.stdout)["data"]] == ["precious"]
    # the demo served notices and asked a code for a listed person who was refused
    assert out["notices_served"] > 0
    who = out["sign_in"]
    assert len(who["code"]) == 6 and who["phone"].startswith("+")
    assert who["code"] in (tmp_path / who["outbox"]).read_text(encoding="utf-8")


def test_clocks_run_and_operator_revoke(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    r = run(tmp_path, "clocks", "run", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["served"] == 0
    assert run(tmp_path, "operators", "add", "alice").returncode == 0
    r = run(tmp_path, "operators", "revoke", "alice", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["count"] == 1
    again = run(tmp_path, "operators", "revoke", "alice")
    assert again.returncode == 0 and "nothing to revoke" in again.stdout
    # a revoked furnisher gets a new key (to answer its open disputes, say)
    assert run(tmp_path, "furnishers", "add", "fx", "--kind", "court").returncode == 0
    assert run(tmp_path, "furnishers", "revoke", "fx").returncode == 0
    fresh = run(tmp_path, "furnishers", "key", "fx")
    assert fresh.returncode == 0 and fresh.stdout.strip().startswith("sc_f_")
    assert run(tmp_path, "gates", "key", "nowhere").returncode == 1
    nobody = run(tmp_path, "operators", "revoke", "bob")
    assert nobody.returncode == 1 and "no operator named 'bob'" in nobody.stderr
    assert "Traceback" not in nobody.stderr


def test_evaluate_other_dates_only_as_a_dry_run(tmp_path: Path) -> None:
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2025-01-02", "national_id": DEBTOR, "case_number": "K",
             "ground": 1, "amount_minor": 1, "currency": "CNY"}]
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "furnishers", "add", "c", "--kind", "court").returncode == 0
    assert run(tmp_path, "ingest", str(write_csv(tmp_path / "c.csv", rows)), "--furnisher",
               "c").returncode == 0
    r = run(tmp_path, "evaluate", "--as-of", "2099-01-01")
    assert r.returncode == 2 and "--dry-run" in r.stderr
    r = run(tmp_path, "evaluate", "--as-of", "2099-01-01", "--dry-run", "--json")
    assert json.loads(r.stdout)["expired"] == {"dishonest_judgment_debtors": 1}
    r = run(tmp_path, "check", "--service", "air", "--national-id", DEBTOR)
    assert r.returncode == 3  # the dry run wrote nothing
    r = run(tmp_path, "ingest", str(tmp_path / "c.csv"), "--furnisher", "c", "--as-of",
            "2099-01-01")
    assert r.returncode == 2 and "future" in r.stderr


def test_offline_snapshot_export_verify_check(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "furnishers", "add", "c", "--kind", "court").returncode == 0
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": DEBTOR, "phone": "13911112222",
             "case_number": "K", "ground": 1, "amount_minor": 1, "currency": "CNY"}]
    assert run(tmp_path, "ingest", str(write_csv(tmp_path / "c.csv", rows)), "--furnisher",
               "c").returncode == 0
    for name, services in (("airline", "air"), ("hotel", "hotel_star")):
        assert run(tmp_path, "gates", "add", name, "--services", services).returncode == 0
    r = run(tmp_path, "gates", "export", "--gate", "airline", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["items"] == 2 and out["services"] == ["air"]  # the ID and the phone
    snap = Path(tmp_path / out["snapshot"])
    assert DEBTOR.encode() not in snap.read_bytes()
    r = run(tmp_path, "gates", "verify-snapshot", str(snap), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["gate"] == "airline"
    key = str(tmp_path / out["gate_key_file"])
    check = ("gates", "check-snapshot", str(snap), "--gate-key", key, "--service", "air")
    assert run(tmp_path, *check, "--national-id", DEBTOR).returncode == 3
    assert run(tmp_path, *check, "--phone", "+86 139 1111 2222").returncode == 3
    assert run(tmp_path, *check, "--national-id", make_id(seq=8)).returncode == 0
    # two years from 2026-01-02 last through 2028-01-02 (Civil Code arts. 201-202)
    import datetime as dt

    from socialcredit.gate.offline import public_key_path
    from socialcredit.gate.snapshot.reader import SnapshotReader

    reader = SnapshotReader(snap, gate_key=Path(key).read_bytes(),
                            public_key=public_key_path(tmp_path / "var" / "keys").read_bytes())
    hit = reader.check("national_id:" + DEBTOR, "air", on=dt.date(2028, 1, 2))
    assert hit is not None and hit.until == "2028-01-03"
    assert reader.check("national_id:" + DEBTOR, "air", on=dt.date(2028, 1, 3)) is None
    # a day the snapshot is not valid for is not answered (--as-of moves the expiry check)
    r = run(tmp_path, *check, "--national-id", DEBTOR, "--as-of", "2028-01-02")
    assert r.returncode == 5 and "EXPIRED (air)" in r.stderr
    assert run(tmp_path, "gates", "export", "--gate", "hotel").returncode == 0
    hotel_key = str(tmp_path / "var" / "keys" / "gates" / "hotel.key")
    r = run(tmp_path, "gates", "check-snapshot", str(snap), "--gate-key", hotel_key,
            "--service", "air", "--national-id", DEBTOR)
    assert r.returncode == 1 and "another key" in r.stderr
    data = snap.read_bytes()
    snap.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    r = run(tmp_path, "gates", "verify-snapshot", str(snap))
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_output_to_a_file_is_not_wrapped_at_80_columns(tmp_path: Path) -> None:
    """Off a terminal, with no COLUMNS, Rich wrapped at 80: a path or a command printed for
    copying was split across lines and tables squeezed (issue #16)."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["SOCIALCREDIT_DATABASE_URL"] = f"sqlite:///{tmp_path}/cli.db"

    def bare(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "socialcredit", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=300)

    assert bare("init").returncode == 0
    assert bare("furnishers", "add", "court-with-a-long-name", "--kind", "court").returncode == 0
    deep = tmp_path / ("a-folder-whose-name-is-long-" * 3) / "judgments-of-the-year-2026.csv"
    deep.parent.mkdir(parents=True)
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": DEBTOR, "case_number": "K-1",
             "ground": 1, "amount_minor": 100, "currency": "CNY"}]
    r = bare("ingest", str(write_csv(deep, rows)), "--furnisher", "court-with-a-long-name")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "accepted" in x)
    assert str(deep) in line and len(line) > 80, r.stdout
    listed = bare("furnishers", "list").stdout
    assert any("court-with-a-long-name" in x and "court" in x.replace(
        "court-with-a-long-name", "") for x in listed.splitlines()), listed


def test_an_offline_snapshot_expires_per_service(tmp_path: Path) -> None:
    """A snapshot cannot learn of a removal: past the policy's validity for a service
    (default policy: air 24 h, the rest 72 h) check-snapshot refuses to answer, exit 5, and
    every answer states the snapshot's age (issue #19, item 4)."""
    import datetime as dt

    from socialcredit.api.registry import Registry
    from socialcredit.gate.offline import export_gate_snapshot
    from socialcredit.settings import Settings

    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "furnishers", "add", "c", "--kind", "court").returncode == 0
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2026-01-02", "national_id": DEBTOR, "case_number": "K",
             "ground": 1, "amount_minor": 1, "currency": "CNY"}]
    assert run(tmp_path, "ingest", str(write_csv(tmp_path / "c.csv", rows)), "--furnisher",
               "c").returncode == 0
    assert run(tmp_path, "gates", "add", "trip", "--services", "air,hotel_star").returncode == 0
    reg = Registry(Settings(database_url=f"sqlite:///{tmp_path}/cli.db",
                            keys_dir=tmp_path / "var" / "keys"))
    try:
        made = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
        info, key = export_gate_snapshot(reg.store, reg.policy, reg.settings.keys_dir,
                                         gate="trip", out=tmp_path / "trip.snap", now=made)
    finally:
        reg.close()
    assert info.valid_until["air"] == made + dt.timedelta(hours=24)
    assert info.valid_until["hotel_star"] == made + dt.timedelta(hours=72)
    check = ("gates", "check-snapshot", str(tmp_path / "trip.snap"), "--gate-key", str(key),
             "--national-id", DEBTOR)
    air = run(tmp_path, *check, "--service", "air")
    assert air.returncode == 5 and "EXPIRED (air)" in air.stderr, (air.stdout, air.stderr)
    assert "30.0 h old" in air.stderr and "export a new one" in air.stderr
    hotel = run(tmp_path, *check, "--service", "hotel_star")
    assert hotel.returncode == 3 and "30.0 h old" in hotel.stdout, hotel.stderr
    # a service the gate's snapshot does not cover is said so, not taken for an expiry
    rail = run(tmp_path, *check, "--service", "rail_hsr")
    assert rail.returncode == 2 and "covers air, hotel_star, not 'rail_hsr'" in rail.stderr, (
        rail.stdout, rail.stderr)
    shown = json.loads(run(tmp_path, "gates", "verify-snapshot", str(tmp_path / "trip.snap"),
                           "--json").stdout)
    assert set(shown["valid_until"]) == {"air", "hotel_star"}
    # --as-of moves the expiry check and the age with the day asked about (local day)
    from socialcredit.policy.jurisdiction import local_today
    from socialcredit.policy.model import load_policy

    today = local_today(load_policy("default").jurisdiction)
    before = run(tmp_path, *check, "--service", "air", "--as-of",
                 (today - dt.timedelta(days=1)).isoformat())
    assert before.returncode == 3 and "6.0 h old" in before.stdout, (before.stdout,
                                                                      before.stderr)
    later = run(tmp_path, *check, "--service", "hotel_star", "--as-of",
                (today + dt.timedelta(days=2)).isoformat())
    assert later.returncode == 5 and "EXPIRED (hotel_star)" in later.stderr
    assert "78.0 h old" in later.stderr


def test_a_snapshot_without_an_expiry_counts_as_expired() -> None:
    import datetime as dt

    from socialcredit.gate.snapshot.format import SnapshotInfo

    now = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
    old = SnapshotInfo("g", ("air",), 1, now - dt.timedelta(hours=1), "v", 0, 0, 0, "d")
    assert old.expired("air", now)
    fresh = SnapshotInfo("g", ("air",), 1, now, "v", 0, 0, 0, "d",
                         {"air": now + dt.timedelta(hours=24)})
    assert not fresh.expired("air", now) and fresh.expired("air", now + dt.timedelta(days=1))


def test_ingest_says_which_entries_were_created_already_expired(tmp_path: Path) -> None:
    rows = [{"furnisher_record_id": "1", "kind": "dishonesty_finding",
             "occurred_at": "2020-01-02", "national_id": DEBTOR, "case_number": "K",
             "ground": 1, "amount_minor": 1, "currency": "CNY"}]
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "furnishers", "add", "c", "--kind", "court").returncode == 0
    r = run(tmp_path, "ingest", str(write_csv(tmp_path / "c.csv", rows)), "--furnisher", "c")
    assert r.returncode == 0, r.stderr
    assert "entries listed" not in r.stdout
    assert ("entries created already expired, not counted as listed (their period had ended "
            "before the records arrived): dishonest_judgment_debtors 1") in r.stdout, r.stdout


def test_furnishers_alias_registers_and_lists_a_creditors_other_names(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    for name in ("bank-icbc", "collector-x"):
        assert run(tmp_path, "furnishers", "add", name, "--kind", "lender").returncode == 0
    r = run(tmp_path, "furnishers", "alias", "bank-icbc",
            "Industrial and Commercial Bank of China Limited", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["added"], [a["key"] for a in out["data"]]) == (
        1, ["industrialandcommercialbankofchina"])
    taken = run(tmp_path, "furnishers", "alias", "collector-x",
                "INDUSTRIAL AND COMMERCIAL BANK OF CHINA")
    assert taken.returncode == 1 and "already names furnisher 'bank-icbc'" in taken.stderr
    assert "has no alias" in run(tmp_path, "furnishers", "alias", "collector-x").stdout
