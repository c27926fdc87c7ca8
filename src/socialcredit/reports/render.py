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

Charts are drawn with ``matplotlib.figure.Figure`` and the Agg canvas directly (no pyplot, no
``matplotlib.use``): no global backend or figure-manager state is touched, so reports can be
rendered from several threads at once.

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

import io
import json
import os
import tempfile
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from socialcredit.web import STATIC_DIR, make_environment

__all__ = [
    "DECISIONS",
    "ENTRY_STATES",
    "LIST_TITLES",
    "SERVICE_LABELS",
    "headline",
    "render_report",
]

#: Entry states counted per list, in table order.
ENTRY_STATES: tuple[str, ...] = ("active", "pending_review", "removed", "expired")
#: Gate decisions counted per service, in table order.
DECISIONS: tuple[str, ...] = ("allow", "deny", "review")

#: Titles of the lists of the default policy; other lists are shown by their name.
LIST_TITLES: dict[str, str] = {
    "dishonest_judgment_debtors": "List of dishonest judgment debtors",
    "unruly_passengers": "Passengers restricted from civil flights",
    "ride_hail_low_rating": "Riders refused by a ride-hail platform for low ratings",
    "ofac_sdn": "OFAC Specially Designated Nationals (individuals)",
}

#: Labels of the services of the default policy; other services are shown by their name.
SERVICE_LABELS: dict[str, str] = {
    "air": "Civil aviation tickets",
    "rail_hsr": "High-speed rail tickets",
    "rail_first_class": "First-class and soft-sleeper rail seats",
    "hotel_star": "Star-rated hotels",
    "credit": "New loans and credit lines",
    "ride_hail": "Ride-hail trips",
}

# What follows the number in the headline: (singular, plural).
_LIST_PHRASES: dict[str, tuple[str, str]] = {
    "dishonest_judgment_debtors": (
        "person listed as a dishonest judgment debtor",
        "people listed as dishonest judgment debtors",
    ),
    "unruly_passengers": (
        "passenger restricted from civil flights",
        "passengers restricted from civil flights",
    ),
    "ride_hail_low_rating": (
        "rider refused by a ride-hail platform for low ratings",
        "riders refused by a ride-hail platform for low ratings",
    ),
    "ofac_sdn": (
        "person on the OFAC Specially Designated Nationals list",
        "people on the OFAC Specially Designated Nationals list",
    ),
}

_SERVICE_NOUNS: dict[str, tuple[str, str]] = {
    "air": ("flight ticket", "flight tickets"),
    "rail_hsr": ("high-speed-rail ticket", "high-speed-rail tickets"),
    "rail_first_class": ("first-class rail seat", "first-class rail seats"),
    "hotel_star": ("star-rated hotel booking", "star-rated hotel bookings"),
    "credit": ("loan or credit line", "loans or credit lines"),
    "ride_hail": ("ride-hail trip", "ride-hail trips"),
}

# Okabe–Ito colours (distinguishable with colour-vision deficiencies), plus hatching so the
# bars differ in greyscale print too.
_DECISION_STYLE: dict[str, tuple[str, str, str]] = {
    "allow": ("Allowed", "#009E73", ""),
    "deny": ("Refused", "#D55E00", "//"),
    "review": ("Referred for review", "#0072B2", ".."),
}
_ENTRY_COLOUR = "#0072B2"

_CSS_PX_PER_INCH = 100  # width/height attributes of <img>
_PNG_DPI = 200  # pixels per inch in the file: crisp on high-density screens


@dataclass(frozen=True)
class _Chart:
    src: str
    alt: str
    caption: str
    width: int
    height: int


# --------------------------------------------------------------------------------------------
# Reading the summary


def _count(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"summary.{where}: expected a non-negative integer, got {value!r}")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _section(summary: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = summary.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"summary.{key}: expected a mapping, got {type(value).__name__}")
    return value


def _ordered(keys: Iterable[str], canonical: Iterable[str]) -> list[str]:
    """Known names in policy order first, then any others alphabetically."""
    present = set(keys)
    known = [k for k in canonical if k in present]
    return known + sorted(present - set(known))


def _entry_rows(summary: Mapping[str, Any], titles: Mapping[str, str]) -> list[dict[str, Any]]:
    entries = _section(summary, "entries")
    rows: list[dict[str, Any]] = []
    for key in _ordered(entries, LIST_TITLES):
        counts = entries[key]
        if not isinstance(counts, Mapping):
            raise ValueError(f"summary.entries.{key}: expected a mapping of counts")
        row: dict[str, Any] = {"key": key, "title": titles.get(key, key)}
        for state in ENTRY_STATES:
            row[state] = _count(counts.get(state), f"entries.{key}.{state}")
        rows.append(row)
    return rows


