"""The demo: a synthetic nation passes through the registry.

simulate → register furnishers and gates → ingest every furnisher file (incremental evaluation
per batch) → ``evaluate --as-of`` (expiry) → replay a day of ticket purchases through the gates
→ notices served (file adapter) → a listed person's one-time sign-in code → transparency
report. Returns the summary printed by ``socialcredit demo``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from socialcredit.api.keys import Principal, add_furnisher, add_gate, authenticate, furnisher_id
from socialcredit.api.registry import Registry
from socialcredit.disclosure.clocks import tick as clock_tick
from socialcredit.disclosure.delivery import FileAdapter, deliver_notices
from socialcredit.disclosure.signin import request_code
from socialcredit.errors import InputError
from socialcredit.identity.relink import relink_unlinked
from socialcredit.ingest.pipeline import ingest_file
from socialcredit.policy.model import Policy
from socialcredit.policy.sweeps import evaluate_all
from socialcredit.reports import summarise
from socialcredit.simulate import simulator_for
from socialcredit.store.tables import (
    contact_channels,
    decisions,
    furnishers,
    list_entries,
    subjects,
)
from socialcredit.web.report import render_report

__all__ = ["DEMO_GATES", "US_DEMO_GATES", "demo_gates", "run_demo"]

#: Gates of the demo: name → (services, platform).
DEMO_GATES: dict[str, tuple[list[str], str | None]] = {
    "airline-ticketing": (["air"], None),
    "railway-12306-ticketing": (["rail_hsr", "rail_first_class"], None),
    "hotel-booking": (["hotel_star"], None),
    "ride-didi-gate": (["ride_hail"], "ride-didi"),
    "ride-caocao-gate": (["ride_hail"], "ride-caocao"),
}
#: Gates of the demo under the US policy (``--policy us``).
US_DEMO_GATES: dict[str, tuple[list[str], str | None]] = {
    "lender-credit-gate": (["credit"], None),
    "ride-uber-gate": (["ride_hail"], "ride-uber"),
    "ride-lyft-gate": (["ride_hail"], "ride-lyft"),
}


def demo_gates(policy: Policy) -> dict[str, tuple[list[str], str | None]]:
    """The demo's gates for ``policy``: the US ones when it identifies people by SSN."""
    return US_DEMO_GATES if policy.identity.national_id.scheme == "us.ssn" else DEMO_GATES


