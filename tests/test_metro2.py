"""Metro 2 intake (issue #19, item 6): the character format read, mapped into the catalogue,
bad records quarantined by byte position, a file that is not Metro 2 refused whole.

Files are made by ``tests/fixtures/metro2/generate.py`` (fields at the CRRG's positions).
The reader's tests need no policy. Ingest runs on SQLite and PostgreSQL under two policies:
the default one, whose CN resident-ID scheme refuses an SSN (the quarantine says so), and a
copy of it for US tradelines (``us.ssn`` identifiers, the Metro 2 fields catalogued on
``loan_default``, the loan list counting USD), under which the records land, are evaluated
and reach the gate.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from conftest import TODAY
from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.errors import InputError
from socialcredit.ingest.metro2 import Metro2Header, Metro2Record, read_metro2
from socialcredit.ingest.metro2_layout import BASE, SEGMENTS
from socialcredit.ingest.metro2_map import metro2_rows
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.model import Policy, load_policy
from socialcredit.policy.obligations import DATE_KEPT_FLAG
from socialcredit.settings import Settings
from socialcredit.store.tables import list_entries, quarantine, records

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metro2"))
import generate as m2  # noqa: E402

SSN, SSN2 = "123456781", "123456782"
LIST = "serious_loan_defaulters"


def _records(path: Path) -> list[Metro2Record]:
    got = list(read_metro2(path))
    assert isinstance(got[0], Metro2Header)
    return [r for r in got[1:] if isinstance(r, Metro2Record)]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- the reader, no policy --------------------------------------------------------------


def test_the_layout_holds_the_crrg_positions() -> None:
    # CRRG base segment: field 17A status 124-125, 24 DOAI 182-189, 25 DOFD 190-197,
    # 35 SSN 298-306, 38 CII 326-327; segments J1 100, J2 200, K1/K2 34, K3 40, K4 30, L1 54,
    # N1 146 bytes
    at = {f.name: (f.start, f.length) for f in BASE}
    assert at["account_status"] == (124, 2)
    assert at["date_of_account_information"] == (182, 8)
    assert at["date_of_first_delinquency"] == (190, 8)
    assert at["social_security_number"] == (298, 9)
    assert at["consumer_information_indicator"] == (326, 2)
    assert at["compliance_condition_code"] == (153, 2)
    assert {k: v[0] for k, v in SEGMENTS.items()} == {
        "J1": 100, "J2": 200, "K1": 34, "K2": 34, "K3": 40, "K4": 30, "L1": 54, "N1": 146}
    line = m2.base(social_security_number="123456789", account_status="97")
    assert (line[297:306], line[123:125], len(line)) == ("123456789", "97", 426)


@pytest.mark.parametrize("newline", ["\n", "\r\n", None])
def test_every_record_and_segment_is_read_on_lines_or_back_to_back(
        tmp_path: Path, newline: str | None) -> None:
    path = _write(tmp_path, "m2.txt", m2.metro2_file([
        m2.base(),
        m2.base(m2.segment("K1", original_creditor_name="bank-a"),
                m2.segment("K2", purchased_sold_indicator="1", purchased_sold_name="bank-a"),
                consumer_account_number="A-2", account_status="97",
                compliance_condition_code="XB", consumer_information_indicator="A")],
        newline=newline))
    recs = _records(path)
    assert [r.problems for r in recs] == [[], []]
    step = 426 + len(newline or "")
    assert [r.offset for r in recs] == [1 + step, 1 + 2 * step]
    first, second = recs
    assert first.base["account_status"] == "82"
    assert first.base["date_of_first_delinquency"] == "2026-02-01"
    assert first.base["current_balance"] == 30000
    assert [s for s, _ in second.segments] == ["K1", "K2"]
    assert second.segment("K2") == {"segment_identifier": "K2", "purchased_sold_indicator": "1",
                                    "purchased_sold_name": "bank-a"}
    assert second.base["compliance_condition_code"] == "XB"


def test_bad_records_name_byte_field_and_reason_and_the_good_one_is_read(
        tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.txt", m2.bad())
    short, bad_date, bad_status, good = _records(path)
    assert (short.offset, [f for f, _ in short.problems]) == (428, ["record_length"])
    assert "425 bytes" in short.problems[0][1]
    # the short record's line is 425 bytes + LF: the next starts at 428 + 426
    assert bad_date.offset == 854
    ((field, why),) = bad_date.problems
    assert field == "date_of_first_delinquency"
    assert why == ("base bytes 190-197 (file bytes 1043-1050): '02312026' is not a date "
                   "(MMDDYYYY)")
    ((field, why),) = bad_status.problems
    assert field == "account_status" and "unknown account status 'ZZ'" in why
    assert good.problems == [] and good.base["consumer_account_number"] == "ACCT-0009"


def test_a_byte_that_is_not_ascii_is_named_by_position_and_field(
        us_registry: Registry, tmp_path: Path) -> None:
    """A Latin-1 'é' (0xE9) in the surname, and one in a K2 segment's creditor name: each
    record is quarantined with the byte's record and file position, its value and the field
    it falls in; the good record between them lands."""
    good = m2.base(consumer_account_number="ACCT-0002")
    k2 = m2.base(m2.segment("K2", purchased_sold_indicator="1", purchased_sold_name="BANK A"),
                 consumer_account_number="ACCT-0003")
    data = bytearray(m2.metro2_file([m2.base(surname="RENEE"), good, k2]))
    first, third = 428, 428 + 2 * 427
    data[first - 1 + 232] = 0xE9      # base byte 233: the surname's second byte
    data[third - 1 + 426 + 5] = 0xE9  # K2 byte 6: the creditor name's third byte
    path = _write(tmp_path, "latin1.txt", bytes(data))
    one, _, three = _records(path)
    ((field, why),) = one.problems
    assert field == "surname"
    assert why == ("record byte 233 (file byte 660), in base field surname (bytes 232-256 "
                   "of base): byte 0xE9 is not ASCII (the Metro 2 character format is ASCII "
                   "text)")
    ((field, why),) = three.problems
    assert field == "purchased_sold_name"
    assert why.startswith(f"record byte 432 (file byte {third + 431}), in K2 field "
                          "purchased_sold_name (bytes 4-33 of K2): byte 0xE9")
    result = _ingest(us_registry, path)
    assert (result.accepted, result.rejected) == (1, 2)
    assert [(p["line"], p["field"]) for p in result.problems] == [
        (first, "surname"), (third, "purchased_sold_name")]


def test_a_lost_trailer_or_a_wrong_count_is_told(tmp_path: Path) -> None:
    whole = m2.metro2_file([m2.base(), m2.base(consumer_account_number="A-2")])
    cut = _write(tmp_path, "cut.txt", whole[: whole.rfind(b"TRAILER") - 4])
    *recs, end = _records(cut)
    assert len(recs) == 2 and [r.problems for r in recs] == [[], []]
    assert end.problems[0][0] == "trailer" and "cut short" in end.problems[0][1]
    miscount = _write(tmp_path, "miscount.txt", m2.metro2_file([m2.base()], tail=m2.trailer(5)))
    *_, end = _records(miscount)
    assert end.problems == [("total_base_records", "the trailer counts 5 base records; the "
                             "file holds 1 (records lost or added in transit?)")]


@pytest.mark.parametrize(("data", "needle"), [
    (b"", "it is empty"),
    (b"furnisher_record_id,kind,occurred_at\n1,loan_default,2026-01-01\n",
     "does not start with a record descriptor word"),
    (m2.header().encode("cp037") + b"\n", "EBCDIC"),
    (b"\x01\xaa\x00\x00" + m2.header()[4:].encode() + b"\n", "packed format"),
    (m2.base().encode() + b"\n", "the first record is not a header"),
    (m2.header()[:-3].encode() + b"\n" + m2.trailer(0).encode(), "header record is not 426"),
])
def test_a_file_that_is_not_metro2_is_refused_whole(
        tmp_path: Path, data: bytes, needle: str) -> None:
    path = _write(tmp_path, "x.txt", data)
    with pytest.raises(InputError) as e:
        list(read_metro2(path))
    assert needle in e.value.message and str(path) in e.value.message


# --- ingest, evaluation and the gate ----------------------------------------------------


@pytest.fixture
def us_registry(db_url: str, tmp_path: Path) -> Any:
    reg = Registry(Settings(database_url=db_url, policy_path=m2.us_policy(tmp_path)), today=TODAY)
    reg.ensure_schema()
    yield reg
    reg.close()


def _ingest(reg: Registry, path: Path, furnisher: str = "bank-a") -> Any:
    try:
        fid = furnisher_id(reg.store, furnisher)
    except Exception:
        add_furnisher(reg.store, name=furnisher, kind="lender")
        fid = furnisher_id(reg.store, furnisher)
    return ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=TODAY,
                       fmt="metro2")


def test_under_a_cn_policy_an_ssn_is_quarantined_with_the_schemes_reason(
        registry: Registry, tmp_path: Path) -> None:
    result = _ingest(registry, _write(tmp_path, "m2.txt", m2.metro2_file([m2.base()])))
    assert (result.accepted, result.rejected) == (0, 1)
    (problem,) = result.problems
    assert (problem["line"], problem["field"]) == (428, "national_id")
    assert "'123456781'" in problem["reason"] and "18 characters" in problem["reason"]


def test_metro2_records_land_are_evaluated_and_refuse_at_the_gate(
        us_registry: Registry, tmp_path: Path) -> None:
    reg = us_registry
    path = _write(tmp_path, "m2.txt", m2.metro2_file([
        m2.base(),  # $30,000, 120 days past due
        m2.base(consumer_account_number="ACCT-0002", account_status="97",
                date_of_first_delinquency="2025-11-15", compliance_condition_code="XB",
                current_balance=42000, consumer_information_indicator="A",
                special_comment="AW"),
        m2.base(consumer_account_number="ACCT-0003", account_status="11",
                date_of_first_delinquency=None, current_balance=100, amount_past_due=0),
        m2.base(m2.segment("J1", surname="DOE", first_name="JOHN",
                           social_security_number=SSN2, ecoa_code="2"),
                consumer_account_number="ACCT-0004", account_status="13", current_balance=0,
                actual_payment_amount=1200, date_of_first_delinquency=None)]))
    result = _ingest(reg, path)
    # the current account (11) is no kind of this catalogue: told, not taken
    assert (result.accepted, result.rejected) == (4, 1), result.problems
    (problem,) = result.problems
    assert (problem["line"], problem["field"]) == (428 + 2 * 427, "account_status")
    assert "account in good standing" in problem["reason"]
    with reg.store.read() as conn:
        held = {r.furnisher_record_id: (r.kind, r.national_id, json.loads(r.payload))
                for r in conn.execute(select(records))}
        listed = conn.execute(select(list_entries.c.list, list_entries.c.since).where(
            list_entries.c.status == "active")).all()
    kind, nid, payload = held["ACCT-0002/2026-06-01"]
    assert (kind, nid) == ("loan_default", SSN)
    assert payload["compliance_condition"] == "XB" and payload["dispute"] == "open"
    assert (payload["bankruptcy"], payload["bankruptcy_chapter"]) == ("petitioned", 7)
    assert payload["account_status"] == "97" and payload["special_comment"] == "AW"
    assert payload["first_delinquency_date"] == "2025-11-15"
    assert (payload["amount_minor"], payload["currency"]) == (4_200_000, "USD")
    assert payload["days_past_due"] == 198  # 2025-11-15 → 2026-06-01
    assert held["ACCT-0001/2026-06-01"][2]["days_past_due"] == 120
    # the co-borrower of the paid account is a person of their own
    assert held["ACCT-0004/2026-06-01/J1-1"][:2] == ("loan_repayment", SSN2)
    assert held["ACCT-0004/2026-06-01"][2]["full"] is True
    # $30,000 + $42,000 at 90+ days: listed once both delinquencies had begun (each report's
    # date is its first delinquency, the obligation's anchor)
    assert listed == [(LIST, "2026-02-01")]
    decision = reg.decisions.decide(service="credit", national_id=SSN)
    assert decision.decision == "deny"
    assert reg.decisions.decide(service="credit", national_id=SSN2).decision == "allow"
    # the same file again changes nothing
    again = _ingest(reg, path)
    assert (again.accepted, again.duplicates) == (0, 4)


def test_bad_records_are_quarantined_by_byte_and_lose_nothing_good(
        us_registry: Registry, tmp_path: Path) -> None:
    result = _ingest(us_registry, _write(tmp_path, "bad.txt", m2.bad()))
    assert (result.accepted, result.rejected) == (1, 3)
    assert [(p["line"], p["field"]) for p in result.problems] == [
        (428, "record_length"), (854, "date_of_first_delinquency"),
        (1281, "account_status")]
    with us_registry.store.read() as conn:
        stored = conn.execute(select(quarantine.c.line, quarantine.c.field,
                                     quarantine.c.reason, quarantine.c.raw)).all()
        landed = conn.execute(select(records.c.furnisher_record_id)).scalars().all()
    assert landed == ["ACCT-0009/2026-06-01"]
    assert [(s.line, s.field) for s in stored] == [
        (428, "record_length"), (854, "date_of_first_delinquency"), (1281, "account_status")]
    assert all(s.raw and "ACCT-000" in s.raw for s in stored)


def test_a_debt_buyers_k2_report_is_the_lenders_obligation(
        us_registry: Registry, tmp_path: Path) -> None:
    reg = us_registry
    lender = _write(tmp_path, "lender.txt", m2.metro2_file([m2.base(
        account_status="80", date_of_first_delinquency="2026-01-01",
        date_of_account_information="2026-04-01")]))
    assert _ingest(reg, lender, "bank-a").accepted == 1
    # the buyer reports the account it bought from bank-a, under the same account number,
    # with a later first delinquency (re-aging): one obligation, the date kept
    buyer = _write(tmp_path, "buyer.txt", m2.metro2_file([m2.base(
        m2.segment("K2", purchased_sold_indicator="1", purchased_sold_name="bank-a"),
        account_status="93", date_of_first_delinquency="2026-03-01",
        identification_number="BUYER0001")]))
    result = _ingest(reg, buyer, "buyer-x")
    assert result.accepted == 1
    assert [(f["field"], f["flag"], f["reported"], f["kept"]) for f in result.flagged] == [
        ("first_delinquency_date", DATE_KEPT_FLAG, "2026-03-01", "2026-01-01")]
    with reg.store.read() as conn:
        payload = json.loads(conn.execute(select(records.c.payload).where(
            records.c.furnisher_record_id == "ACCT-0001/2026-06-01")).scalar_one())
        listed = conn.execute(select(list_entries)).all()
    assert payload["original_creditor"] == payload["purchased_from"] == "bank-a"
    # one $30,000 obligation, not two: under the $50,000 threshold
    assert listed == []
    assert reg.decisions.decide(service="credit", national_id=SSN).decision == "allow"


def test_a_k2_naming_the_seller_by_its_legal_name_is_its_obligation(
        us_registry: Registry, tmp_path: Path) -> None:
    """Metro 2's K2 "purchased from" name is the seller's legal name, not its furnisher name:
    with the seller's alias registered, the buyer's report is the seller's obligation."""
    from socialcredit.ingest.creditors import add_alias

    reg = us_registry
    lender = _write(tmp_path, "lender.txt", m2.metro2_file([m2.base(
        account_status="80", date_of_account_information="2026-04-01")]))
    assert _ingest(reg, lender, "bank-a").accepted == 1
    add_alias(reg.store, furnisher="bank-a", alias="Springfield Savings Bank")
    buyer = _write(tmp_path, "buyer.txt", m2.metro2_file([m2.base(
        m2.segment("K2", purchased_sold_indicator="1",
                   purchased_sold_name="SPRINGFIELD SAVINGS BANK INC"),
        account_status="93", identification_number="BUYER0001")]))
    result = _ingest(reg, buyer, "buyer-x")
    assert (result.accepted, result.flagged) == (1, [])
    with reg.store.read() as conn:
        payload = json.loads(conn.execute(select(records.c.payload).where(
            records.c.furnisher_id == furnisher_id(reg.store, "buyer-x"))).scalar_one())
        listed = conn.execute(select(list_entries)).all()
    assert payload["original_creditor"] == "bank-a"
    assert listed == []  # one $30,000 obligation, not two
    reg.gate_index.refresh()
    assert reg.decisions.decide(service="credit", national_id=SSN).decision == "allow"


