"""``socialcredit lists import`` and ``socialcredit screen``: external lists and screening.

* ``lists import ofac-sdn DIR`` / ``lists import un FILE`` import a list
  (:func:`socialcredit.screening.lists.import_list`) and print the entries read per kind, what
  was listed, updated, unchanged and delisted, and each part of the file skipped, with why.
* ``screen --name … [--kind organisation] [--birth-date …] [--nationality …] [--document …]``
  screens one person or organisation (:mod:`socialcredit.screening.service`) and prints the
  ranked candidates with the explanation of each; ``--json`` prints the API's response.
* ``lists clear LIST:KEY --name … --reason …`` rules that the screened details (the same
  options as ``screen``) are not that listed entry
  (:func:`socialcredit.screening.cleared.clear_pair`, as ``POST
  /v1/operator/screen/clearances``): the next screens of the same details show the entry as
  cleared while the entry reads as it did when cleared. Recorded as made by ``cli:<OS user>``.

Exit codes follow :mod:`socialcredit.cli` (0 success, 2 bad input). :mod:`socialcredit.cli`
registers both commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from socialcredit.cli import common
from socialcredit.cli.common import JsonOpt, console

__all__ = ["lists_clear", "lists_import", "screen_cmd"]

_PLURAL = {"aircraft": "aircraft"}


def lists_import(
    source: Annotated[str, typer.Argument(help="Format of the list: ofac-sdn or un.")],
    path: Annotated[Path, typer.Argument(
        help="ofac-sdn: folder of sdn.csv, alt.csv, sdn_comments.csv; un: consolidated.xml")],
    allow_delist: Annotated[bool, typer.Option(
        "--allow-delist",
        help="Accept an import that delists more than 10% of the list's live entries (refused "
             "by default: a file cut short looks like that).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import an external list (every entry: persons, organisations, vessels, aircraft) for
    screening; its persons also become gate entries when the policy has the list. A file cut
    short, or an import that would delist more than 10% of the list, is refused whole (exit 2)."""
    from socialcredit.screening.lists import import_list

    reg = common.registry()
    result = import_list(reg.store, reg.policy, source, path, allow_delist=allow_delist)
    if as_json:
        common.out(result.as_dict())
        return
    read = ", ".join(f"{n:,} {kind if n == 1 else _PLURAL.get(kind, kind + 's')}"
                     for kind, n in result.counts.items() if n)
    console.print(f"{result.list_name}: read {read}; {result.listed:,} listed, "
                  f"{result.updated:,} updated, {result.unchanged:,} unchanged, "
                  f"{result.delisted:,} delisted.")
    if result.gate is not None:
        g = result.gate
        console.print(f"gate entries (persons): {g['listed']:,} listed, {g['unchanged']:,} "
                      f"unchanged, {g['delisted']:,} delisted, {g['documents']:,} document "
                      f"numbers ({g['documents_too_short']:,} too short and "
                      f"{g['document_conflicts']:,} held by another entry: not indexed).")
    else:
        console.print(f"gate entries: none ({result.gate_note}).")
    if result.skipped:
        console.print(f"skipped {len(result.skipped)}:")
        for p in result.skipped[:50]:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            console.print(f"  {where}: {p['reason']}", markup=False)
        if len(result.skipped) > 50:
            console.print(f"  … and {len(result.skipped) - 50} more (see --json)")
    else:
        console.print("skipped nothing.")


def _explain(result: dict[str, Any]) -> str:
    parts = []
    name = result["explanation"].get("name")
    if name:
        pairs = ", ".join(f"{t['query']}~{t['candidate']} ({t['how']})" for t in name["tokens"])
        parts.append(f"name {name['matched_name']!r}"
                     + (" (weak alias)" if name["weak_alias"] else "") + f": {pairs}")
        if name["unmatched_query"] or name["unmatched_candidate"]:
            parts.append("unmatched: " + " ".join(name["unmatched_query"]) + " | "
                         + " ".join(name["unmatched_candidate"]))
    for feature in ("birth_date", "nationality"):
        why = result["explanation"].get(feature)
        if why and why["result"] != "missing":
            parts.append(f"{feature.replace('_', ' ')} {why['result']}")
    doc = result["explanation"].get("document")
    if doc:
        parts.append(f"document hit: {doc['kind']} {doc['number']}")
    if cleared := result.get("cleared"):
        parts.append(f"cleared by {cleared['by']} at {cleared['at']}: {cleared['reason']}")
    if earlier := result.get("earlier_clearance"):
        parts.append(f"cleared by {earlier['by']} at {earlier['at']}, but the entry has "
                     "changed since: review it")
    return "; ".join(parts)


