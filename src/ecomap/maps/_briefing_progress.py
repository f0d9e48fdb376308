"""The briefing's section on targets: the sentence, completion by category and by
township, and the work of the last years as a chart.

Frames in (:func:`ecomap.targets.progress_table` by township, and
:func:`ecomap.targets.year_over_year` by county), HTML out.
"""

from __future__ import annotations

import html

import pandas as pd

from ecomap.maps import _style
from ecomap.maps.charts import bar_chart, chart_legend
from ecomap.schema import RESTORATION, category_label, label
from ecomap.targets.progress import progress_sentence
from ecomap.targets.read import unit_label
from ecomap.units import M2_PER_KM2, M2_PER_MU

__all__ = ["progress_section"]

_TEXT = {
    "by_category": ("全县任务完成情况", "County targets"),
    "by_township": ("各乡镇任务完成率(%)", "Completion by township (%)"),
    "no_target": ("无任务", "no target"),
    "years": ("近年各类别修复面积(亩)", "Restoration area of recent years (mu)"),
    "county_only": ("未分解到乡镇的任务只在全县计", "tasks not split among townships count "
                                               "for the county only"),
}

#: Decimals of each report unit, as a report prints them.
_DECIMALS = {"mu": 1, "km2": 2, "patches": 0, "areas": 0}


def _t(key: str, lang: str) -> str:
    zh, en = _TEXT[key]
    return zh if lang == "zh" else en


def _num(value, unit: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{float(value):,.{_DECIMALS.get(unit, 1)}f}"


def _table(head: list[str], rows: list[list[str]], classes: str) -> str:
    cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                    for r in rows)
    return (f'<table class="{classes}"><thead><tr>'
            + "".join(f"<th>{html.escape(h)}</th>" for h in head)
            + f"</tr></thead><tbody>{cells}</tbody></table>")


def _county_table(progress: pd.DataFrame, lang: str) -> str:
    county = progress[progress["township"].isna() & progress["target"].notna()]
    head = [label(k, lang) for k in ("category", "unit", "target", "done", "rate",
                                     "remaining")]
    rows = [[category_label(r.category, lang), unit_label(r.unit, lang), _num(r.target, r.unit),
             _num(r.done, r.unit), f"{r.rate:.1f}", _num(r.remaining, r.unit)]
            for r in county.itertuples()]
    return _table(head, rows, "ecomap-table")


def _township_table(progress: pd.DataFrame, towns: list[str], lang: str) -> str:
    town_rows = progress[progress["township"].notna()]
    codes = [c for c in RESTORATION if c in set(town_rows.loc[town_rows["target"].notna(),
                                                              "category"])]
    if not codes:
        return ""
    rate = town_rows.set_index(["township", "category"])["rate"]
    names = [t for t in towns if t in set(town_rows["township"])]
    rows = [[t] + ["—" if pd.isna(rate.get((t, c))) else f"{rate.get((t, c)):.1f}"
                   for c in codes] for t in names]
    head = [label("township", lang)] + [category_label(c, lang) for c in codes]
    return (f"<figure><figcaption>{html.escape(_t('by_township', lang))}</figcaption>"
            + _table(head, rows, "ecomap-table ecomap-wide") + "</figure>")


def _years_chart(history: pd.DataFrame, lang: str) -> str:
    county = history[history["township"].isna()] if "township" in history else history
    county = county[county["category"].isin(RESTORATION)]
    if county["year"].nunique() < 2:
        return ""
    codes = [c for c in RESTORATION if c in set(county["category"])]
    labels = {c: category_label(c, lang) for c in codes}
    colors = {labels[c]: _style.category_color(c) for c in codes}
    # Every restoration category in 亩 (soil erosion is reported in km²: 1 km² = 1500 亩),
    # so that a year's bar is its 修复面积.
    done = county["done"] * county["unit"].map({"km2": M2_PER_KM2 / M2_PER_MU}).fillna(1.0)
    done = done.set_axis(pd.MultiIndex.from_frame(county[["year", "category"]]))
    rows = [(str(int(y)), [(labels[c], float(done.get((y, c), 0.0))) for c in codes])
            for y in sorted(county["year"].unique())]
    return (f"<figure><figcaption>{html.escape(_t('years', lang))}</figcaption>"
            f"{bar_chart(rows, colors, label_w=60)}{chart_legend(codes, lang)}</figure>")


def progress_section(heading: str, progress: pd.DataFrame, history: pd.DataFrame | None,
                     towns: list[str], *, lang: str = "zh") -> str:
    """The section: ``heading``, the sentence, the county table, the township rates and
    the chart of the last years (when more than one year is stored)."""
    sentence = progress_sentence(progress, lang=lang)
    body = (f'<div class="ecomap-keep"><h2>{html.escape(heading)}</h2>'
            f"<p>{html.escape(sentence)}</p>"
            f"<figure><figcaption>{html.escape(_t('by_category', lang))}</figcaption>"
            f"{_county_table(progress, lang)}</figure></div>"
            f"{_township_table(progress, towns, lang)}")
    if history is not None and len(history):
        body += _years_chart(history, lang)
    return body