def test_a_month_resent_with_the_correction_indicator_corrects_it(
        us_registry: Registry, tmp_path: Path) -> None:
    """The same month re-sent with new figures is refused, saying how to correct it (the
    correction indicator); with the indicator it corrects the month's record (the registry's
    ``corrects``): the evaluation and the gate follow the corrected figures, and a second
    correction of the month corrects the first."""
    reg = us_registry

    def decide() -> str:
        reg.gate_index.refresh()  # the gate follows the ledger; read it now
        return reg.decisions.decide(service="credit", national_id=SSN).decision

    def month(n: int, *, balance: int, stamp: str = "06302026120000", ind: str = "") -> Path:
        return _write(tmp_path, f"m{n}.txt", m2.metro2_file([m2.base(
            current_balance=balance, time_stamp=stamp, correction_indicator=ind)]))

    assert _ingest(reg, month(1, balance=30000)).accepted == 1
    assert decide() == "allow"
    resent = _ingest(reg, month(2, balance=60000))
    assert (resent.accepted, resent.rejected) == (0, 1)
    assert "correction indicator, base byte 20, set to 1" in resent.problems[0]["reason"]
    fixed = _ingest(reg, month(3, balance=60000, stamp="07022026090000", ind="1"))
    assert (fixed.accepted, fixed.rejected) == (1, 0), fixed.problems
    assert fixed.evaluation.listed == {LIST: 1}  # $60,000 at 120 days: over $50,000
    assert decide() == "deny"
    again = _ingest(reg, month(4, balance=20000, stamp="07032026090000", ind="1"))
    assert (again.accepted, again.rejected) == (1, 0), again.problems
    with reg.store.read() as conn:
        held = {r.furnisher_record_id: (r.superseded_by is None, json.loads(r.payload)[
            "amount_minor"]) for r in conn.execute(select(records))}
        status = conn.execute(select(list_entries.c.status)).scalars().all()
    assert held == {"ACCT-0001/2026-06-01": (False, 3_000_000),
                    "ACCT-0001/2026-06-01/corrected-07022026090000": (False, 6_000_000),
                    "ACCT-0001/2026-06-01/corrected-07032026090000": (True, 2_000_000)}
    assert status == ["removed"]
    assert decide() == "allow"
    # the correction re-sent is a duplicate, not a new correction
    assert _ingest(reg, month(5, balance=20000, stamp="07032026090000", ind="1")
                   ).duplicates == 1


