"""The report of a check: every problem found in one input, and the outcome.

A :class:`Problem` names the feature and field; a :class:`Report` lists them in the order
found; an :class:`Outcome` adds the accepted plots, their township splits and the JSON
for tools.

Policy: a problem with one feature repairs or excludes that feature and makes the
result ``warn``; a problem with the file (``feature`` None, severity ``error``) rejects
it whole; with ``strict`` every problem rejects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from ecomap.errors import ValidationError
from ecomap.i18n import Text, render, tr
from ecomap.units import mu_from_m2

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["Outcome", "Problem", "Report", "feature_labels", "feature_text", "problem_list",
           "stripped_text"]


@dataclass
class Problem:
    """One thing wrong with the input."""

    severity: str  # "error" (feature left out, or the file rejected) or "warning"
    code: str
    message: Text | str  # rendered in the language in force when shown
    feature: int | str | None = None
    field: str | None = None


@dataclass
class Report:
    """Every problem found in one input, in the order found."""

    source: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, severity: str, code: str, message: Text | str, *, feature=None,
            field=None) -> None:
        self.problems.append(Problem(severity, code, message, feature, field))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def file_errors(self) -> list[Problem]:
        return [p for p in self.errors if p.feature is None]

    def status(self, *, accepted: int | None = None, strict: bool = False) -> str:
        """``reject``, ``warn`` or ``accept`` (see the module docstring)."""
        if self.file_errors or accepted == 0 or (strict and self.problems):
            return "reject"
        return "warn" if self.problems else "accept"

    def to_dicts(self, lang: str | None = None) -> list[dict]:
        """The problems as plain dicts, messages rendered in ``lang`` (default: current)."""
        return [{**asdict(p), "message": render(p.message, lang)} for p in self.problems]

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationError` listing every error, if there are any."""
        errors = self.errors
        if errors:
            raise ValidationError(problem_list(self.source, errors), self.problems)



@dataclass
class Outcome:
    """The result of checking one layer: accepted plots, their splits and the report."""

    report: Report
    plots: gpd.GeoDataFrame
    splits: pd.DataFrame
    features: int
    problem_geoms: gpd.GeoDataFrame
    info: dict = field(default_factory=dict)
    strict: bool = False

    @property
    def status(self) -> str:
        return self.report.status(accepted=len(self.plots), strict=self.strict)

    def to_json(self, lang: str | None = None) -> dict:
        """The report as other tools read it (see the README); messages in ``lang``
        (default: the language in force).

        ``accepted_features``, ``area_mu`` and ``by_township`` count what is (or would
        be) stored: nothing when the file is rejected.  ``checked_area_mu`` is the area
        of the features that passed their own checks, stored or not.
        """
        stored = self.status != "reject"
        checked = round(float(mu_from_m2(self.plots["area_m2"].sum())), 4) \
            if len(self.plots) else 0.0
        by_town = self.splits.assign(area_mu=mu_from_m2(self.splits["area_m2"])).groupby(
            self.splits["township"].fillna("(县界外)"), sort=False)["area_mu"].sum() \
            if stored else {}
        return {
            "status": self.status,
            "file": self.info.get("file"),
            "layer": self.info.get("layer"),
            "features": self.features,
            "accepted_features": len(self.plots) if stored else 0,
            "area_mu": checked if stored else 0.0,
            "checked_area_mu": checked,
            "crs": self.info.get("crs"),
            "crs_source": self.info.get("crs_source"),
            "encoding": self.info.get("encoding"),
            "by_township": {str(k): round(float(v), 4) for k, v in by_town.items()},
            "problems": self.report.to_dicts(lang),
        }


def problem_list(source: str, problems: list, *, first: int = 20, fix: Text | str = ""
                 ) -> Text:
    """'FILE: N problems, nothing stored[FIX]:' and the first problems, one a line."""
    lines = "\n".join(f"  - {{p{k}}}" for k in range(min(first, len(problems))))
    params = {f"p{k}": (p["message"] if isinstance(p, dict) else getattr(p, "message", p))
              for k, p in enumerate(problems[:first])}
    more = len(problems) - first
    head = tr("{source}: {n} 个问题, 未入库{fix}:\n",
              "{source}: {n} problem(s), nothing was stored{fix}:\n", source=source,
              n=len(problems), fix=fix)
    tail = tr("\n  … 另有 {more} 个", "\n  … and {more} more", more=more) if more > 0 else ""
    body = Text(lines, lines, **params)
    return tr("{head}{body}{tail}", "{head}{body}{tail}", head=head, body=body, tail=tail)


def feature_labels(frame: pd.DataFrame) -> list:
    """How each feature is named in messages: its 小班号, else its 1-based number."""
    numbers = list(range(1, len(frame) + 1))
    if "plot_id" not in frame:
        return numbers
    text = stripped_text(frame["plot_id"]).tolist()
    return [t if t and t != "nan" else n for t, n in zip(text, numbers, strict=True)]


def stripped_text(values: pd.Series) -> pd.Series:
    """Values as text without surrounding blanks, "" for missing ones."""
    if isinstance(values.dtype, pd.StringDtype):  # text already: no round trip
        return values.fillna("").str.strip()
    obj = values.astype(object)
    return obj.where(obj.notna(), "").astype(str).str.strip()


def feature_text(label) -> Text:
    """A feature as messages name it: 小班 XB001, else 第 3 个要素 (1-based)."""
    if isinstance(label, int):
        return tr("第 {n} 个要素", "feature {n}", n=label)
    return tr("小班 {id}", "plot {id}", id=label)
