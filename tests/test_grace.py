"""A grace period before a listing (#13 item 3; SPC Opinions Fa Fa [2019] No. 35: one to three
months): the finding opens a notice and the period, nothing is refused or published during it,
the listing takes effect only if the obligation is still unperformed at its end, and the
subject's file shows all of it. Through ingest, evaluation, gate, public search, the file and
the what-if, on SQLite and PostgreSQL (``db_url``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from conftest import TODAY, decide_on, make_id, subject_of, write_csv
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure import search_public
from socialcredit.disclosure.notices import project_notices
from socialcredit.disclosure.subject_file import subject_file
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.model import load_policy
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.reports.whatif import evaluate_policy
from socialcredit.settings import DEFAULT_POLICY_PATH, Settings

PAYS = make_id(region="440103", birth="19850317", seq=57)
KEEPS = make_id(region="440103", birth="19900101", seq=21)
NOW = dt.datetime.combine(TODAY, dt.time(9, 0), tzinfo=dt.UTC)
#: TODAY is 2026-06-30: one month, the start day not counted, runs through 2026-07-30
LISTED_FROM = dt.date(2026, 7, 31)


def _row(frid: str, nid: str, case: str, kind: str = "dishonesty_finding",
         day: dt.date = TODAY) -> dict[str, object]:
    row: dict[str, object] = {"furnisher_record_id": frid, "kind": kind,
                              "occurred_at": day.isoformat(), "national_id": nid,
                              "name": "陈静", "case_number": case, "amount_minor": 50_000_00,
                              "currency": "CNY"}
    if kind == "dishonesty_finding":
        row["ground"] = 1
    else:
        row["full"] = True
    return row


def test_a_grace_period_lists_only_who_has_not_performed_at_its_end(
        db_url: str, tmp_path: Path) -> None:
    doc = yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8"))
    doc["lists"]["dishonest_judgment_debtors"]["grace_months"] = 1
    path = tmp_path / "grace.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    reg = Registry(Settings(database_url=db_url, policy_path=path), today=TODAY)
    reg.ensure_schema()
    try:
        add_furnisher(reg.store, name="court-a", kind="court")
        fid = furnisher_id(reg.store, "court-a")
        rows = [_row("A-1", PAYS, "(2026)粤01执1号"), _row("A-2", KEEPS, "(2026)粤01执2号")]
        assert ingest_file(reg.store, reg.policy, furnisher_id=fid, as_of=TODAY,
                           path=write_csv(tmp_path / "a.csv", rows)).accepted == 2
        project_notices(reg.store, reg.policy, now=NOW)
        for nid in (PAYS, KEEPS):
            assert decide_on(reg, nid, TODAY) == "allow"
            (e,) = subject_file(reg.store, reg.policy, subject_of(reg, nid))["entries"]
            assert e["status"] == "warned"
            assert {k: e["grace"][k] for k in ("found_on", "listed_from", "months", "outcome")
                    } == {"found_on": TODAY.isoformat(),
                          "listed_from": LISTED_FROM.isoformat(), "months": 1,
                          "outcome": "running"}
        notices = subject_file(reg.store, reg.policy, subject_of(reg, KEEPS))["notices"]
        (warning,) = [n for n in notices if n["kind"] in ("warning", "listing")]
        assert warning["kind"] == "warning" and LISTED_FROM.isoformat() in warning["title"]
        assert search_public(reg.store, reg.policy, "陈静", today=TODAY)[1] == 0
        # the what-if of the same registry under the policy without a grace period lists both
        plain = load_policy(DEFAULT_POLICY_PATH)
        with_grace, without = evaluate_policy(reg.store, [reg.policy, plain], TODAY,
                                              engine="python")
        assert sorted(e.status for e in with_grace.entries) == ["warned", "warned"]
        assert sorted(e.status for e in without.entries) == ["active", "active"]

        # one pays on the grace period's last day; the other does not
        paid = [_row("A-3", PAYS, "(2026)粤01执1号", "judgment_performance",
                     LISTED_FROM - dt.timedelta(days=1))]
        assert ingest_file(reg.store, reg.policy, furnisher_id=fid, as_of=LISTED_FROM,
                           path=write_csv(tmp_path / "b.csv", paid)).accepted == 1
        evaluate_all(reg.store, reg.policy, LISTED_FROM)
        assert decide_on(reg, PAYS, LISTED_FROM) == "allow"
        assert decide_on(reg, KEEPS, LISTED_FROM - dt.timedelta(days=1)) == "allow"
        assert decide_on(reg, KEEPS, LISTED_FROM) == "deny"
        (e,) = subject_file(reg.store, reg.policy, subject_of(reg, PAYS))["entries"]
        assert (e["status"], e["grace"]["outcome"]) == ("removed", "performed")
        assert "never took effect" in e["grace"]["text"]
        (e,) = subject_file(reg.store, reg.policy, subject_of(reg, KEEPS))["entries"]
        assert (e["status"], e["since"], e["grace"]["outcome"]) == (
            "active", LISTED_FROM.isoformat(), "listed")
        found, total = search_public(reg.store, reg.policy, "陈静", today=LISTED_FROM)
        assert total == 1 and found[0]["case_number"] == "(2026)粤01执2号"
        # who paid in time is told the listing will not take effect, not that it was removed
        project_notices(reg.store, reg.policy,
                        now=dt.datetime.combine(LISTED_FROM, dt.time(9, 0), tzinfo=dt.UTC))
        told = [n["title"] for n in subject_file(reg.store, reg.policy, subject_of(reg, PAYS))[
            "notices"] if n["kind"] == "removal"]
        assert told and all(t.startswith("Your listing will not take effect") for t in told)
    finally:
        reg.close()
