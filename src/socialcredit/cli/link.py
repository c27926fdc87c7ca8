"""``socialcredit link …``: linkage runs and the human decisions on identity (issue #3).

* ``socialcredit link`` links what can be linked now
  (:func:`socialcredit.identity.relink.relink_unlinked`); ``--retrain`` first trains a new model
  on the registry's own records (:func:`socialcredit.identity.relink.retrain`). ``--batch``
  (or ``--backend spark``) scores the whole backlog in one set-based pass on DuckDB, in
  ``--memory-limit`` and spilling to ``--temp-dir``, or on Spark
  (:func:`socialcredit.identity.backlog.relink_backlog`), blocks capped at ``--max-block``.
* ``link review`` lists the review queue: each pair (record, candidate subject) with its match
  weight, probability and each comparison's contribution.
* ``link accept`` / ``reject`` decide a pair; ``link unlink`` detaches a wrongly linked record;
  ``link merge`` / ``split`` merge two subjects and undo a merge
  (:mod:`socialcredit.identity.review`).

Decisions are recorded as made by ``cli:<OS user name>``. Exit codes follow
:mod:`socialcredit.cli` (0 success; 1 not found / conflict; 2 bad input). ``link_app`` is
registered by :mod:`socialcredit.cli` as ``socialcredit link``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from socialcredit.cli import common
from socialcredit.cli.common import AsOfOpt, JsonOpt, console
from socialcredit.errors import InputError

__all__ = ["link_app", "review_table"]

link_app = typer.Typer(invoke_without_command=True, help=(
    "Link records to subjects; review, accept or reject probabilistic links; merge and split "
    "subjects."))

ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (kept in the ledger).")]
NoteOpt = Annotated[str | None, typer.Option("--note", help="A note kept with the decision.")]


def _day(as_of: str | None) -> dt.date:
    """The evaluation date of a decision: ``--as-of`` or today, never in the future (that
    would pre-empt the clocks of the entries it touches)."""
    day = common.as_of(as_of)
    if day > common.today():
        raise InputError(f"--as-of {day} is in the future: decisions are evaluated as of "
                         "today or an earlier date")
    return day


@link_app.callback()
def link(
    ctx: typer.Context,
    retrain: Annotated[bool, typer.Option(
        "--retrain", help="Train a new model on the registry's records first (a full run).")
    ] = False,
    backend: Annotated[Literal["duckdb", "spark"] | None, typer.Option(
        help="Engine for --retrain and for the batch pass (spark implies --batch).")] = None,
    batch: Annotated[bool, typer.Option(
        "--batch", help="Score the whole backlog in one set-based pass on DuckDB or Spark "
        "(national scale) instead of chunk by chunk against the store.")] = False,
    memory_limit: Annotated[str, typer.Option(
        help="DuckDB memory limit of the batch pass; above it DuckDB spills to --temp-dir.")
    ] = "4GB",
    temp_dir: Annotated[Path | None, typer.Option(
        "--temp-dir", help="Folder for the batch pass's spill and Parquet files "
        "(default: a temporary folder).")] = None,
    max_block: Annotated[int, typer.Option(
        min=2, help="Batch pass: a block of more people than this is capped (warned).")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed for --retrain.")] = 42,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the trained model's JSON (--retrain).")] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Link unlinked records to subjects (deterministic, then probabilistic).

    Pairs the model cannot decide go to `socialcredit link review`."""
    if ctx.invoked_subcommand is not None:
        if retrain or out or as_json or as_of or batch or backend:
            sub = ctx.invoked_subcommand
            raise InputError(f"options given before `{sub}` belong to `socialcredit link` "
                             f"itself: put them after it (`socialcredit link {sub} --json`)")
        return
    from socialcredit.identity import relink
    from socialcredit.identity.batch import BatchConfig

    day = _day(as_of)
    batch = batch or backend == "spark"
    config = BatchConfig(backend=backend or "duckdb", memory_limit=memory_limit,
                         temp_directory=temp_dir, max_block_people=max_block)
    reg = common.registry(today=day)
    show = not as_json and console.is_terminal
    try:
        with console.status("Training and linking…" if retrain else "Linking…") if show \
                else nullcontext():
            if retrain:
                result = relink.retrain(reg.store, reg.policy, backend=config.backend,
                                        seed=seed, out_dir=out, as_of=day,
                                        batch=config if batch else None)
            elif batch:
                from socialcredit.identity.backlog import relink_backlog

                result = relink_backlog(reg.store, reg.policy, as_of=day, config=config)
            else:
                result = relink.relink_unlinked(reg.store, reg.policy, as_of=day)
    finally:
        reg.close()
    if as_json:
        common.out(result)
        return
    if retrain:
        on = result.get("trained_on") or {}
        saved = f", saved to {result['path']}" if result.get("path") else ""
        console.print(f"Trained model {result.get('model_version')} on "
                      f"{on.get('records', 0):,} records and {on.get('subjects', 0):,} "
                      f"subjects{saved}; it is now the active model.")
        for warning in result.get("warnings") or ():
            console.print(f"  warning: {warning}", highlight=False)
    if batch:
        for warning in result.get("warnings") or ():
            console.print(f"  warning: {warning}", highlight=False)
        console.print(f"Batch pass on {config.backend}: {result.get('records', 0):,} records "
                      f"against {result.get('subjects', 0):,} subject rows, "
                      f"{result.get('comparisons', 0):,} comparisons.")
    console.print(f"Linked {result.get('linked', 0):,} records; "
                  f"{result.get('pending', 0):,} wait for review "
                  f"(`socialcredit link review`); {result.get('unlinked', 0):,} remain unlinked.")


