"""Deliberate faults against the README's guarantees: each must be caught by its tests.

Usage::

    python bench/mutations.py            # every fault; exit 1 if any survives
    python bench/mutations.py --list     # the faults, their files and tests
    python bench/mutations.py -k hash    # only faults whose name contains "hash"

For each fault of :data:`FAULTS`, one at a time: ``src/`` is copied to a scratch folder, one
exact text replacement is made in the copy (the replaced text must occur exactly once, so a
fault whose code has moved is reported as ``stale``, not as caught), and the tests meant to
catch it run with the copy first on ``PYTHONPATH``. Pytest exiting 1 (a test failed) means
caught; 0 (all passed) means the fault survived; anything else (collection error, timeout) is
reported as such and counts as not caught. The working tree is never modified.

Prints one table: fault, tests run, outcome, seconds. Faults marked ``postgres`` run only when
``SOCIALCREDIT_TEST_DATABASE_URL`` is set (they say ``skipped`` otherwise and do not fail the
run). Each pytest run is bounded by ``--timeout`` seconds (default 300).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ENV = "SOCIALCREDIT_TEST_DATABASE_URL"


@dataclass(frozen=True)
class Fault:
    """One deliberate fault: in ``path`` (under ``src/socialcredit``) ``old`` becomes ``new``;
    ``tests`` are pytest node ids or ``file -k expr`` arguments that must catch it."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    postgres: bool = False


#: The stale-index limit walked for every service on both decision routes (frozen clock).
LIMITS = ("tests/test_gate_staleness.py", "-k", "each_services_limit")
#: A gate whose database is cut mid-run (PostgreSQL through a TCP proxy).
CUT = ("tests/test_gate_staleness.py", "-k", "lost_database")
#: The 0002 -> 0003 re-hash of a chain, checked against the live formula.
REHASH = ("tests/test_migrations.py", "-k", "rehashes")

#: The test of both decision paths on an entry's since and until days.
BOUNDS = ("tests/test_gate_scale.py::"
          "test_both_decision_paths_refuse_from_since_up_to_the_day_before_until")

