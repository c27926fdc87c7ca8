"""Transparency reports and the what-if: statistics from the projections (:func:`summarise`),
their charts, and a candidate policy compared with the current one (:mod:`.whatif`, with the
disparate-impact table of :mod:`.impact`). The HTML page of a transparency report is rendered
by the pages (:func:`socialcredit.web.report.render_report`)."""

from socialcredit.reports.summary import summarise

__all__ = ["summarise"]
