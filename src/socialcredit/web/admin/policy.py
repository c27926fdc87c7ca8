"""The console's policy page: versions, ``policy diff`` and the what-if, from the browser.

Routes (declared in api/roles.py):

* ``GET /admin/policy`` – the registry's policy; the policy versions the ledger's events were
  written under (count, first and last event), each matched to a policy file at hand when one
  has that version hash; the policy files at hand (the registry's policy, the ``*.yaml``
  beside it, the policies shipped in the package); the diff and what-if forms; recent runs.
* ``GET /admin/policy/diff?a=KEY&b=KEY`` – the structural difference of two files at hand
  (:func:`socialcredit.policy.diff.yaml_diff`, as ``socialcredit policy diff`` prints it).
* ``POST /admin/policy/what-if`` – a candidate (a file at hand, or YAML pasted in the form)
  against the registry's policy on the DuckDB engine, in the background (whatif_jobs.py);
  answers 303 to the run's page. A candidate that does not validate answers 422 with the
  validator's messages (YAML path, line, reason) on the page; a run already going, 409.
  ``GET /admin/policy/what-if`` (the language switch on that answer) leads back to the form.
* ``GET /admin/policy/what-if/{run_id}`` – the run's steps while it runs (the page reloads
  itself every second), then the report: entries per list, refusals, re-decided refusals,
  score grades and the disparate-impact table, with two charts.

Files are chosen by key, never by a path from the form. Nothing here writes to the registry.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from socialcredit.api.deps import RegistryDep
from socialcredit.api.registry import Registry
from socialcredit.errors import ConfigError, NotFound, SocialCreditError
from socialcredit.policy.diff import yaml_diff
from socialcredit.policy.jurisdiction import local_today
from socialcredit.policy.model import Policy, load_policy
from socialcredit.reports.whatif_charts import entries_chart, impact_chart
from socialcredit.settings import DEFAULT_POLICY_PATH
from socialcredit.store.tables import events
from socialcredit.web.admin.common import now, page, require_session, signed_in
from socialcredit.web.admin.whatif_jobs import ENGINE, Run, Runs

__all__ = ["MAX_PASTED_BYTES", "policy_files", "policy_router"]

policy_router = APIRouter(prefix="/policy", include_in_schema=False)
#: The largest policy pasted into the what-if form (the shipped policies are ~40 kB).
MAX_PASTED_BYTES = 500_000


def _runs(request: Request) -> Runs:
    """The server's what-if runs (made by api/app.py's ``create_app``)."""
    runs: Runs = request.app.state.what_if_runs
    return runs


def policy_files(registry: Registry) -> dict[str, Path]:
    """The policy files at hand, by key: ``current`` (the registry's policy file), then
    ``package/NAME`` for the policies shipped in the package and ``local/NAME`` for the other
    ``*.yaml`` beside the registry's file (a file already listed is not repeated)."""
    current = Path(registry.settings.policy_path)
    out: dict[str, Path] = {"current": current}
    seen = {current.resolve()}
    for tag, folder in (("package", DEFAULT_POLICY_PATH.parent), ("local", current.parent)):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                out[f"{tag}/{path.name}"] = path
    return out


def _load(path: Path) -> tuple[Policy | None, list[dict[str, Any]], str]:
    """``(policy, [], "")``, or ``(None, problems, message)`` when it does not validate."""
    try:
        return load_policy(path), [], ""
    except ConfigError as e:
        return None, list(e.details.get("problems") or []), e.message


def _versions(registry: Registry, files: dict[str, Policy]) -> list[dict[str, Any]]:
    """The policy versions of the ledger's events, newest first, with the file key of each."""
    by_hash = {p.version_hash: key for key, p in reversed(files.items())}
    with registry.store.read() as conn:
        rows = conn.execute(
            select(events.c.policy_version, func.count().label("events"),
                   func.min(events.c.at).label("first"), func.max(events.c.at).label("last"))
            .where(events.c.policy_version.is_not(None))
            .group_by(events.c.policy_version).order_by(func.max(events.c.seq).desc())).all()
    return [{"version_hash": r.policy_version, "events": r.events, "first": r.first,
             "last": r.last, "file": by_hash.get(r.policy_version)} for r in rows]


def _known(registry: Registry) -> tuple[dict[str, Path], dict[str, Policy], dict[str, str]]:
    """The files at hand, those that validate, and the message of each one that does not."""
    paths = policy_files(registry)
    valid: dict[str, Policy] = {}
    broken: dict[str, str] = {}
    for key, path in paths.items():
        policy, _, message = _load(path)
        if policy is None:
            broken[key] = message
        else:
            valid[key] = policy
    return paths, valid, broken


@policy_router.get("")
def policy_page(request: Request, registry: RegistryDep) -> Response:
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    paths, valid, broken = _known(registry)
    return page(request, registry, "admin_policy.html", operator=session.operator,
                csrf=session.csrf, policy=registry.policy, paths=paths, valid=valid,
                broken=broken, versions=_versions(registry, valid), runs=_runs(request).recent(),
                engine=ENGINE)


@policy_router.get("/diff")
def diff_page(request: Request, registry: RegistryDep, a: str = "current",
              b: str = "") -> Response:
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    paths = policy_files(registry)
    for key in (a, b):
        if key not in paths:
            return page(request, registry, "me_error.html", status=404,
                        error=f"no policy file {key[:80]!r} at hand: choose one listed on "
                              "the policy page")
    loaded = {key: _load(paths[key]) for key in (a, b)}
    problems = {key: (message, probs) for key, (p, probs, message) in loaded.items()
                if p is None}
    changes: list[dict[str, Any]] = []
    if not problems:
        changes = yaml_diff(yaml.safe_load(paths[a].read_bytes()),
                            yaml.safe_load(paths[b].read_bytes()))
    return page(request, registry, "admin_policy_diff.html",
                status=422 if problems else 200, operator=session.operator, a=a, b=b,
                pa=loaded[a][0], pb=loaded[b][0], problems=problems, changes=changes)


def _pasted(text: str) -> tuple[Policy | None, list[dict[str, Any]], str]:
    """The pasted YAML validated as a policy file would be (through a temporary file, so that
    its version hash is that of the same bytes saved as a file)."""
    raw = text.replace("\r\n", "\n").encode()
    fd, name = tempfile.mkstemp(prefix="socialcredit-pasted-", suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        policy, problems, message = _load(Path(name))
    finally:
        Path(name).unlink(missing_ok=True)
    return policy, problems, message.replace(f"policy file {name}", "the pasted policy")


@policy_router.post("/what-if")
def start_what_if(request: Request, registry: RegistryDep,
                  csrf: Annotated[str, Form(max_length=100)] = "",
                  candidate: Annotated[str, Form(max_length=200)] = "",
                  pasted: Annotated[str, Form(max_length=MAX_PASTED_BYTES)] = "") -> Response:
    session = require_session(request, registry, csrf)
    if isinstance(session, Response):
        return session
    if pasted.strip():
        label = "pasted"
        policy, problems, message = _pasted(pasted)
    else:
        path = policy_files(registry).get(candidate)
        if path is None:
            return page(request, registry, "me_error.html", status=404,
                        error=f"no policy file {candidate[:80]!r} at hand: choose one listed "
                              "on the policy page, or paste a policy")
        label = candidate
        policy, problems, message = _load(path)
    if policy is None:
        return page(request, registry, "admin_whatif.html", status=422,
                    operator=session.operator, run=None, label=label, problems=problems,
                    message=message)
    try:
        run = _runs(request).start(registry.store, new=policy, new_label=label,
                                   current=registry.policy, operator=session.operator,
                                   as_of=registry.today or local_today(registry.policy.jurisdiction,
                                                                           now()))
    except SocialCreditError as e:
        return page(request, registry, "me_error.html", status=e.status_code, error=e.message)
    return RedirectResponse(f"/admin/policy/what-if/{run.id}", status_code=303)


@policy_router.get("/what-if")
def what_if_form() -> Response:
    """The form's address asked for with GET (the language switch on the page that answered
    the form, a reload): back to the form (the ``?lang=`` switch is remembered in a cookie)."""
    return RedirectResponse("/admin/policy#what-if", status_code=303)


def _charts(run: Run, registry: Registry) -> dict[str, str]:
    """The run's charts as ``data:`` URLs (the CSP allows ``img-src data:``)."""
    report = run.report or {}
    titles = {name: spec.title for name, spec in registry.policy.lists.items()}
    pngs = {"entries": entries_chart(report, titles=titles, title="Active entries per list")}
    if report["disparate_impact"]["population"]:
        pngs["impact"] = impact_chart(report, title="Listing rate / overall rate by group")
    return {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in pngs.items()}


@policy_router.get("/what-if/{run_id}")
def what_if_page(request: Request, registry: RegistryDep, run_id: str) -> Response:
    session = signed_in(request, registry)
    if session is None:
        return RedirectResponse("/admin/sign-in", status_code=303)
    try:
        run = _runs(request).get(run_id)
    except NotFound as e:
        return page(request, registry, "me_error.html", status=404, error=e.message)
    charts = _charts(run, registry) if run.report is not None else {}
    titles = {name: spec.title for name, spec in registry.policy.lists.items()}
    return page(request, registry, "admin_whatif.html", operator=session.operator, run=run,
                report=run.report, charts=charts, titles=titles, problems=[], message="",
                benefit_texts=dict(registry.policy.benefits))