FAULTS: tuple[Fault, ...] = (
    Fault("gate refuses after 0.4 s of staleness (policy limit ignored)",
          "api/routes.py", "    if stale > limit:\n", "    if stale > 0.4:\n",
          LIMITS),
    Fault("gate never refuses a stale index",
          "api/routes.py", "    if stale > limit:\n", "    if False:\n",
          LIMITS),
    Fault("gate applies the default limit to every service",
          "policy/model/settings.py", "        return self.staleness_limit_seconds.get(\n"
          "            service, self.staleness_limit_seconds.get(\"default\", 300))",
          "        return self.staleness_limit_seconds.get(\"default\", 300)",
          LIMITS),
    Fault("gate applies the air limit to air only, the default to every other service",
          "policy/model/settings.py", "        return self.staleness_limit_seconds.get(\n"
          "            service, self.staleness_limit_seconds.get(\"default\", 300))",
          "        return self.staleness_limit_seconds.get(\n"
          "            service if service == \"air\" else \"default\", 300)", LIMITS),
    Fault("gate refuses exactly at the limit",
          "api/routes.py", "    if stale > limit:\n", "    if stale >= limit:\n", LIMITS),
    Fault("gate refuses 0.9 s before the limit",
          "api/routes.py", "    if stale > limit:\n", "    if stale > limit - 0.9:\n", LIMITS),
    Fault("gate (batch route) never refuses a stale index",
          "api/routes.py",
          "    _fresh_enough(request, response, registry, body.service)\n"
          "    people = ",
          "    try:\n        _fresh_enough(request, response, registry, body.service)\n"
          "    except StoreUnavailable:\n        pass\n    people = ", LIMITS),
    Fault("gate (batch route) applies the hotel limit to every service",
          "api/routes.py",
          "    _fresh_enough(request, response, registry, body.service)\n"
          "    people = ",
          "    _fresh_enough(request, response, registry, \"hotel_star\")\n"
          "    people = ", LIMITS),
    Fault("gate follower counts a failed refresh as fresh",
          "api/app.py", "            now = time.monotonic()\n            reason = ",
          "            registry.gate_index.last_ok = time.time()\n"
          "            now = time.monotonic()\n            reason = ",
          CUT, postgres=True),
    Fault("payload digest drops non-ASCII characters",
          "store/ledger.py", 'hashlib.sha256(payload.encode("utf-8"))',
          'hashlib.sha256(payload.encode("ascii", "ignore"))',
          ("tests/test_ledger.py", "-k", "column or covers")),
    Fault("event hash keeps only the first 8 characters of the policy version",
          "store/ledger.py", '         policy_version or "", payload_digest(payload))',
          '         (policy_version or "")[:8], payload_digest(payload))',
          ("tests/test_ledger.py", "-k", "column or covers")),
    Fault("verify skips the hash check of an event without subject",
          "store/ledger.py", "        if digest != ev.hash:",
          "        if digest != ev.hash and ev.subject_id is not None:",
          ("tests/test_ledger.py", "-k", "without_subject")),
    Fault("migration 0003 digests payloads with non-ASCII characters dropped",
          "store/migrations/versions/0003_due_process.py",
          'hashlib.sha256(ev.payload.encode("utf-8")).hexdigest()',
          'hashlib.sha256(ev.payload.encode("ascii", "ignore")).hexdigest()', REHASH),
    Fault("migration 0003 hashes subject 0 as no subject",
          "store/migrations/versions/0003_due_process.py",
          '"" if subject_id is None else str(subject_id)',
          '"" if not subject_id else str(subject_id)',
          ("tests/test_migrations.py", "tests/test_ledger.py", "-k", "rehashes or frozen")),
    Fault("event hash leaves out type and subject_id",
          "store/ledger.py",
          '(prev_hash, str(seq), at, type_, "" if subject_id is None else str(subject_id),',
          "(prev_hash, str(seq), at,", ("tests/test_ledger.py",)),
    Fault("event hash leaves out seq",
          "store/ledger.py", "(prev_hash, str(seq), at, type_,", "(prev_hash, at, type_,",
          ("tests/test_ledger.py",)),
    Fault("event hash leaves out the policy version",
          "store/ledger.py", '         policy_version or "", payload_digest(payload))',
          "         payload_digest(payload))", ("tests/test_ledger.py",)),
    Fault("event hash leaves out at",
          "store/ledger.py", "(prev_hash, str(seq), at, type_,", "(prev_hash, str(seq), type_,",
          ("tests/test_ledger.py",)),
    Fault("no sanction on a guess: pending_review overlay off",
          "policy/due_process.py",
          "        if resting:\n            d = replace(d, status=\"pending_review\")",
          "        if False:\n            d = replace(d, status=\"pending_review\")",
          ("tests/test_namesakes.py", "-k", "bench_runs")),
    # The namesake bench (test_namesakes.py) only makes guesses through shared phones and only
    # on the blacklist, so it cannot see the two faults below: test_linkage.py's typoed-ID,
    # 15-digit-ID and rating-ban cases do.
    Fault("no sanction on a guess: only phone links count as guesses",
          "policy/due_process.py", 'links.c.rule != "manual"))}', 'links.c.rule == "phone"))}',
          ("tests/test_namesakes.py", "tests/test_linkage.py", "-k",
           "bench_runs or twins_typoed or 15_digit")),
    Fault("no sanction on a guess: the rule holds on the blacklist only",
          "policy/due_process.py", "        if resting:\n",
          "        if resting and d.list == \"dishonest_judgment_debtors\":\n",
          ("tests/test_namesakes.py", "tests/test_linkage.py", "-k",
           "bench_runs or rating_ban")),
    Fault("gate (single path) still refuses on an entry's until day",
          "gate/decide.py", "        if r.until is not None and r.until <= day:",
          "        if r.until is not None and r.until < day:",
          (BOUNDS, "tests/test_policy_and_gate.py")),
    Fault("gate (single path) does not refuse on an entry's since day",
          "gate/decide.py", "        if r.since > day:", "        if r.since >= day:",
          (BOUNDS, "tests/test_policy_and_gate.py")),
    Fault("gate (batch path) still refuses on an entry's until day",
          "gate/compact.py", "(self.entry_until[idx] > day)", "(self.entry_until[idx] >= day)",
          (BOUNDS, "tests/test_policy_and_gate.py")),
    Fault("gate (batch path) does not refuse on an entry's since day",
          "gate/compact.py", "(self.entry_since[idx] <= day)", "(self.entry_since[idx] < day)",
          (BOUNDS, "tests/test_policy_and_gate.py")),
    Fault("a bad row is not written to quarantine",
          "ingest/pipeline.py", "            self.b.add(quarantine, {",
          "            (lambda *_: None)(quarantine, {", ("tests/test_ingest.py",)),
    Fault("a chunk's linking runs in a second transaction",
          "ingest/pipeline.py",
          "            b.flush()\n            linked, unlinked, pending = link_with_waiting(",
          "        with store.batch(policy.version_hash) as b:\n"
          "            linked, unlinked, pending = link_with_waiting(",
          ("tests/faults/test_crash.py",)),
    Fault("a killed attempt counts as completed (completed-attempt check reverted)",
          "ingest/pipeline.py", "        if (completed if rows_seen else attempted) and not",
          "        if attempted and not",
          ("tests/faults/test_crash.py", "-k", "killed_after_its_last_chunk")),
    Fault("a removal on the finding's own day is ignored (compile.py)",
          "policy/compile/trigger.py", "                     m.m_day >= first.f_day]",
          "                     m.m_day > first.f_day]",
          ("tests/test_engines.py", "-k", "own_day or removal")),
    Fault("a name alone denies",
          "gate/decide.py", '            outcome = "review" if hits or screened else "allow"',
          '            outcome = "deny" if hits or screened else "allow"',
          ("tests/test_name_only.py",)),
    Fault("audit replay takes list_entries as equal without comparing (replay detection)",
          "store/replay.py",
          "                    if same_rows(live, spec, _sorted(rows[spec.name]))}",
          "                    if spec.name == 'list_entries'\n"
          "                    or same_rows(live, spec, _sorted(rows[spec.name]))}",
          ("tests/test_replay.py", "-k", "tampered_projection")),
    Fault("audit replay owes only the notices the outbox holds (notices replay)",
          "store/replay_notices.py", '        if row["event_seq"] <= cursor or key in live:',
          "        if key in live:",
          ("tests/test_replay_notices.py", "-k", "before_it_was_served and sqlite")),
    Fault("a receipt is accepted without checking its head's signature (receipts)",
          "store/tree_head.py", "        verify_head(head, public_key)\n", "        pass\n",
          ("tests/test_transparency.py", "-k", "http_routes or store")),
    Fault("the receipts page folds the inclusion proof with a wrong node prefix (receipts "
          "in the browser)",
          "web/static/receipt-check.js", "sha256(concat(Uint8Array.of(1), left, right))",
          "sha256(concat(Uint8Array.of(2), left, right))",
          ("tests/test_browser_receipts.py", "-k", "offline_and_agree")),
    Fault("the receipts page accepts a head whose signature does not verify (receipts in "
          "the browser)",
          "web/static/receipt-check.js", "    if (!ok) throw new Failure(\"bad_signature\");\n",
          "\n", ("tests/test_browser_receipts.py", "-k", "offline_and_agree")),
    Fault("an offline snapshot still refuses on its entry's until day (snapshot expiry)",
          "gate/snapshot/reader.py", "(u != _OPEN and day >= u)", "(u != _OPEN and day > u)",
          ("tests/test_snapshot.py", "-k", "round_trip")),
    Fault("a period ends a day early: the start day counted (reference rules, Civil Code "
          "art. 201)",
          "policy/jurisdiction.py",
          '    return end + dt.timedelta(days=1) if counting == "start_day_excluded" else end',
          "    return end",
          ("tests/test_engines.py", "-k", "civil_code and python")),
    Fault("a period ends a day early on the batch engines (compile.py)",
          "policy/compile/base.py",
          '    return _days(end, days + (1 if counting == "start_day_excluded" else 0))',
          "    return _days(end, days)",
          ("tests/test_engines.py", "-k", "civil_code and duckdb")),
    Fault("today is the UTC day, not the policy's local day",
          "policy/jurisdiction.py", "    return moment.astimezone(jurisdiction.zone).date()",
          "    return moment.astimezone(dt.UTC).date()",
          ("tests/test_local_day.py",)),
    Fault("each report of one obligation counts (reference rules)",
          "policy/rules.py",
          "    recs = merge_obligations(policy, [r for r in records if r.occurred_at <= day])",
          "    recs = [r for r in records if r.occurred_at <= day]",
          ("tests/test_obligations.py", "-k", "python")),
    Fault("each report of one obligation counts on the batch engines (compile.py)",
          "policy/compile/__init__.py", "        r = self._obligations(r)\n", "",
          ("tests/test_obligations.py", "-k", "duckdb")),
    Fault("a repair is granted before the tier's shortest publication period (NDRC Order 36)",
          "disclosure/repairs.py",
          '    if terms is not None and today.isoformat() < terms["repair_from"]:',
          "    if False:", ("tests/test_repair_tiers.py", "-k", "shortest_period")),
    Fault("a grace period in months is ignored on the batch engines (compile)",
          "policy/compile/trigger.py", "spec.grace_months) if spec.grace_months",
          "spec.grace_months) if False",
          ("tests/test_engines.py", "-k", "grace_period_lists and duckdb")),
    Fault("a later report re-ages an obligation (its anchor from the latest report)",
          "policy/obligations.py", "        anchor = min(anchor_of(",
          "        anchor = max(anchor_of(",
          ("tests/test_obligations.py", "-k", "python")),
    Fault("a later date of first delinquency is stored as sent",
          "policy/obligations.py", "    if not dated or payload[field] <= held[0]:",
          "    if True:", ("tests/test_obligations.py", "-k", "keeps_the_first")),
    Fault("the batch path answers a key two subjects hold with one of them",
          "gate/index.py",
          "        one_by_one = np.concatenate((self.overlay_codes, base.multi_codes))",
          "        one_by_one = self.overlay_codes",
          ("tests/test_name_only.py", "-k", "two_subjects_hold")),
    Fault("the overlay keeps one holder per key (the last reloaded)",
          "gate/index.py",
          "                    overlay[code] = tuple(r for s in sorted(holders[code]) "
          "for r in subjects_[s][1])",
          "                    overlay[code] = subjects_[max(holders[code])][1]",
          ("tests/test_name_only.py", "-k", "two_reloaded")),
    Fault("a place carries a match on its own (weighs as a name)",
          "screening/text.py",
          '                out.append(Token(text, " ".join(words[i:i + n]), "place", '
          'PLACE_WEIGHT,',
          '                out.append(Token(text, " ".join(words[i:i + n]), "name", 1.0,',
          ("tests/test_screening.py", "-k", "places_and_generic")),
    Fault("three tokens are never joined (pairs only)",
          "screening/match.py",
          "        for j in range(i + 2, min(i + MAX_JOINED, len(toks)) + 1):",
          "        for j in range(i + 2, min(i + 2, len(toks)) + 1):",
          ("tests/test_screening.py", "-k", "should_match")),
)