NameOpt = Annotated[list[str] | None, typer.Option(
    "--name", help="A name in any script (repeat for aliases).")]
KindOpt = Annotated[str, typer.Option(help="person, organisation, vessel or aircraft.")]
BirthOpt = Annotated[str | None, typer.Option("--birth-date", help="YYYY-MM-DD or YYYY.")]
NationalityOpt = Annotated[str | None, typer.Option(help="Country name or ISO code.")]
DocumentOpt = Annotated[list[str] | None, typer.Option(
    "--document", help="Passport or ID document number (repeatable).")]
NationalIdOpt = Annotated[str | None, typer.Option("--national-id")]
PhoneOpt = Annotated[str | None, typer.Option(
    help="A phone number: checked, but neither list carries phones, so it matches nothing.")]


def _query(name: list[str] | None, kind: str, birth_date: str | None,
           nationality: str | None, document: list[str] | None,
           national_id: str | None, phone: str | None = None) -> Any:
    from socialcredit.screening.service import parse_query

    return parse_query({"kind": kind, "names": name or [], "birth_date": birth_date,
                        "nationality": nationality, "documents": document or [],
                        "national_id": national_id, "phone": phone})


def lists_clear(
    entry: Annotated[str, typer.Argument(
        help="The listed entry, as a screen's result shows it: LIST:KEY (e.g. ofac_sdn:101).")],
    reason: Annotated[str, typer.Option(help="Why the details are not this entry.")],
    name: NameOpt = None, kind: KindOpt = "person", birth_date: BirthOpt = None,
    nationality: NationalityOpt = None, document: DocumentOpt = None,
    national_id: NationalIdOpt = None, as_json: JsonOpt = False,
) -> None:
    """Clear a screening hit: the screened details (the options of `screen`) are not the
    listed ENTRY. Exit 2 without a reason or names, or when the details hold one of the
    entry's document numbers (a document hit is never cleared); exit 1 when ENTRY is not
    listed."""
    from socialcredit.screening.cleared import clear_pair

    reg = common.registry()
    result = clear_pair(reg.store, query=_query(name, kind, birth_date, nationality, document,
                                                national_id),
                        entry_id=entry, reason=reason, by=common.by())
    if as_json:
        common.out(result)
        return
    console.print(f"cleared {escape(entry)} for these details ({result['by']}, "
                  f"{result['at']}): the next screens show it as not a match.")


def screen_cmd(
    name: NameOpt = None, kind: KindOpt = "person", birth_date: BirthOpt = None,
    nationality: NationalityOpt = None, document: DocumentOpt = None,
    national_id: NationalIdOpt = None, phone: PhoneOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Screen a person or an organisation against the imported external lists: ranked
    candidates, score 0..1, match at the list's review threshold, and why. Needs a --name or
    a --document / --national-id (exit 2 without)."""
    query = _query(name, kind, birth_date, nationality, document, national_id, phone)
    reg = common.registry()
    response = reg.screening.screen(query, limit=limit)
    if as_json:
        common.out(response)
        return
    results = response["results"]
    if not results:
        console.print("no candidate.")
        return
    table = Table("score", "match", "list:key", "schema", "name", "why",
                  title=f"{len(results)} candidate(s)")
    for r in results:
        table.add_row(f"{r['score']:.2f}", "yes" if r["match"] else "", r["id"], r["schema"],
                      r["caption"], _explain(r))
    console.print(table)