def run_demo(registry: Registry, *, subjects: int, seed: int, work_dir: Path,
             as_of: dt.date, say: Callable[[str], None] = lambda _m: None,
             progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Run the whole pipeline on ``registry`` (an empty database); see the module docstring.

    Returns ``{"subjects", "records", "rejected_rows", "listed": {sanctioned list: people
    with an active entry}, "listed_organisations": {the same for enterprises}, "incentives":
    {red list: {"granted", "suspended"}},
    "decisions": {service: {"allow", "deny", "review"}}, "report": path, ...}``.
    """
    registry.ensure_schema()
    data_dir = work_dir / "simulated"
    if data_dir.exists():
        raise InputError(f"{data_dir} exists; the demo writes into a fresh folder")
    say(f"Simulating {subjects:,} people (seed {seed}) into {data_dir}")
    simulate = simulator_for(registry.policy.identity.national_id.scheme)
    manifest = simulate(data_dir, subjects=subjects, seed=seed, as_of=as_of)
    gate_specs = demo_gates(registry.policy)
    with registry.store.read() as conn:
        known = set(conn.execute(select(furnishers.c.name)).scalars())
    for f in manifest.furnishers:
        if f.name not in known:
            add_furnisher(registry.store, name=f.name, kind=f.kind)
    gates: dict[str, Principal] = {}
    for name, (services, platform) in gate_specs.items():
        key = add_gate(registry.store, registry.policy, name=name, services=services,
                       platform=platform)
        gates[name] = authenticate(registry.store, key)
    total_rows = sum(f.rows for f in manifest.furnishers)
    done = 0
    for f in manifest.furnishers:
        say(f"Ingesting {f.file} from {f.name} ({f.rows:,} rows)")

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("ingest", done, total_rows)

        ingest_file(registry.store, registry.policy,
                    furnisher_id=furnisher_id(registry.store, f.name),
                    path=data_dir / f.file, as_of=as_of,
                    chunk_rows=registry.settings.ingest_batch_rows, progress=tick)
    linked = relink_unlinked(registry.store, registry.policy, as_of=as_of)
    say(f"Linked {linked['linked']:,} more records (phone rule and linkage model); "
        f"{linked['pending']:,} wait for review; {linked['unlinked']:,} stay unlinked")
    say(f"Evaluating the policy as of {as_of}")
    evaluate_all(registry.store, registry.policy, as_of)
    say("Replaying a day of ticket purchases through the gates")
    by_service = {svc: gates[name] for name, (svcs, _) in gate_specs.items() for svc in svcs}
    by_platform = {p: gates[name] for name, (_, p) in gate_specs.items() if p}
    service = registry.decisions
    registry.gate_index.refresh()
    with (data_dir / manifest.tickets_file).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            gate = by_platform.get(row["platform"]) or by_service[row["service"]]
            if row["national_id"]:
                service.decide(service=row["service"], national_id=row["national_id"],
                               gate=gate)
            else:
                service.decide(service=row["service"], phone=row["phone"], gate=gate)
    service.flush()
    say("Serving the notices owed (listings, adverse records, refusals) to "
        f"{registry.settings.notices_dir / 'outbox.jsonl'}")
    adapter = FileAdapter(registry.settings.notices_dir)
    clocks = clock_tick(registry.store, registry.policy, adapter, now=dt.datetime.now(dt.UTC))
    sign_in = _sign_in_example(registry, adapter)
    summary = summarise(registry.store, registry.policy, as_of=as_of)
    titles = {n: s.title for n, s in registry.policy.lists.items()}
    report = render_report(summary, work_dir / "report", list_titles=titles,
                           service_labels=dict(registry.policy.services))
    return {
        "subjects": summary["subjects"], "records": summary["records"],
        "unlinked_records": summary["unlinked_records"],
        "rejected_rows": summary["rejected_rows"],
        "listed": dict(summary["listed_people"]),
        "listed_organisations": dict(summary["listed_organisations"]),
        "incentives": dict(summary["incentives"]), "titles": titles,
        "active_entries": {n: c["active"] for n, c in summary["entries"].items()},
        "removed": {n: c["removed"] for n, c in summary["entries"].items()},
        "expired": {n: c["expired"] for n, c in summary["entries"].items()},
        "decisions": summary["decisions"], "ledger_events": summary["ledger_events"],
        "scores": summary["scores"],
        "report": str(report), "as_of": as_of.isoformat(), "policy": registry.policy.name,
        "notices_served": clocks.served, "sign_in": sign_in,
    }


def _sign_in_example(registry: Registry, adapter: FileAdapter) -> dict[str, Any] | None:
    """A listed person who was refused today (or, when no refusal reached a listed person with
    a channel, one with an active list entry) and has a trusted contact channel (where sign-in
    codes go: ``contact_channels``): ask for their one-time code, as they would, so a newcomer
    can follow a dispute by hand. ``None`` if nobody qualifies."""
    person = (select(subjects.c.national_id, contact_channels.c.phone.label("value"))
              .join(contact_channels, contact_channels.c.subject_id == subjects.c.id)
              .where(subjects.c.national_id.is_not(None)).order_by(subjects.c.id).limit(1))
    with registry.store.read() as conn:
        row = conn.execute(person.join(decisions, decisions.c.subject_id == subjects.c.id)
                           .where(decisions.c.outcome == "deny")).first() or conn.execute(
            person.join(list_entries, list_entries.c.subject_id == subjects.c.id)
            .where(list_entries.c.status == "active")).first()
    if row is None:
        return None
    now = dt.datetime.now(dt.UTC)
    notice = request_code(registry.store, registry.policy, national_id=row.national_id,
                          phone=row.value, now=now)
    deliver_notices(registry.store, adapter, now=now, only=notice)
    code = next((json.loads(line)["text"].split()[5].rstrip(".")
                 for line in adapter.path.read_text(encoding="utf-8").splitlines()
                 if json.loads(line)["notice_id"] == notice), None)
    return {"national_id": row.national_id, "phone": row.value, "code": code,
            "valid_minutes": registry.policy.due_process.sign_in_code_minutes,
            "outbox": str(adapter.path)}
