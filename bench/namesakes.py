"""Benchmark: the namesake stress set through ingest — wrong links, wrong merges, wrong listings.

    python bench/namesakes.py [--n 100000] [--seed 7] [--folder DIR] [--json]
    python bench/namesakes.py --n 100000 --no-guess-rule   # the same run without the rule

Builds :func:`socialcredit.simulate.namesakes.namesake_population` (``n`` people named after
the 20 most common Chinese names, shared birth years, family phones, twins, ID typos and
transpositions, phone-only ride-hail rows, recycled numbers), ingests every furnisher file into
a fresh SQLite registry the way the CLI does (``Registry(Settings(database_url=…))``,
``ensure_schema``, ``add_furnisher``, ``ingest_file``), then counts from the store's tables
against ``truth.csv``:

* ``linked_right`` / ``wrong_links`` / ``unlinked`` / ``missed``: records whose subject's
  national ID is / is not the true person's, or that have no subject while their true person
  has none either (right) / has one (a missed link); ``linked_no_id``: records on a subject
  without a national ID (neither right nor wrong by ID); ``not_landed``: rows sent that are not
  in ``records`` (quarantined);
* ``wrong_merges``: subjects whose records belong to two or more true people;
* ``wrong_listings``: ``active`` entries on ``dishonest_judgment_debtors`` whose subject is not
  the true person of the entry's record (``list_entries.record_id``); ``pending_review`` (and
  ``pending_review_wrong``) counted apart: such entries never deny at a gate;
* ``missed_listings``: people with a live dishonesty finding and no ``active`` entry on their
  own subject;
* ``guessed_rows``: findings and loan defaults added by :func:`add_guessed_rows` whose identity
  is only a guess (a typo'd or transposed ID that fails its check, or no ID: the household's
  shared phone and a name). These are what ``wrong_listings`` = 0 guards: the policy's
  "no sanction on a guess" rule (DESIGN §3.2; ``pending_review`` in ``policy/due_process.py``)
  keeps their entries from ``active``; with that rule off the same run lists people wrongly;
* ``ingest_s`` and ``records_per_s`` (rows sent per second of ``ingest_file``, all files).

``--no-guess-rule`` runs the same set with "no sanction on a guess" switched off in this
process only (every record counts as confirmed: :func:`socialcredit.policy.evaluate.
apply_due_process` sees no unconfirmed record), to show what the rule holds back.

Target (issue 3): ``wrong_listings`` = 0.  The counts use only the tables, never linkage
internals, so they stay valid while linkage changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from stdnum.iso7064 import mod_11_2

from socialcredit.api.keys import add_furnisher, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.ingest.validate import COMMON_FIELDS
from socialcredit.settings import Settings
from socialcredit.simulate.namesakes import NAMESAKE_FURNISHERS, NamesakeSet, namesake_population
from socialcredit.simulate.records import write_rows
from socialcredit.store.tables import furnishers, list_entries, records, subjects

#: The date of the run: rows are dated before it and listings evaluated on it.
AS_OF = dt.date(2026, 6, 30)
LIST = "dishonest_judgment_debtors"
#: Share of people named in one finding or loan default whose identity is only a guess
#: (:func:`add_guessed_rows`), on top of the set's own rows.
GUESS_SHARE = 0.02
#: How a guessed row shows its person: ID with one digit changed, or two adjacent digits
#: swapped (both fail the check; the person has records with their valid ID elsewhere), no ID
#: (the household's phone and the person's name), or the household's shared phone alone about a
#: person the registry has never seen (a housemate holds the number).
GUESSES = ("typo", "transposition", "missing", "shared_phone")


def _garbled(rng: random.Random, nid: str, how: str) -> str:
    """``nid`` with one digit changed or two adjacent ones swapped, failing MOD 11-2."""
    while True:
        i = rng.randrange(16)
        if how == "typo":
            bad = nid[:i] + rng.choice([d for d in "0123456789" if d != nid[i]]) + nid[i + 1:]
        else:
            bad = nid[:i] + nid[i + 1] + nid[i] + nid[i + 2:]
        if not mod_11_2.is_valid(bad):
            return bad


def guessed_rows(data: NamesakeSet, *, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Court findings and loan defaults, alternately, whose identity is only a guess, about
    people with no finding: :data:`GUESS_SHARE` of the set, the kinds of :data:`GUESSES` in
    turn. Returns furnisher name → rows (a later delivery: sent after the set's own files, so
    the people the other rows identify are known by then); their truth and their kind of
    guess (as the fault) are added to ``data.truth`` and ``data.faults``. ``typo`` /
    ``transposition`` / ``missing`` rows are about people the set's other rows identify by a
    valid ID; ``shared_phone`` rows about a person whose housemate is so identified."""
    rng = random.Random(seed * 7919 + 17)
    truth_of = {(f, str(r["furnisher_record_id"])): r.get("national_id")
                for f, rows in data.records.items() for r in rows}
    known = {nid for key, nid in data.truth.items() if truth_of.get(key) == nid}
    free = [p for p in data.people if p.national_id not in data.must_list]
    seen = [p for p in free if p.national_id in known]
    unseen = [p for p in free if p.national_id not in known and any(
        data.people[m].national_id in known
        for m in data.households[data.household_of[p.index]].members)]
    rng.shuffle(seen)
    rng.shuffle(unseen)
    want = max(len(GUESSES), round(len(data.people) * GUESS_SHARE))
    court: list[dict[str, Any]] = []
    banks: list[dict[str, Any]] = []
    for k in range(want):
        how = GUESSES[k % len(GUESSES)]
        pool = unseen if how == "shared_phone" else seen
        if not pool:
            continue
        person = pool.pop()
        house = data.households[data.household_of[person.index]]
        day = AS_OF - dt.timedelta(days=rng.randint(30, 600))
        row: dict[str, Any] = {"occurred_at": day.isoformat(), "phone": house.phone_on(day)}
        if how != "shared_phone":
            row.update({"name": person.name, "birth_date": person.birth_date.isoformat(),
                        "address": house.address})
        if how in ("typo", "transposition"):
            row["national_id"] = _garbled(rng, person.national_id, how)
        if (k // len(GUESSES)) % 2 == 0:  # each kind of guess to both furnishers
            furnisher, frid = "court-beijing-no1", f"BJ1-G{k + 1:07d}"
            row.update({"kind": "dishonesty_finding", "ground": 1,
                        "case_number": f"({day.year})京01执G{k + 1}号",
                        "amount_minor": rng.randint(5_000, 500_000) * 100, "currency": "CNY"})
            court.append({"furnisher_record_id": frid, **row})
        else:
            furnisher, frid = "bank-icbc", f"ICBC-G{k + 1:07d}"
            row.update({"kind": "loan_default", "loan_id": frid,
                        "amount_minor": rng.randint(50_000, 2_000_000) * 100,
                        "currency": "CNY", "days_past_due": rng.randint(90, 400)})
            banks.append({"furnisher_record_id": frid, **row})
        data.truth[(furnisher, frid)] = person.national_id
        data.faults[(furnisher, frid)] = how
    return {"court-beijing-no1": court, "bank-icbc": banks}


def _write_later(data: NamesakeSet, rows: dict[str, list[dict[str, Any]]], folder: Path,
                 without: tuple[str, ...]) -> list[tuple[str, str, Path]]:
    """Write each furnisher's later delivery beside its first file (same columns) and count
    its rows among ``data.records`` from here on."""
    out = []
    for spec in NAMESAKE_FURNISHERS:
        if not rows.get(spec.name):
            continue
        extra = getattr(spec, "extra", None)
        if without and extra is not None:  # a namesake spec: its optional columns
            spec = replace(cast(Any, spec), extra=tuple(c for c in extra if c not in without))
        path = folder / f"later-{spec.file}"
        write_rows(path, spec, rows[spec.name])
        data.records[spec.name] = [*data.records[spec.name], *rows[spec.name]]
        out.append((spec.name, spec.kind, path))
    return out


def without_guess_rule() -> None:
    """Switch off "no sanction on a guess" in this process (``--no-guess-rule``): evaluation
    sees every record as linked by its own ID or confirmed. For the counterfactual only."""
    from dataclasses import replace as swap

    from socialcredit.policy import evaluate

    rule = evaluate.apply_due_process

    def apply(policy: Any, state: Any, d: Any) -> Any:
        return rule(policy, swap(state, unconfirmed={}, by_source={}), d)

    evaluate.apply_due_process = apply


def say(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(n: int, *, seed: int = 7, folder: Path | None = None) -> dict[str, Any]:
    """Build, ingest and count (see the module docstring); the registry and the files go to
    ``folder`` (default: a temporary folder, removed afterwards).

    Returns a flat mapping of the counts named in the module docstring (ints; ``ingest_s`` and
    ``records_per_s`` floats) plus ``by_furnisher``: furnisher → {sent, linked_right,
    wrong_links, unlinked, linked_no_id, not_landed} and ``by_case``: the same counts by what
    makes a row hard (:func:`cases`).
    """
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return _run(n, seed, folder)
    with tempfile.TemporaryDirectory(prefix="sc-namesakes-") as tmp:
        return _run(n, seed, Path(tmp))


def _run(n: int, seed: int, folder: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    data = namesake_population(n, seed=seed, as_of=AS_OF)
    later = guessed_rows(data, seed=seed)
    build_s = time.perf_counter() - t0
    # a registry that does not accept ``address`` yet would quarantine every row carrying it
    without = () if "address" in COMMON_FIELDS else ("address",)
    files = data.write(folder / "files", without=without)
    files += _write_later(data, later, folder / "files", without)
    db = folder / "registry.db"
    if db.exists():
        db.unlink()
    reg = Registry(Settings(database_url=f"sqlite:///{db}"), today=AS_OF)
    try:
        reg.ensure_schema()
        ingest_s = 0.0
        added: set[str] = set()
        for name, kind, path in files:
            if name not in added:  # a later delivery comes from a furnisher added already
                add_furnisher(reg.store, name=name, kind=kind)
                added.add(name)
            fid = furnisher_id(reg.store, name)
            t0 = time.perf_counter()
            ingest_file(reg.store, reg.policy, furnisher_id=fid, path=path, as_of=AS_OF,
                        chunk_rows=reg.settings.ingest_batch_rows)
            ingest_s += time.perf_counter() - t0
        result = count(reg, data)
    finally:
        reg.close()
    sent = sum(len(rows) for rows in data.records.values())
    guessed = sum(map(len, later.values()))
    return {"n": n, "seed": seed, "address_sent": not without, "guessed_rows": guessed,
            **result,
            "build_s": round(build_s, 1), "ingest_s": round(ingest_s, 1),
            "records_per_s": round(sent / ingest_s) if ingest_s else 0}


def count(reg: Registry, data: NamesakeSet) -> dict[str, Any]:
    """Count links, merges and listings in ``reg``'s tables against ``data``'s truth."""
    with reg.store.read() as conn:
        nid_of = dict(conn.execute(select(subjects.c.id, subjects.c.national_id)).all())
        rows = conn.execute(
            select(records.c.id, furnishers.c.name, records.c.furnisher_record_id,
                   records.c.subject_id)
            .join(furnishers, furnishers.c.id == records.c.furnisher_id)).all()
        entries = conn.execute(
            select(list_entries.c.subject_id, list_entries.c.record_id, list_entries.c.status,
                   list_entries.c.list)).all()
    known = {nid for nid in nid_of.values() if nid}
    truth_of_record: dict[int, str] = {}
    people_of_subject: dict[int, set[str]] = defaultdict(set)
    by_furnisher: dict[str, Counter[str]] = {name: Counter() for name in data.records}
    case_of = cases(data)
    by_case: dict[str, Counter[str]] = defaultdict(Counter)
    for rid, fname, frid, sid in rows:
        truth = data.truth[(fname, frid)]
        truth_of_record[rid] = truth
        if sid is None:
            # unlinked is right when the true person has no subject (no record with a valid ID)
            outcome = "missed" if truth in known else "unlinked"
        elif nid_of.get(sid) is None:
            outcome = "linked_no_id"
        else:
            outcome = "linked_right" if nid_of[sid] == truth else "wrong_links"
        if sid is not None:
            people_of_subject[sid].add(truth)
        by_furnisher[fname][outcome] += 1
        by_case[case_of[(fname, frid)]][outcome] += 1
    for fname, sent in data.records.items():
        by_furnisher[fname]["sent"] = len(sent)
    for case, sent_count in Counter(case_of.values()).items():
        by_case[case]["sent"] = sent_count
    for c in (*by_furnisher.values(), *by_case.values()):
        c["not_landed"] = c["sent"] - sum(c[k] for k in ("linked_right", "wrong_links",
                                                         "unlinked", "missed", "linked_no_id"))
    totals: Counter[str] = sum(by_furnisher.values(), Counter())
    listed: set[str] = set()
    wrong_listings = pending = pending_wrong = 0
    other_lists: Counter[str] = Counter()  # active entries of other lists (ratings, bans)
    for sid, rid, status, name in entries:
        right = rid is not None and nid_of.get(sid) == truth_of_record.get(rid)
        if name != LIST:
            if status == "active":
                other_lists["active"] += 1
                other_lists["wrong"] += not right
            continue
        if status == "active":
            wrong_listings += not right
            if right:
                listed.add(str(nid_of[sid]))
        elif status == "pending_review":
            pending += 1
            pending_wrong += not right
    keys = ("sent", "linked_right", "wrong_links", "unlinked", "missed", "linked_no_id",
            "not_landed")
    return {
        "rows_sent": totals["sent"],
        "records_landed": len(rows),
        **{k: totals[k] for k in keys[1:]},
        "subjects": len(nid_of),
        "wrong_merges": sum(len(p) >= 2 for p in people_of_subject.values()),
        "must_list": len(data.must_list),
        "listed_right": len(listed & data.must_list),
        "wrong_listings": wrong_listings,
        "pending_review": pending,
        "pending_review_wrong": pending_wrong,
        "missed_listings": len(data.must_list - listed),
        "other_lists_active": other_lists["active"],
        "other_lists_wrong": other_lists["wrong"],
        "by_furnisher": {f: {k: c[k] for k in keys} for f, c in by_furnisher.items()},
        "by_case": {f: {k: c[k] for k in keys} for f, c in sorted(by_case.items())},
    }


def cases(data: NamesakeSet) -> dict[tuple[str, str], str]:
    """What makes each row hard, the first that applies: ``id_typo`` / ``id_transposition``
    (garbled national ID), ``recycled_phone`` (its number changed hands), ``twin`` (the true
    person has a twin), ``phone_only`` (no national ID: the household's shared phone and a
    name), ``pinyin`` (name in pinyin), else ``plain``; keyed like ``data.truth``."""
    recycled = {r.number for r in data.recycled}
    twins = {data.people[i].national_id for pair in data.twins for i in pair}
    out: dict[tuple[str, str], str] = {}
    for furnisher, rows in data.records.items():
        for row in rows:
            key = (furnisher, str(row["furnisher_record_id"]))
            fault = data.faults.get(key)
            out[key] = (f"id_{fault}" if fault else "recycled_phone"
                        if row.get("phone") in recycled else "twin"
                        if data.truth[key] in twins else "phone_only"
                        if "national_id" not in row else "pinyin"
                        if str(row.get("name", "")).isascii() else "plain")
    return out


def _table(title: str, rows: dict[str, dict[str, int]]) -> list[str]:
    cols = ("sent", "linked_right", "wrong_links", "unlinked", "missed", "not_landed")
    out = [title, f"  {'':20}" + "".join(f"{c:>13}" for c in cols)]
    for name, c in rows.items():
        out.append(f"  {name:20}" + "".join(f"{c[k]:>13,}" for k in cols))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--n", type=int, default=100_000, help="People in the set.")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--folder", type=Path, default=None,
                   help="Keep the files and registry.db here (default: a temporary folder).")
    p.add_argument("--json", action="store_true", help="Print one JSON object.")
    p.add_argument("--no-guess-rule", action="store_true",
                   help="Counterfactual: switch off 'no sanction on a guess' (pending_review).")
    args = p.parse_args(argv)
    if args.no_guess_rule:
        without_guess_rule()
        say("'no sanction on a guess' switched OFF for this run (counterfactual)")
    say(f"namesake set of {args.n:,} people (seed {args.seed}), ingest into SQLite")
    r = {**run(args.n, seed=args.seed, folder=args.folder), "guess_rule_off": args.no_guess_rule}
    if args.json:
        print(json.dumps(r, indent=2))
        return 0 if r["wrong_listings"] + r["other_lists_wrong"] == 0 else 1
    lines = [
        f"Namesake stress set: {r['n']:,} people, seed {r['seed']}; built in {r['build_s']} s, "
        f"ingested in {r['ingest_s']} s ({r['records_per_s']:,} rows/s)",
        f"  rows sent {r['rows_sent']:,}, of them {r['guessed_rows']:,} whose identity is only "
        "a guess (typo'd or transposed ID, no ID, a shared phone alone)"
        + (" — 'no sanction on a guess' OFF (counterfactual)" if r.get("guess_rule_off")
           else ""),
        f"  address column "
        f"{'sent' if r['address_sent'] else 'left out: not accepted'}; landed "
        f"{r['records_landed']:,}; subjects {r['subjects']:,}",
        f"  records linked right {r['linked_right']:,}; wrong {r['wrong_links']:,}; unlinked "
        f"{r['unlinked']:,} (true person unknown: right); missed {r['missed']:,}; on a subject "
        f"without ID {r['linked_no_id']:,}; not landed {r['not_landed']:,}",
        f"  wrong merges (subjects holding 2+ true people): {r['wrong_merges']:,}",
        f"  {LIST}: must be listed {r['must_list']:,}, listed right {r['listed_right']:,}, "
        f"missed {r['missed_listings']:,}",
        f"  wrong listings (active, wrong person): {r['wrong_listings']:,}; pending_review "
        f"{r['pending_review']:,} (of them on the wrong person {r['pending_review_wrong']:,})",
        f"  other lists (ratings, bans): active {r['other_lists_active']:,}, on the wrong "
        f"person {r['other_lists_wrong']:,}",
        *_table("By furnisher:", r["by_furnisher"]),
        *_table("By case (first that applies):", r["by_case"]),
        "Target (issue 3): zero wrong listings — "
        + ("MET" if r["wrong_listings"] + r["other_lists_wrong"] == 0 else "NOT MET"),
    ]
    print("\n".join(lines))
    return 0 if r["wrong_listings"] + r["other_lists_wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
