"""The gate's commands: ``socialcredit check`` (decide for one person, online) and
``socialcredit gates export|verify-snapshot|check-snapshot`` (signed offline snapshots of the
gate index for one gate, :mod:`socialcredit.gate.offline`).

``check`` exits 0 for allow, 3 for deny and 4 for review; ``check-snapshot`` 0 for allow and 3
for refused. :mod:`socialcredit.cli` registers :func:`check` on the root app and adds
``gates`` (a Typer app without a name, so its commands merge) to the ``gates`` group.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from socialcredit.cli import common
from socialcredit.cli.common import AsOfOpt, JsonOpt, console, err_console
from socialcredit.errors import InputError

__all__ = ["check", "gates"]

gates: typer.Typer = typer.Typer()


def check(
    service: Annotated[str, typer.Option(help="air, rail_hsr, hotel_star, credit, ...")],
    national_id: Annotated[str | None, typer.Option("--national-id")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    document: Annotated[str | None, typer.Option(help="Passport or other document number.")
                        ] = None,
    name: Annotated[str | None, typer.Option(help="Name (only ever leads to review).")] = None,
    platform: Annotated[str | None, typer.Option()] = None,
    organisation_id: Annotated[str | None, typer.Option(
        "--organisation-id", help="An organisation's code (the unified social credit code).")
    ] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Decide for one person or organisation as an operator: exit 0 allow, 3 deny, 4 review.
    An allow lists the benefits a red list earns for the service."""
    reg = common.registry(today=common.as_of(as_of) if as_of else None)
    try:
        decision = reg.decisions.decide(service=service, national_id=national_id, phone=phone,
                                        document=document, name=name, platform=platform,
                                        organisation_id=organisation_id)
    finally:
        reg.close()
    if as_json:
        common.out(decision.as_dict())
    else:
        console.print(f"{decision.decision.upper()} ({service}) decision {decision.decision_id}")
        for r in decision.reasons:
            console.print(escape(
                f"  {r['list']} entry {r['entry_id']} since {r['since']} until "
                f"{r['until'] or '-'}; legal basis: {r['legal_basis']}; furnisher: "
                f"{r['furnisher'] or '-'}"))
        for b in decision.benefits:
            console.print(escape(
                f"  benefit {b['benefit']} ({b['list']} entry {b['entry_id']} until "
                f"{b['until'] or '-'}); legal basis: {b['legal_basis']}"))
        if decision.reasons:
            console.print("  How to contest: "
                          + escape(str(decision.reasons[0]["how_to_contest"])))
    raise typer.Exit({"allow": 0, "deny": 3, "review": 4}[decision.decision])