def _run(fault: Fault, timeout_s: float) -> str:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        target = src / "socialcredit" / fault.path
        text = target.read_text(encoding="utf-8")
        if text.count(fault.old) != 1:
            return f"stale ({text.count(fault.old)} matches)"
        target.write_text(text.replace(fault.old, fault.new), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT / 'tests'}",
               "PYTHONDONTWRITEBYTECODE": "1"}
        probe = "import socialcredit; print(socialcredit.__file__)"
        where = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                               text=True, check=False)
        if not where.stdout.startswith(str(src)):
            return "not run (the copy is not the imported package)"
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               *fault.tests]
        try:
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return f"timeout ({timeout_s:.0f} s)"
    return {0: "SURVIVED", 1: "caught"}.get(done.returncode,
                                            f"error (pytest exit {done.returncode})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", default="", help="only faults whose name contains this")
    parser.add_argument("--list", action="store_true", help="list the faults and stop")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds allowed for one fault's tests")
    args = parser.parse_args(argv)
    chosen = [f for f in FAULTS if args.k.lower() in f.name.lower()]
    width = max(len(f.name) for f in chosen) if chosen else 10
    print(f"{'fault':<{width}}  {'tests run':<45}  outcome   seconds")  # noqa: T201
    bad = skipped = 0
    for fault in chosen:
        tests = " ".join(fault.tests)
        if args.list:
            print(f"{fault.name:<{width}}  {tests:<45}  ({fault.path})")  # noqa: T201
            continue
        start = time.monotonic()
        if fault.postgres and not os.environ.get(PG_ENV):
            outcome = f"skipped (needs {PG_ENV})"
            skipped += 1
        else:
            outcome = _run(fault, args.timeout)
            bad += outcome != "caught"
        print(f"{fault.name:<{width}}  {tests:<45}  {outcome:<8}  "  # noqa: T201
              f"{time.monotonic() - start:7.1f}", flush=True)
    if not args.list:
        print(f"{len(chosen) - bad - skipped} of {len(chosen)} faults caught"  # noqa: T201
              + (f", {skipped} skipped" if skipped else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
