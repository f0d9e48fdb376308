"""The figures the pages show, formatted as a report prints them: the overview's headline
figures, township × category table and chart, a township's table, the batch list.

Tables in, text out (``units.DECIMALS``, thousands separated); no requests, no store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

from ecomap.schema import CATEGORIES, RESTORATION, category_label, kind_of, label
from ecomap.units import DECIMALS, km2_from_m2, number_text, report_area
from ecomap.web._text import text

__all__ = ["batch_view", "chart_svg", "headline", "local_time", "pivot_view",
           "progress_view", "township_table", "zone_label"]

#: Shown for a zero in a table of figures, as printed statistical tables do.
NONE = "—"


def _mu(value: float) -> str:
    return number_text(value, DECIMALS["mu"]) if round(value, DECIMALS["mu"]) else NONE


def _count(value) -> str:
    return f"{int(value):,}" if value else NONE


# ----------------------------------------------------------------------- the overview
def headline(summary: pd.DataFrame, water: dict | None, lang: str) -> list[dict]:
    """The overview's figures: 修复面积 first, each restoration category in the unit the
    county reports it in, then inspection patches, patrol areas, compensation and water.

    Each figure is ``{"key", "label", "value", "note", "main"}`` (text), and ``apart``
    for those that are not restoration work; the page shows a ``target`` (text) under
    the figure when one is given (none are stored yet).
    """
    zh = lang == "zh"
    by = summary.groupby("category")[["area_mu", "area_m2", "count"]].sum()
    kinds = pd.Series({c: kind_of(c) for c in by.index}, dtype=object)
    works = by[kinds.reindex(by.index) == "restoration"] if len(by) else by
    out = [{"key": "restoration", "label": text("restoration", lang),
            "value": report_area(float(works["area_mu"].sum()), lang=lang),
            "note": text("n_plots", lang, n=f"{int(works['count'].sum()):,}"), "main": True}]
    for code in (c for c in RESTORATION if c in by.index):
        row = by.loc[code]
        if CATEGORIES[code].report_unit == "km2":
            value = number_text(km2_from_m2(row["area_m2"]), DECIMALS["km2"]) + " km²"
        else:
            value = report_area(float(row["area_mu"]), lang=lang)
        out.append({"key": code, "label": category_label(code, lang), "value": value,
                    "note": text("n_plots", lang, n=f"{int(row['count']):,}"), "main": False})
    for code in (c for c in by.index if c not in RESTORATION):
        row, kind = by.loc[code], kind_of(code)
        if kind == "inspection":
            value = f"{int(row['count']):,} " + ("个" if zh else "patches")
            note = report_area(float(row["area_mu"]), lang=lang)
        elif kind == "patrol":
            value, note = f"{int(row['count']):,} " + ("片" if zh else "areas"), ""
        else:
            value = report_area(float(row["area_mu"]), lang=lang)
            note = text("n_plots", lang, n=f"{int(row['count']):,}")
        out.append({"key": code, "label": category_label(code, lang), "value": value,
                    "note": note, "main": False, "apart": True})
    out += _water_figures(water, lang) if water else []
    return out


def progress_view(progress: pd.DataFrame, figures: list[dict], lang: str) -> dict | None:
    """The county's progress against the year's targets (``ecomap.targets.progress_table``
    by township) as a table and its sentence; also puts each category's target and rate
    under its headline figure.  None when no target is stored for the year."""
    from ecomap.targets import progress_sentence, unit_label

    county = progress[progress["township"].isna() & progress["target"].notna()]
    if county.empty:
        return None
    decimals = {"mu": DECIMALS["mu"], "km2": DECIMALS["km2"]}

    def num(value, unit: str) -> str:
        return number_text(value, decimals.get(unit, 0))

    by_code = {f["key"]: f for f in figures}
    rows = []
    for r in county.itertuples():
        rate = f"{r.rate:.{DECIMALS['pct']}f}"
        unit = unit_label(r.unit, lang)
        rows.append([category_label(r.category, lang), unit, num(r.target, r.unit),
                     num(r.done, r.unit), rate, num(r.remaining, r.unit)])
        if r.category in by_code:
            by_code[r.category]["target"] = f"{num(r.target, r.unit)} {unit} · {rate}%"
    head = [label(k, lang) for k in ("category", "unit", "target", "done", "rate",
                                     "remaining")]
    return {"head": head, "rows": rows,
            "sentence": progress_sentence(progress, lang=lang)}


def _water_figures(fig: dict, lang: str) -> list[dict]:
    d, s = fig["drinking"], fig["surface"]
    out = []
    if d["assessed"]:
        out.append({"key": "drinking", "label": text("drinking_ok", lang),
                    "value": f"{d['pct']:.{DECIMALS['pct']}f}%",
                    "note": text("n_of_m", lang, n=d["compliant"], m=d["assessed"]),
                    "main": False, "apart": True})
    if s["classified"]:
        good = f"{s['good_pct']:.{DECIMALS['pct']}f}%"
        out.append({"key": "surface", "label": text("surface_good", lang), "value": good,
                    "note": text("worst_class", lang, n=s["classified"], worst=s["worst"]),
                    "main": False, "apart": True})
    return out


def pivot_view(pivot: pd.DataFrame, lang: str) -> dict:
    """:func:`ecomap.aggregate.township_pivot` as the page shows it: ``cols`` (headers),
    ``rows`` of ``{"name", "link", "total", "cells": [text]}`` and ``main`` (the index of
    the 修复面积 column)."""
    cols = list(pivot.columns)
    county = label("county", lang)
    ints = [pd.api.types.is_integer_dtype(pivot[c]) for c in cols]
    rows = []
    for name, values in pivot.iterrows():
        cells = [_count(v) if is_int else _mu(float(v))
                 for v, is_int in zip(values.tolist(), ints, strict=True)]
        rows.append({"name": str(name), "link": name != county, "total": name == county,
                     "cells": cells})
    main = cols.index(label("restoration_mu", lang)) if label("restoration_mu", lang) in cols \
        else -1
    return {"index": pivot.index.name, "cols": cols, "rows": rows, "main": main}


def chart_svg(summary: pd.DataFrame, towns: list[str], lang: str) -> str:
    """Restoration area (亩) by township, stacked by category, largest first; with its
    legend (inline SVG and HTML; empty without restoration plots)."""
    works = summary[summary["category"].isin(RESTORATION)]
    codes = [c for c in RESTORATION if c in set(works["category"])]
    if not codes:
        return ""
    from ecomap.aggregate import township_totals
    from ecomap.maps._style import category_color
    from ecomap.maps.charts import bar_chart, chart_legend
    labels = {c: category_label(c, lang) for c in codes}
    colors = {labels[c]: category_color(c) for c in codes}
    by_town = works.groupby(["township", "category"])["area_mu"].sum()
    totals = township_totals(summary, townships=towns)
    order = totals[totals["area_mu"] > 0].sort_values("area_mu", ascending=False,
                                                       kind="stable")["township"]
    rows = [(t, [(labels[c], float(by_town.get((t, c), 0.0))) for c in codes]) for t in order]
    width = max(len(str(t)) for t in order) * 13 + 20 if len(order) else 80
    return bar_chart(rows, colors, width=1000, bar=20, label_w=max(width, 80)) + \
        chart_legend(codes, lang)


# ----------------------------------------------------------------------- a township
def township_table(summary: pd.DataFrame, name: str, lang: str) -> dict:
    """One township's figures: each year's restoration categories (plots, 亩, ha) and
    their total — labelled with the township's name, never 全县 —, the total of all the
    years shown, then the other kinds (inspection patches, patrol areas) apart.

    Returns ``{"cols", "rows": [{"cells", "total"}]}``.
    """
    part = summary[summary["township"] == name]
    cols = [label(c, lang) for c in ("category", "year", "count", "area_mu", "area_ha")]

    def row(r) -> dict:
        return {"total": False, "cells": [category_label(r.category, lang), str(r.year),
                                          f"{int(r.count):,}",
                                          number_text(r.area_mu, DECIMALS["mu"]),
                                          number_text(r.area_ha, DECIMALS["ha"])]}

    restoration = part["category"].isin(RESTORATION)
    works = part[restoration]
    years = sorted(set(works["year"]))

    def total(span: str, g: pd.DataFrame) -> dict:
        return {"total": True, "cells": [
            text("township_total", lang, name=name), span, f"{int(g['count'].sum()):,}",
            number_text(g["area_mu"].sum(), DECIMALS["mu"]),
            number_text(g["area_ha"].sum(), DECIMALS["ha"])]}

    rows = []
    for y in years:  # each year's categories, then its total
        g = works[works["year"] == y]
        rows += [row(r) for r in g.itertuples()] + [total(str(y), g)]
    if len(years) > 1:
        rows.append(total(f"{years[0]}–{years[-1]}", works))
    # Inspection patches, patrol areas …: after the total, never in it.
    rows += [row(r) for r in part[~restoration].sort_values("year", kind="stable").itertuples()]
    return {"cols": cols, "rows": rows}


# ----------------------------------------------------------------------- batches
def local_time(utc: str | None, zone: str) -> str:
    """A stored UTC time (``2026-12-07T13:10:00Z``) in the time zone ``zone``, to the
    minute: ``2026-12-07 21:10``."""
    if not utc:
        return ""
    try:
        t = datetime.fromisoformat(str(utc).replace("Z", "+00:00"))
    except ValueError:
        return str(utc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M")


def zone_label(zone: str) -> str:
    """The offset of the time zone ``zone`` today, as people read it: ``UTC+8``."""
    minutes = int(datetime.now(_zone(zone)).utcoffset().total_seconds() // 60)
    sign, minutes = ("+" if minutes >= 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def _zone(name: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # No time-zone database (Windows without tzdata): China has kept +8 since 1991.
        if name in ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "PRC"):
            return timezone(timedelta(hours=8))
        return UTC


_KINDS = {"plots": ("图斑", "plots"), "water": ("水质监测", "water quality"),
          "county": ("县界", "county boundary"), "townships": ("乡镇界", "township boundaries"),
          "targets": ("上级下达任务", "targets"), "water_sites": ("水质监测点", "water sites"),
          "water_samples": ("水质样品", "water samples")}


def batch_view(record: dict, zone: str, lang: str) -> dict:
    """A batch as the batch list shows it: kind and category named, local time, 亩 to
    one decimal (``batch_records`` gives the stored values)."""
    kind = record.get("kind")
    area = record.get("area_mu")
    return {**record,
            "kind_name": _KINDS.get(kind, (kind, kind))[0 if lang == "zh" else 1],
            "category_name": category_label(record["category"], lang)
            if record.get("category") else "",
            "time": local_time(record.get("created_at"), zone),
            "area_text": number_text(area, DECIMALS["mu"])
            if area is not None else ""}