def _cell(*parts: Any) -> str:
    return " · ".join(str(p) for p in parts if p not in (None, ""))


def _contributions(explanation: dict[str, Any]) -> Text:
    """``name exact +6.20 · birth_date exact +4.10 …`` (weights in log2 Bayes factor units;
    ``—``: not compared, e.g. a missing value)."""
    text = Text()
    for comparison, value in explanation.items():
        if not isinstance(value, dict) or "level" not in value:
            continue  # flags and other annotations are not contributions
        weight = value.get("weight")
        if text:
            text.append(" · ", style="dim")
        text.append(f"{comparison} ", style="bold")
        text.append(f"{value['level']} ")
        if weight is None:
            text.append("—", style="dim")
        else:
            text.append(f"{weight:+.2f}", style="green" if weight > 0 else
                        "red" if weight < 0 else "")
    return text


def review_table(queue: dict[str, Any]) -> Table:
    """The review queue (the ``{"data", "count"}`` of
    :func:`socialcredit.identity.review.review_queue`) as a Rich table that fits a 100-column
    terminal: one row per pair — candidate id, match weight, probability, then the record
    (``#id furnisher · kind · date`` and ``name · claimed ID · phone``), the candidate subject
    (``→ subject #id national ID · name · birth date``) and an indented line of each
    comparison's level and weight."""
    table = Table(title=f"{queue['count']} pair(s) to review", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("cand", justify="right", no_wrap=True)
    table.add_column("weight", justify="right", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("record → candidate subject; each comparison's level and weight")
    for pair in queue["data"]:
        rec, sub = pair["record"], pair["subject"]
        cell = Text(f"#{rec['id']} {_cell(rec['furnisher'], rec['kind'], rec['occurred_at'])}\n"
                    f"{_cell(rec['name'], rec['claimed_id'], rec['phone']) or '-'}")
        if rec.get("tentative"):
            cell.append("  (rests here, pending review)", style="yellow")
        cell.append(f"\n→ subject #{sub['id']} "
                    f"{_cell(sub['national_id'], sub['name'], sub['birth_date'])}\n",
                    style="cyan")
        contributions = _contributions(pair.get("explanation") or {})
        contributions.pad_left(2)
        cell.append_text(contributions)
        probability = pair["match_probability"]
        table.add_row(str(pair["id"]), f"{pair['match_weight']:.2f}",
                      "-" if probability is None else f"{probability:.6f}", cell,
                      end_section=True)
    return table


def _run(action: Callable[..., dict[str, Any]], as_of: str | None, as_json: bool,
         *args: Any, **kwargs: Any) -> dict[str, Any] | None:
    """Run one decision on the registry (``by`` = this CLI user); print JSON and return None
    in --json mode, else return the result for a one-line summary."""
    day = _day(as_of)
    reg = common.registry(today=day)
    try:
        result = action(reg.store, reg.policy, *args, by=common.by(), as_of=day, **kwargs)
    finally:
        reg.close()
    if as_json:
        common.out(result)
        return None
    return result


@link_app.command("review")
def review(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Pairs to show.")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Pairs to skip.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """List the review queue, highest match weight first.

    Each pair shows its match weight, probability and each comparison's contribution (level
    and weight, in log2 Bayes factor units)."""
    from socialcredit.identity.review import review_queue

    reg = common.registry()
    try:
        queue = review_queue(reg.store, limit=limit, offset=offset)
    finally:
        reg.close()
    if as_json:
        common.out(queue)
    elif not queue["count"]:
        console.print("The review queue is empty.")
    else:
        common.make_console().print(review_table(queue))


@link_app.command("accept")
def accept(candidate_id: int, note: NoteOpt = None, as_of: AsOfOpt = None,
           as_json: JsonOpt = False) -> None:
    """Confirm a pair of the review queue.

    The record rests on that subject and its entries that were pending review take effect."""
    from socialcredit.identity.review import accept_candidate

    result = _run(accept_candidate, as_of, as_json, candidate_id, note=note)
    if result is None:
        return
    moved = f" (moved from subject {result['moved_from']})" if result["moved_from"] else ""
    console.print(f"Accepted candidate {candidate_id}: record {result['record_id']} is linked "
                  f"to subject {result['subject_id']}{moved}.")


@link_app.command("reject")
def reject(candidate_id: int, note: NoteOpt = None, as_of: AsOfOpt = None,
           as_json: JsonOpt = False) -> None:
    """Refuse a pair of the review queue.

    The record goes to its next candidate (still pending review) or is left unlinked."""
    from socialcredit.identity.review import reject_candidate

    result = _run(reject_candidate, as_of, as_json, candidate_id, note=note)
    if result is None:
        return
    after = (f"now rests on subject {result['subject_id']} (pending review)"
             if result["subject_id"] is not None else "is not linked to anyone")
    console.print(f"Rejected candidate {candidate_id}: record {result['record_id']} {after}.")


@link_app.command("unlink")
def unlink(record_id: int, reason: ReasonOpt, as_of: AsOfOpt = None,
           as_json: JsonOpt = False) -> None:
    """Detach a wrongly linked record from its subject (it is left unlinked)."""
    from socialcredit.identity.review import unlink_record

    result = _run(unlink_record, as_of, as_json, record_id, reason=reason)
    if result is None:
        return
    console.print(f"Record {record_id} unlinked from subject {result['was']}.")


@link_app.command("merge")
def merge(survivor_id: int, absorbed_id: int, reason: ReasonOpt, as_of: AsOfOpt = None,
          as_json: JsonOpt = False) -> None:
    """Merge subject ABSORBED_ID into SURVIVOR_ID (one person known as two subjects).

    Records, identifiers, names and list entries move to the survivor; `link split` undoes
    it."""
    from socialcredit.identity.review import merge_subjects

    result = _run(merge_subjects, as_of, as_json, survivor=survivor_id,
                  absorbed=absorbed_id, reason=reason)
    if result is None:
        return
    console.print(f"Merge {result['merge_id']}: subject {absorbed_id} merged into "
                  f"{survivor_id} ({result['records']} records, {result['identifiers']} "
                  f"identifiers, {result['entries']} list entries moved).")


@link_app.command("split")
def split(merge_id: int, reason: ReasonOpt, as_of: AsOfOpt = None,
          as_json: JsonOpt = False) -> None:
    """Undo a merge: what it moved (and is still on the survivor) goes back."""
    from socialcredit.identity.review import split_merge

    result = _run(split_merge, as_of, as_json, merge_id, reason=reason)
    if result is None:
        return
    console.print(f"Merge {merge_id} split: {result['records']} records, "
                  f"{result['identifiers']} identifiers and {result['entries']} list "
                  "entries went back.")
