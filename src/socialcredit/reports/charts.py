"""The two charts of a transparency report, drawn as PNG files.

Charts are drawn with ``matplotlib.figure.Figure`` and the Agg canvas directly (no pyplot, no
``matplotlib.use``): no global backend or figure-manager state is touched, so reports can be
rendered from several threads at once. Each chart comes with its alt text and caption, which
repeat its figures for readers who cannot see it.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from socialcredit.reports.figures import DECISIONS
from socialcredit.reports.files import write_atomic

__all__ = ["Chart", "decisions_chart", "entries_chart"]

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
class Chart:
    """One chart as the page shows it: file name (relative), alt text, caption, and its
    ``width``/``height`` in CSS pixels."""

    src: str
    alt: str
    caption: str
    width: int
    height: int


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
    write_atomic(path, buf.getvalue())
    w, h = fig.get_size_inches()
    return round(w * _CSS_PX_PER_INCH), round(h * _CSS_PX_PER_INCH)


def entries_chart(rows: list[dict[str, Any]], path: Path, as_of: str) -> Chart:
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
    return Chart(
        src=path.name,
        alt=alt,
        width=size[0],
        height=size[1],
        caption="Active entries per list. The same figures are in the table above.",
    )


def decisions_chart(rows: list[dict[str, Any]], path: Path, as_of: str) -> Chart:
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
    return Chart(
        src=path.name,
        alt=alt,
        width=size[0],
        height=size[1],
        caption="Allowed, refused and referred decisions per service. "
        "The same figures are in the table above.",
    )
