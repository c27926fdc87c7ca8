"""Transparency reports: statistics from the projections, rendered as HTML, JSON and charts."""

from socialcredit.reports.render import render_report
from socialcredit.reports.summary import summarise

__all__ = ["render_report", "summarise"]