def test_the_cli_reads_metro2_and_says_byte_not_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from test_cli import run

    monkeypatch.setenv("SOCIALCREDIT_POLICY_PATH", str(m2.us_policy(tmp_path)))
    db = f"sqlite:///{tmp_path}/cli.db"
    assert run(tmp_path, "init", db=db).returncode == 0
    assert run(tmp_path, "furnishers", "add", "bank-a", "--kind", "lender",
               db=db).returncode == 0
    path = _write(tmp_path, "bad.txt", m2.bad())
    r = run(tmp_path, "ingest", str(path), "--format", "metro2", "--furnisher", "bank-a",
            "--as-of", "2026-06-30", db=db)
    assert r.returncode == 0, r.stderr
    assert "1 accepted, 3 rejected" in r.stdout
    assert "byte 854: date_of_first_delinquency: base bytes 190-197" in r.stdout
    r = run(tmp_path, "ingest", str(path), "--format", "metro3", "--furnisher", "bank-a",
            db=db)
    assert r.returncode != 0 and "--format 'metro3'" in r.stderr
    csv_file = _write(tmp_path, "rows.csv", b"furnisher_record_id,kind,occurred_at\n")
    r = run(tmp_path, "ingest", str(csv_file), "--format", "metro2", "--furnisher", "bank-a",
            db=db)
    assert r.returncode != 0 and "not a Metro 2 file" in r.stderr


