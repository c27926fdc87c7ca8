"""``socialcredit simulate`` (furnisher files of a synthetic population) and ``socialcredit
demo`` (simulate, ingest, evaluate, replay a day of tickets, report).

:mod:`socialcredit.cli` adds ``root`` (a Typer app without a name, so its commands merge) to
the root app.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from socialcredit.cli import common
from socialcredit.cli.common import AsOfOpt, JsonOpt, console, err_console
from socialcredit.errors import InputError

if TYPE_CHECKING:  # the registry loads the gate (pandas, pypinyin): only when used
    pass

__all__ = ["root"]

root: typer.Typer = typer.Typer()


@root.command("simulate")
def simulate_cmd(
    out: Annotated[Path, typer.Option(help="Output folder.")],
    subjects: Annotated[int, typer.Option(min=1)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a synthetic population's furnisher files, tickets and a manifest (a US one
    with SSNs under `--policy us`)."""
    from socialcredit.policy.model import load_policy
    from socialcredit.simulate import simulator_for

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    # the population the configured policy identifies: CN resident IDs, or US SSNs (--policy us)
    simulate = simulator_for(load_policy(common.settings().policy_path).identity.national_id
                             .scheme)
    with common.bar(not as_json, "people simulated", subjects) as tick:
        manifest = simulate(out, subjects=subjects, seed=seed, as_of=common.as_of(as_of),
                            progress=tick)
    if as_json:
        common.out(manifest.model_dump(mode="json"))
    else:
        for f in manifest.furnishers:
            console.print(f"{out / f.file}: {f.rows:,} rows ({f.bad_rows} deliberately bad), "
                          f"furnisher {f.name} ({f.kind})")