@gates.command("export")
def gates_export(
    gate: Annotated[str, typer.Option("--gate", help="Gate name.")],
    out: Annotated[Path | None, typer.Option(help="Snapshot file (default var/snapshots/"
                                                  "<gate>.snap).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a signed offline snapshot for one gate (keyed hashes, no identifier in clear)."""
    from socialcredit.gate.offline import export_gate_snapshot, public_key_path

    reg = common.registry()
    path = out or Path("var/snapshots") / f"{gate}.snap"
    path.parent.mkdir(parents=True, exist_ok=True)
    info, key_path = export_gate_snapshot(reg.store, reg.policy, reg.settings.keys_dir,
                                           gate=gate, out=path)
    result = {"snapshot": str(path), "gate": info.gate, "services": list(info.services),
              "items": info.count, "ledger_seq": info.ledger_seq, "sha256": info.digest,
              "gate_key_file": str(key_path),
              "public_key_file": str(public_key_path(reg.settings.keys_dir))}
    if as_json:
        common.out(result)
    else:
        console.print(f"Snapshot for gate {gate!r}: {info.count:,} items at ledger event "
                      f"{info.ledger_seq}, written to {path}.\nGive the gate operator "
                      f"{key_path} (its key, secret) and {result['public_key_file']} "
                      "(the registry's public key).")


@gates.command("verify-snapshot")
def gates_verify_snapshot(
    snapshot: Path,
    public_key: Annotated[Path | None, typer.Option(
        help="Registry public key (PEM); default: this registry's own.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a snapshot's Ed25519 signature and show what it covers."""
    from socialcredit.gate.offline import public_key_path
    from socialcredit.gate.snapshot.verify import verify_snapshot

    key_file = public_key or public_key_path(common.settings().keys_dir)
    if not key_file.is_file():
        raise InputError(f"{key_file}: no public key file (give --public-key)")
    info = verify_snapshot(snapshot, key_file.read_bytes())
    data = {"ok": True, "gate": info.gate, "services": list(info.services), "items": info.count,
            "ledger_seq": info.ledger_seq, "created_at": info.created_at.isoformat(),
            "policy_version": info.policy_version, "sha256": info.digest,
            "valid_until": {k: v.isoformat() for k, v in info.valid_until.items()}}
    if as_json:
        common.out(data)
    else:
        console.print(f"Signature valid: gate {info.gate!r}, {info.count:,} items, ledger event "
                      f"{info.ledger_seq}, made {info.created_at:%Y-%m-%d %H:%M} UTC.")


@gates.command("check-snapshot")
def gates_check_snapshot(
    snapshot: Path,
    gate_key: Annotated[Path, typer.Option("--gate-key", help="The gate's key file.")],
    service: Annotated[str, typer.Option()],
    national_id: Annotated[str | None, typer.Option("--national-id")] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    document: Annotated[str | None, typer.Option()] = None,
    organisation_id: Annotated[str | None, typer.Option(
        "--organisation-id", help="An organisation's identifier (the policy's organisation "
                                  "scheme, e.g. a unified social credit code).")] = None,
    public_key: Annotated[Path | None, typer.Option(help="Registry public key (PEM).")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Check one person or organisation against a snapshot offline: exit 0 allow (naming the
    benefits a red list earns, as the online gate does; a format-version-1 snapshot carries
    none), 3 refused, 5 the snapshot is past its validity for the service (policy
    gate.snapshot_valid_hours). Every answer states the snapshot's age. --as-of moves the
    check, its expiry and age to the same time of day on that local date."""
    from socialcredit.gate.offline import public_key_path
    from socialcredit.gate.snapshot.reader import SnapshotReader
    from socialcredit.identity import normalise_phone, scheme_for
    from socialcredit.policy.model import load_policy
    from socialcredit.screening.text import normalise_document_number

    settings = common.settings()
    policy = load_policy(settings.policy_path)
    given = [v for v in (national_id, phone, document, organisation_id) if v]
    if len(given) != 1:
        raise InputError("give exactly one of --national-id, --phone, --document, "
                         "--organisation-id")
    if organisation_id:
        from socialcredit.identity.organisation import organisation_scheme_for

        org = policy.identity.organisation_id
        key = "organisation_id:" + organisation_scheme_for(org.scheme, org.pattern).parse(
            organisation_id).value
    elif national_id:
        ident = policy.identity.national_id
        key = "national_id:" + scheme_for(ident.scheme, ident.pattern).parse(national_id).value
    elif phone:
        key = "phone:" + normalise_phone(phone, policy.identity.phone.default_region)
    else:
        key = "document:" + normalise_document_number(document or "")
    pub = (public_key or public_key_path(settings.keys_dir)).read_bytes()
    reader = SnapshotReader(snapshot, gate_key=gate_key.read_bytes(), public_key=pub)
    info = reader.info
    if service not in info.services:
        raise InputError(f"the snapshot of gate {info.gate!r} covers "
                         f"{', '.join(info.services)}, not {service!r}")
    from socialcredit.policy.jurisdiction import local_today

    now = dt.datetime.now(dt.UTC)
    day = common.as_of(as_of)
    # --as-of DATE asks as at this time of day on DATE (the policy's local day): the expiry
    # and the age move with it, as the entries' dates do
    now += dt.timedelta(days=(day - local_today(policy.jurisdiction, now)).days)
    hours = info.age(now).total_seconds() / 3600
    if hours < 0 and as_of:
        err_console.print(f"warning: {day} is before the snapshot was made ({-hours:.1f} h); "
                          "it cannot know that day's entries", highlight=False)
    elif hours < 0:  # the clock here is behind the registry's: its age cannot be trusted
        err_console.print(f"warning: this machine's clock is {-hours:.1f} h behind the time "
                          "the snapshot was made; check the clock", highlight=False)
    made = (f"snapshot of ledger event {info.ledger_seq}, made "
            f"{info.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC, {hours:.1f} h old")
    if info.expired(service, now):
        until = info.valid_until.get(service)
        err_console.print(
            f"EXPIRED ({service}): {made}; "
            + (f"valid until {until.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
               if until else "made before snapshots carried an expiry")
            + ". It cannot know of later removals: export a new one "
              f"(`socialcredit gates export --gate {info.gate}`).", highlight=False)
        raise typer.Exit(5)
    hit = reader.check(key, service, on=day)
    if hit is None:
        console.print(f"ALLOW ({service}) per {made}", highlight=False)
        for b in reader.benefits(key, service, on=day):
            console.print(f"  benefit {b['benefit']}: {b['text']} (red list {b['list']}, "
                          f"entry {b['entry_id']}, until {b['until'] or '-'}; "
                          f"{b['legal_basis']})", highlight=False, soft_wrap=True)
        if info.version < 2:
            console.print("  (format version 1: this snapshot carries refusals only, no "
                          "benefits)", highlight=False)
        raise typer.Exit(0)
    console.print(f"REFUSED ({service}) until {hit.until or '-'}; entries "
                  f"{', '.join(map(str, hit.entry_ids))}; per {made}", highlight=False)
    raise typer.Exit(3)
