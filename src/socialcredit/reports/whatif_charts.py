"""Charts of a what-if report (:func:`socialcredit.reports.whatif.compare`), as PNG bytes.

* :func:`entries_chart` – active entries per list under CURRENT and NEW (grouped bars);
* :func:`impact_chart` – each group's listing rate as a ratio to the overall rate under CURRENT
  and NEW (horizontal bars), with the four-fifths band (29 CFR 1607.4(D)) drawn as two lines.

Drawn with ``matplotlib.figure.Figure`` and the Agg canvas directly (no pyplot): no global
state, so a server thread may draw while another does. Labels are passed in by the caller
(already in the reader's language).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["entries_chart", "impact_chart"]

_CURRENT, _NEW = "#8c8c8c", "#1f5fa8"
_DPI = 96


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI)
    return buf.getvalue()


def entries_chart(report: Mapping[str, Any], *, titles: Mapping[str, str],
                  labels: tuple[str, str] = ("CURRENT", "NEW"), title: str = "") -> bytes:
    """Active entries per list (``titles``: list name → its label), CURRENT beside NEW."""
    names = list(report["lists"])
    cur = [report["lists"][n]["status"]["current"].get("active", 0) for n in names]
    new = [report["lists"][n]["status"]["new"].get("active", 0) for n in names]
    fig = Figure(figsize=(7.5, 0.5 + 0.45 * max(len(names), 1) * 2))
    ax = fig.add_subplot()
    ys = range(len(names))
    ax.barh([y + 0.2 for y in ys], cur, height=0.4, color=_CURRENT, label=labels[0])
    ax.barh([y - 0.2 for y in ys], new, height=0.4, color=_NEW, label=labels[1])
    ax.set_yticks(list(ys), [titles.get(n, n)[:48] for n in names])
    ax.invert_yaxis()
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def impact_chart(report: Mapping[str, Any], *, labels: tuple[str, str] = ("CURRENT", "NEW"),
                 title: str = "") -> bytes:
    """Ratio of each group's listing rate to the overall rate, CURRENT beside NEW; groups
    without a ratio (no one listed overall) are drawn at 0. The band is ``report["band"]``."""
    di = report["disparate_impact"]
    rows = [(f"{dim}: {row['label']}", row) for dim, rs in di["groups"].items() for row in rs]
    fig = Figure(figsize=(7.5, 0.8 + 0.32 * max(len(rows), 1) * 2))
    ax = fig.add_subplot()
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], [r["current"]["ratio"] or 0 for _, r in rows], height=0.4,
            color=_CURRENT, label=labels[0])
    ax.barh([y - 0.2 for y in ys], [r["new"]["ratio"] or 0 for _, r in rows], height=0.4,
            color=_NEW, label=labels[1])
    lo, hi = di["band"]
    for x in (lo, 1.0, hi):
        ax.axvline(x, color="#b00020" if x != 1.0 else "#444444", linewidth=1,
                   linestyle="--" if x != 1.0 else ":")
    ax.set_yticks(list(ys), [name for name, _ in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=11)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)