def _rate(deny: int, total: int) -> str:
    return f"{100 * deny / total:.1f}" if total else "—"


def _decision_rows(summary: Mapping[str, Any], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    decisions = _section(summary, "decisions")
    rows: list[dict[str, Any]] = []
    for key in _ordered(decisions, SERVICE_LABELS):
        counts = decisions[key]
        if not isinstance(counts, Mapping):
            raise ValueError(f"summary.decisions.{key}: expected a mapping of counts")
        row: dict[str, Any] = {"key": key, "label": labels.get(key, key)}
        for decision in DECISIONS:
            row[decision] = _count(counts.get(decision), f"decisions.{key}.{decision}")
        row["total"] = sum(row[d] for d in DECISIONS)
        row["refusal_rate"] = _rate(row["deny"], row["total"])
        rows.append(row)
    return rows


def _plain(value: Any) -> Any:
    """The summary as plain JSON types (mappings → dicts, tuples → lists, dates → ISO)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------------------------
# Words


def _join_and(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _plural(n: int, forms: tuple[str, str]) -> str:
    return f"{n:,} {forms[0] if n == 1 else forms[1]}"


def headline(summary: Mapping[str, Any], *, list_titles: Mapping[str, str] | None = None) -> str:
    """The figures in words, as a news report would put them.

    ``"As of 2026-11-29: 1,234 people listed as dishonest judgment debtors; 56 passengers
    restricted from civil flights; 310 flight tickets and 95 high-speed-rail tickets refused;
    4 requests referred for review."``

    Lists with no active entry and services with no refusal are left out; with nothing listed
    and nothing refused it says so. People are counted from ``listed_people`` when the summary
    has it (one person may hold several entries), else from the active entries.
    """
    titles = {**LIST_TITLES, **(list_titles or {})}
    people = summary.get("listed_people") or {}
    parts: list[str] = []
    for row in _entry_rows(summary, titles):
        if row["active"]:
            forms = _LIST_PHRASES.get(
                row["key"],
                (f"person on the list “{row['title']}”", f"people on the list “{row['title']}”"),
            )
            parts.append(_plural(int(people.get(row["key"], row["active"])), forms))
    if not parts:
        parts.append("no one listed")

    decisions = _decision_rows(summary, SERVICE_LABELS)
    refused = [
        _plural(
            row["deny"],
            _SERVICE_NOUNS.get(
                row["key"], (f"request for {row['key']}", f"requests for {row['key']}")
            ),
        )
        for row in decisions
        if row["deny"]
    ]
    parts.append(_join_and(refused) + " refused" if refused else "no ticket or service refused")
    reviews = sum(row["review"] for row in decisions)
    if reviews:
        parts.append(_plural(reviews, ("request", "requests")) + " referred for review")

    as_of = _text(summary.get("as_of"))
    lead = f"As of {as_of}: " if as_of else ""
    return lead + "; ".join(parts) + "."


# --------------------------------------------------------------------------------------------
# Charts


def _wrap(label: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(label, width)) or label


def _new_figure(height_in: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(8.0, height_in), dpi=_CSS_PX_PER_INCH, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself to fig; no global backend selection
    ax = fig.add_subplot()
    return fig, ax


def _no_data(ax: Axes, title: str) -> None:
    ax.set_axis_off()
    ax.set_title(title, loc="left")
    ax.text(
        0.5,
        0.5,
        "No data",
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=16,
        color="#57606a",
    )


def _style_count_axis(ax: Axes, largest: int) -> None:
    ax.set_xlim(0, max(largest, 1) * 1.2)  # room for the value labels
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.invert_yaxis()  # first row on top, as in the table
    ax.grid(axis="x", color="#d0d7de", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _save(fig: Figure, path: Path, title: str) -> tuple[int, int]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_PNG_DPI, metadata={"Title": title})
    _write_atomic(path, buf.getvalue())
    w, h = fig.get_size_inches()
    return round(w * _CSS_PX_PER_INCH), round(h * _CSS_PX_PER_INCH)


def _entries_chart(rows: list[dict[str, Any]], path: Path, as_of: str) -> _Chart:
    title = f"Active entries per list{f', as of {as_of}' if as_of else ''}"
    fig, ax = _new_figure(1.4 + 0.6 * len(rows) if rows else 2.0)
    if rows:
        values = [row["active"] for row in rows]
        bars = ax.barh(
            [_wrap(row["title"]) for row in rows], values, color=_ENTRY_COLOUR, height=0.6
        )
        ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3)
        _style_count_axis(ax, max(values))
        ax.set_title(title, loc="left")
        ax.set_xlabel("Active entries")
        alt = (
            f"Bar chart of active entries per list{f' as of {as_of}' if as_of else ''}: "
            + "; ".join(f"{row['title']}: {row['active']:,}" for row in rows)
            + "."
        )
    else:
        _no_data(ax, title)
        alt = "Chart of active entries per list: no data, no one has been listed yet."
    size = _save(fig, path, title)
    return _Chart(
        src=path.name,
        alt=alt,
        width=size[0],
        height=size[1],
        caption="Active entries per list. The same figures are in the table above.",
    )


def _decisions_chart(rows: list[dict[str, Any]], path: Path, as_of: str) -> _Chart:
    title = f"Gate decisions per service{f', as of {as_of}' if as_of else ''}"
    fig, ax = _new_figure(1.8 + 0.9 * len(rows) if rows else 2.0)
    if rows:
        positions = list(range(len(rows)))
        bar_height = 0.26
        largest = 0
        for i, decision in enumerate(DECISIONS):
            label, colour, hatch = _DECISION_STYLE[decision]
            values = [row[decision] for row in rows]
            largest = max(largest, *values)
            bars = ax.barh(
                [p + (i - 1) * bar_height for p in positions],
                values,
                height=bar_height,
                color=colour,
                hatch=hatch,
                edgecolor="white",
                linewidth=0.5,
                label=label,
            )
            ax.bar_label(bars, labels=[f"{v:,}" for v in values], padding=3, fontsize=8)
        ax.set_yticks(positions, [_wrap(row["label"]) for row in rows])
        _style_count_axis(ax, largest)
        ax.set_title(title, loc="left")
        ax.set_xlabel("Decisions")
        ax.legend(loc="lower right", frameon=False)
        alt = (
            "Bar chart of gate decisions per service: "
            + "; ".join(
                f"{row['label']}: {row['allow']:,} allowed, {row['deny']:,} refused, "
                f"{row['review']:,} referred for review"
                for row in rows
            )
            + "."
        )
    else:
        _no_data(ax, title)
        alt = "Chart of gate decisions per service: no data, no decisions have been recorded yet."
    size = _save(fig, path, title)
    return _Chart(
        src=path.name,
        alt=alt,
        width=size[0],
        height=size[1],
        caption="Allowed, refused and referred decisions per service. "
        "The same figures are in the table above.",
    )


# --------------------------------------------------------------------------------------------
# Files


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # a published report is world-readable
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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

    entry_rows = _entry_rows(summary, titles)
    decision_rows = _decision_rows(summary, labels)
    text = headline(summary, list_titles=list_titles)
    as_of = _text(summary.get("as_of"))
    figures = [
        {
            "label": "People",
            "value": _count(summary.get("subjects"), "subjects"),
            "note": "people the registry holds records about",
        },
        {
            "label": "Records",
            "value": _count(summary.get("records"), "records"),
            "note": "accepted from furnishers",
        },
        {
            "label": "Unlinked records",
            "value": _count(summary.get("unlinked_records"), "unlinked_records"),
            "note": "not linked to any person",
        },
        {
            "label": "Rejected rows",
            "value": _count(summary.get("rejected_rows"), "rejected_rows"),
            "note": "refused at intake",
        },
        {
            "label": "Furnishers",
            "value": _count(summary.get("furnishers"), "furnishers"),
            "note": "organisations submitting records",
        },
        {
            "label": "Ledger events",
            "value": _count(summary.get("ledger_events"), "ledger_events"),
            "note": "events in the audit ledger",
        },
    ]

    out_dir.mkdir(parents=True, exist_ok=True)
    charts = {
        "entries": _entries_chart(entry_rows, out_dir / "entries.png", as_of),
        "decisions": _decisions_chart(decision_rows, out_dir / "decisions.png", as_of),
    }

    report_json = json.dumps(_plain(summary), sort_keys=True, indent=2, ensure_ascii=False)
    _write_atomic(out_dir / "report.json", (report_json + "\n").encode("utf-8"))

    entry_totals = {s: sum(row[s] for row in entry_rows) for s in ENTRY_STATES}
    decision_totals: dict[str, Any] = {d: sum(row[d] for row in decision_rows) for d in DECISIONS}
    decision_totals["total"] = sum(decision_totals[d] for d in DECISIONS)
    decision_totals["refusal_rate"] = _rate(decision_totals["deny"], decision_totals["total"])

    template = make_environment().get_template("report.html")
    html = template.render(
        as_of=as_of,
        generated_at=_text(summary.get("generated_at")),
        policy_version=_text(summary.get("policy_version")),
        headline=text,
        figures=figures,
        entry_rows=entry_rows,
        entry_totals=entry_totals,
        decision_rows=decision_rows,
        decision_totals=decision_totals,
        charts=charts,
        inline_css=_inline_css(),
    )
    index = out_dir / "index.html"
    _write_atomic(index, html.encode("utf-8"))
    return index
