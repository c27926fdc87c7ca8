"""Render a transparency report: an HTML page, the figures as JSON, and two PNG charts.

``render_report(summary, out_dir)`` writes, into ``out_dir`` (created if missing):

* ``entries.png``   – bar chart of active entries per list;
* ``decisions.png`` – grouped bar chart of gate decisions (allowed / refused / referred for
  review) per service;
* ``report.json``   – the summary itself, sorted keys, indent 2, UTF-8;
* ``index.html``    – the page (template ``report.html``), self-contained: the stylesheet is
  inlined and the charts are referenced relatively, so the directory can be published as is.

``index.html`` is written last, and every file is replaced atomically, so a directory with an
``index.html`` holds a complete report even while a newer one is being written over it.

The figures are read from the summary by :mod:`socialcredit.reports.figures`, the headline is
written by :mod:`socialcredit.reports.words`, the charts are drawn by
:mod:`socialcredit.reports.charts`; this module puts them on the page and writes the files.

The summary (a mapping, typically produced by the reporting query) has this shape::

    {
      "generated_at": "2026-11-29T08:00:00+00:00",   # ISO timestamp the figures were computed
      "as_of": "2026-11-29",                          # ISO date the figures describe
      "policy_version": "sha256:…",                   # Policy.version_hash in force
      "subjects": int,          # people (linked identities) the registry holds records about
      "records": int,           # records accepted from furnishers
      "unlinked_records": int,  # records not (yet) linked to a person
      "rejected_rows": int,     # submitted rows rejected at intake
      "furnishers": int,        # registered furnishers
      "ledger_events": int,     # events in the audit ledger
      "entries": {              # per list (policy list name), may be empty
        "<list>": {"active": int, "removed": int, "expired": int, "pending_review": int}
      },
      "decisions": {            # per service (policy service name), may be empty
        "<service>": {"allow": int, "deny": int, "review": int}
      }
    }

Missing counts are read as 0; a count that is not a non-negative ``int`` raises ``ValueError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup

from socialcredit.reports.charts import decisions_chart, entries_chart
from socialcredit.reports.figures import (
    DECISIONS,
    ENTRY_STATES,
    LIST_TITLES,
    SERVICE_LABELS,
    as_text,
    count,
    decision_rows,
    entry_rows,
    plain,
    refusal_rate,
)
from socialcredit.reports.files import write_atomic
from socialcredit.reports.words import headline
from socialcredit.web import STATIC_DIR, make_environment

__all__ = [
    "DECISIONS",
    "ENTRY_STATES",
    "LIST_TITLES",
    "SERVICE_LABELS",
    "headline",
    "render_report",
]


def _inline_css() -> Markup | None:
    try:
        # Our own stylesheet: trusted, and must not be HTML-escaped inside <style>.
        return Markup(STATIC_DIR.joinpath("style.css").read_text(encoding="utf-8"))
    except OSError:
        return None


def render_report(
    summary: Mapping[str, Any],
    out_dir: Path,
    *,
    list_titles: Mapping[str, str] | None = None,
    service_labels: Mapping[str, str] | None = None,
) -> Path:
    """Write the transparency report for ``summary`` into ``out_dir``; return ``index.html``.

    ``summary`` has the shape given in the module docstring; empty ``entries``/``decisions``
    render as "nothing yet" with "No data" charts. ``list_titles``/``service_labels`` (e.g.
    ``{name: spec.title for name, spec in policy.lists.items()}`` and ``policy.services``)
    override the built-in titles of the default policy.

    Files written: ``entries.png``, ``decisions.png``, ``report.json``, then ``index.html``.

    Raises:
        ValueError: a count is not a non-negative integer, or ``entries``/``decisions`` is not
            a mapping.
    """
    out_dir = Path(out_dir)
    titles = {**LIST_TITLES, **(list_titles or {})}
    labels = {**SERVICE_LABELS, **(service_labels or {})}

    entries = entry_rows(summary, titles)
    decisions = decision_rows(summary, labels)
    text = headline(summary, list_titles=list_titles)
    as_of = as_text(summary.get("as_of"))
    figures = [
        {
            "label": "People",
            "value": count(summary.get("subjects"), "subjects"),
            "note": "people the registry holds records about",
        },
        {
            "label": "Records",
            "value": count(summary.get("records"), "records"),
            "note": "accepted from furnishers",
        },
        {
            "label": "Unlinked records",
            "value": count(summary.get("unlinked_records"), "unlinked_records"),
            "note": "not linked to any person",
        },
        {
            "label": "Rejected rows",
            "value": count(summary.get("rejected_rows"), "rejected_rows"),
            "note": "refused at intake",
        },
        {
            "label": "Furnishers",
            "value": count(summary.get("furnishers"), "furnishers"),
            "note": "organisations submitting records",
        },
        {
            "label": "Ledger events",
            "value": count(summary.get("ledger_events"), "ledger_events"),
            "note": "events in the audit ledger",
        },
    ]

    out_dir.mkdir(parents=True, exist_ok=True)
    charts = {
        "entries": entries_chart(entries, out_dir / "entries.png", as_of),
        "decisions": decisions_chart(decisions, out_dir / "decisions.png", as_of),
    }

    report_json = json.dumps(plain(summary), sort_keys=True, indent=2, ensure_ascii=False)
    write_atomic(out_dir / "report.json", (report_json + "\n").encode("utf-8"))

    entry_totals = {s: sum(row[s] for row in entries) for s in ENTRY_STATES}
    decision_totals: dict[str, Any] = {d: sum(row[d] for row in decisions) for d in DECISIONS}
    decision_totals["total"] = sum(decision_totals[d] for d in DECISIONS)
    decision_totals["refusal_rate"] = refusal_rate(
        decision_totals["deny"], decision_totals["total"])

    template = make_environment().get_template("report.html")
    html = template.render(
        as_of=as_of,
        generated_at=as_text(summary.get("generated_at")),
        policy_version=as_text(summary.get("policy_version")),
        headline=text,
        figures=figures,
        entry_rows=entries,
        entry_totals=entry_totals,
        decision_rows=decisions,
        decision_totals=decision_totals,
        charts=charts,
        tree_head=summary.get("tree_head"),
        inline_css=_inline_css(),
    )
    index = out_dir / "index.html"
    write_atomic(index, html.encode("utf-8"))
    return index