@root.command()
def demo(
    subjects: Annotated[int, typer.Option(min=100)] = 100_000,
    seed: Annotated[int, typer.Option()] = 1,
    out: Annotated[Path, typer.Option(
        help="Work folder (recreated): simulated files, the demo's own SQLite database "
             "registry.db and the report.")] = Path("var/demo"),
    demo_db: Annotated[str | None, typer.Option(
        "--demo-database-url", help="Run on this empty database instead of OUT/registry.db "
                                    "(e.g. PostgreSQL).")] = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Simulate a nation, ingest it, evaluate, replay a day of tickets, report.

    The demo never touches the registry's configured database: it works in OUT (default
    var/demo), which it recreates, with its own SQLite file unless --demo-database-url is
    given (that database must be empty).
    """
    from socialcredit.cli.demo_run import run_demo

    day = common.as_of(as_of)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    shutil.rmtree(out, ignore_errors=True)
    url = demo_db or f"sqlite:///{out / 'registry.db'}"
    settings = common.settings().model_copy(update={"database_url": url,
                                               "notices_dir": out / "notices"})
    from socialcredit.api.registry import Registry

    reg = Registry(settings, today=day)
    reg.ensure_schema()
    if reg.store.head()[0] > 0:
        raise InputError(f"{url} already holds a registry; the demo needs an empty database")
    say = (lambda _m: None) if as_json else (lambda m: err_console.print(f"[bold]·[/] {m}"))
    with common.bar(not as_json, "ingest rows", None) as tick:
        seen = 0

        def progress(_stage: str, done: int, _total: int) -> None:
            nonlocal seen
            tick(done - seen)
            seen = done

        summary = run_demo(reg, subjects=subjects, seed=seed, work_dir=out, as_of=day, say=say,
                           progress=progress)
    reg.close()
    if as_json:
        common.out(summary)
        return
    dec = summary["decisions"]
    headline = (
        f"\nIn a simulated nation of {subjects:,} people, "
        f"[bold]{summary['listed'].get('dishonest_judgment_debtors', 0):,}[/] people are on "
        f"the blacklist of dishonest judgment debtors; in one day the gates refused "
        f"[bold]{dec.get('air', {}).get('deny', 0):,}[/] flight tickets and "
        f"[bold]{dec.get('rail_hsr', {}).get('deny', 0):,}[/] high-speed-rail tickets.\n"
        + _enterprises(summary))
    if summary.get("policy") == "us":
        headline = (
            f"\nIn a simulated US population of {subjects:,} people, "
            f"[bold]{summary['listed'].get('serious_delinquencies', 0):,}[/] have a serious "
            f"delinquency and [bold]{summary['listed'].get('ride_hail_low_rating', 0):,}[/] "
            f"are refused rides for low ratings; in one day the gates refused "
            f"[bold]{dec.get('credit', {}).get('deny', 0):,}[/] credit applications (each "
            f"with an adverse-action notice giving the score) and "
            f"[bold]{dec.get('ride_hail', {}).get('deny', 0):,}[/] rides.\n")
    # served under the policy it was made with (`--policy us`): the same option again
    cli_pol = f" --policy {common.state.policy}" if common.state.policy else ""
    make_pol = f" POLICY={common.state.policy}" if common.state.policy else ""
    console.print(
        headline +
        f"Subjects with records {summary['subjects']:,}; records {summary['records']:,} "
        f"({summary['unlinked_records']:,} unlinked); rejected rows "
        f"{summary['rejected_rows']:,} (see `socialcredit ingest --show-rejects`); ledger "
        f"events {summary['ledger_events']:,}.\nReport: {summary['report']}\n"
        f"Browse the public search page: `make serve{make_pol}` or `SOCIALCREDIT_NOTICES_DIR="
        f"{out / 'notices'} socialcredit --database-url {url}{cli_pol} serve`, then "
        "http://127.0.0.1:8000/")
    others = ", ".join(f"{name} {n:,}" for name, n in summary["listed"].items()
                       if name not in ("dishonest_judgment_debtors",
                                       "restricted_representatives"))
    grades = "; ".join(f"{name}: " + ", ".join(f"{g} {n:,}" for g, n in by_grade.items())
                       for name, by_grade in summary.get("scores", {}).items())
    harsher = ("" if summary.get("policy") == "us" else
               f"What if the policy were harsher? `socialcredit --database-url {url} evaluate "
               "--policy policies/strict.yaml --compare policies/default.yaml` (writes "
               "nothing).")
    console.print(
        f"\nPeople on the other lists: {others}.\nScores by grade: {grades}.\n{harsher}")
    who = summary.get("sign_in")
    if who:
        # the sign-in page sends a new code, which replaces any code printed here: the way in
        # is the page's own, with the demo's outbox standing in for the person's phone
        console.print(
            f"\nFollow a dispute by hand: a listed person (one refused a service today, where "
            f"there is one) can read and contest their file. After `make serve{make_pol}`, open "
            f"http://127.0.0.1:8000/me/sign-in\n"
            f"  1. enter ID number {who['national_id']} and phone {who['phone']}, press "
            f"\"Send me a code\";\n"
            f"  2. the code arrives in the demo's outbox (its stand-in for the phone): "
            f"`tail -n 1 {who['outbox']}`;\n"
            f"  3. type it on the page (valid {who['valid_minutes']} minutes).",
            highlight=False, soft_wrap=True)


def _plural(n: int, one: str, many: str) -> str:
    return f"[bold]{n:,}[/] {one if n == 1 else many}"


def _enterprises(summary: dict[str, Any]) -> str:
    """The enterprises' sentence of the headline (issue #13), in the article's terms: listed
    people and listed enterprises on the blacklist, the enterprises' representatives
    restricted in consumption, and the red lists' incentives granted; empty where the policy
    has none of them."""
    reps = summary["listed"].get("restricted_representatives")
    red = summary.get("incentives", {})
    if reps is None and not red:
        return ""
    firms = summary.get("listed_organisations", {}).get("dishonest_judgment_debtors", 0)
    people = summary["listed"].get("dishonest_judgment_debtors", 0)
    text = (f"\nOn the blacklist: {_plural(people, 'person', 'people')} and "
            f"{_plural(firms, 'enterprise', 'enterprises')}")
    if reps is not None:
        who = _plural(reps, "legal representative or main responsible person",
                      "legal representatives and main responsible persons")
        text += (f"; {who} of listed enterprises restricted in consumption (not listed "
                 "themselves)")
    titles = summary.get("titles", {})
    for name, n in red.items():
        firms_n = _plural(n.get("granted", 0), "enterprise", "enterprises")
        text += f"; incentives granted to {firms_n} on the red list “{titles.get(name, name)}”"
        if n.get("suspended"):
            text += f" ({n['suspended']:,} more suspended while under a sanction)"
    return text + ".\n"