_GOOD = m2.metro2_file([
    m2.base(),
    m2.base(m2.segment("K1", original_creditor_name="bank-a"),
            m2.segment("K2", purchased_sold_indicator="1", purchased_sold_name="bank-a"),
            consumer_account_number="A-2", account_status="97"),
    m2.base(m2.segment("J1", surname="DOE", first_name="JOHN",
                       social_security_number=SSN2, ecoa_code="2"),
            consumer_account_number="A-3", account_status="13")])


@functools.cache
def _us_policy_once() -> Policy:
    return load_policy(m2.us_policy(Path(tempfile.mkdtemp(prefix="m2-policy-"))))


@settings(max_examples=int(os.environ.get("SOCIALCREDIT_FUZZ_EXAMPLES", "150")),
          deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(edits=st.lists(st.tuples(st.integers(0, len(_GOOD) - 1),
                                st.sampled_from(["set", "drop", "add"]),
                                st.binary(min_size=1, max_size=3)), max_size=4),
       lines=st.booleans())
def test_damaged_files_give_rows_or_reasons_never_a_crash(
        tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, str, bytes]],
        lines: bool) -> None:
    data = bytearray(_GOOD if lines else _GOOD.replace(b"\n", b""))
    for at, how, blob in edits:
        at = min(at, len(data))
        if how == "set":
            data[at:at + len(blob)] = blob
        elif how == "drop":
            del data[at:at + len(blob)]
        else:
            data[at:at] = blob
    path = tmp_path_factory.mktemp("m2") / "fuzz.txt"
    path.write_bytes(bytes(data))
    policy = _us_policy_once()
    try:
        rows = list(metro2_rows(path, policy))
    except InputError as e:  # refused whole, with its reason and the file
        assert str(path) in e.message
        return
    assert rows, "a Metro 2 file with a header gives rows or says why not"
    last = 0
    for row in rows:
        assert bool(row.data) != bool(row.issues()), row
        assert all(why for _, why in row.issues())
        assert row.line >= last
        last = row.line


