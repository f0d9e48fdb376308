"""Checks on plots before they are stored, and the report that lists every problem.

:func:`prepare_plots` maps a layer as users send it onto the store's canonical columns;
:func:`check_plots` checks geometry, attributes and position against the county, its
townships and the plots already stored; the :class:`Report` lists every problem and
:mod:`ecomap.checks.report_formats` shows it as a status line, an HTML page or JSON.
"""

from __future__ import annotations

from ecomap.checks.overlaps import stored_overlap_problems
from ecomap.checks.plots import CheckContext, check_plots
from ecomap.checks.prepare import prepare_plots
from ecomap.checks.report import Outcome, Problem, Report, problem_list
from ecomap.checks.report_formats import report_html, report_json, severity_word, status_line

__all__ = [
    "CheckContext",
    "Outcome",
    "Problem",
    "Report",
    "check_plots",
    "prepare_plots",
    "problem_list",
    "report_html",
    "report_json",
    "severity_word",
    "status_line",
    "stored_overlap_problems",
]