def test_an_extra_byte_and_a_delinquency_after_its_report_are_told(tmp_path: Path) -> None:
    path = _write(tmp_path, "m2.txt", m2.metro2_file([
        m2.base() + "X",
        m2.base(consumer_account_number="A-2", date_of_first_delinquency="2026-07-01")]))
    long, late = _records(path)
    assert long.problems == [("record_length", (
        "the record is 427 bytes, and its bytes 427-427 (file bytes 854-854), 'X', start no "
        "appended segment (J1, J2, K1, K2, K3, K4, L1 or N1) after the 426 bytes before them: "
        "a byte added or lost?"))]
    assert [f for f, _ in late.problems] == ["date_of_first_delinquency"]
    assert "2026-07-01 is after the date of account information 2026-06-01" in (
        late.problems[0][1])


def test_a_consumer_to_delete_is_told_and_the_co_borrower_taken(tmp_path: Path) -> None:
    path = _write(tmp_path, "m2.txt", m2.metro2_file([m2.base(
        m2.segment("J1", surname="DOE", first_name="JOHN", social_security_number=SSN2,
                   ecoa_code="2"), ecoa_code="Z")]))
    rows = list(metro2_rows(path, _us_policy_once()))
    assert [(r.line, r.issues()[0][0] if r.issues() else None) for r in rows] == [
        (428, "ecoa_code"), (428, None)]
    assert rows[1].data["national_id"] == SSN2
    assert rows[1].data["furnisher_record_id"] == "ACCT-0001/2026-06-01/J1-1"


def test_the_fixture_files_are_what_their_generator_writes() -> None:
    here = Path(__file__).parent / "fixtures" / "metro2"
    assert (here / "small.txt").read_bytes() == m2.small()
    assert (here / "bad.txt").read_bytes() == m2.bad()
    small = _records(here / "small.txt")
    assert [r.base["account_status"] for r in small] == ["82", "97", "93", "13"]
    assert [[s for s, _ in r.segments] for r in small] == [[], [], ["K1", "K2"], ["J1"]]


def test_under_the_shipped_us_policy_every_account_lands(
        db_url: str, tmp_path: Path) -> None:
    """The US policy ships the kinds a Metro 2 file holds: an account in good standing (status
    11) is an ``account_current`` record there, not a quarantined row."""
    reg = Registry(Settings(database_url=db_url, policy_path="us"), today=TODAY)
    try:
        reg.ensure_schema()
        result = _ingest(reg, _write(tmp_path, "m2.txt", m2.metro2_file([
            m2.base(),
            m2.base(consumer_account_number="ACCT-0003", account_status="11",
                    date_of_first_delinquency=None, current_balance=100, amount_past_due=0),
            m2.base(consumer_account_number="ACCT-0004", account_status="13",
                    current_balance=0, actual_payment_amount=1200,
                    date_of_first_delinquency=None)])))
        assert (result.accepted, result.rejected) == (3, 0), result.problems
        with reg.store.read() as conn:
            kinds = {r.furnisher_record_id: r.kind for r in conn.execute(
                select(records.c.furnisher_record_id, records.c.kind))}
        assert kinds == {"ACCT-0001/2026-06-01": "loan_default",
                         "ACCT-0003/2026-06-01": "account_current",
                         "ACCT-0004/2026-06-01": "loan_repayment"}
    finally:
        reg.close()


def test_a_past_due_status_without_its_first_delinquency_is_quarantined(
        us_registry: Registry, tmp_path: Path) -> None:
    """Statuses 71-84 (30 to 180 days past due) and the derogatory ones state when the
    delinquency began (FCRA §623(a)(5)): without it nothing anchors the listing but the
    reporting date, so the record is quarantined, whatever its payment rating says."""
    path = _write(tmp_path, "nodofd.txt", m2.metro2_file([
        m2.base(consumer_account_number="ACCT-0071", account_status="71",
                date_of_first_delinquency=None),
        m2.base(consumer_account_number="ACCT-0084", account_status="84",
                date_of_first_delinquency=None),
        m2.base(consumer_account_number="ACCT-0097", account_status="97",
                payment_rating="L", date_of_first_delinquency=None),
        m2.base(consumer_account_number="ACCT-0080", account_status="80")]))
    result = _ingest(us_registry, path)
    assert (result.accepted, result.rejected) == (1, 3), result.problems
    assert {p["field"] for p in result.problems} == {"date_of_first_delinquency"}
    assert all("date of first delinquency" in p["reason"] for p in result.problems)
    assert us_registry.decisions.decide(service="credit", national_id=SSN).decision == "allow"
