"""Progress against targets (任务完成率), year over year, and the sentence a report closes with.

Frames in, frames out: the stored targets (``Store.targets()``) and the township sums of
the stored plots (``Store.township_areas()``).  What was done is counted in each
category's report unit (:attr:`ecomap.schema.Category.report_unit`): 亩, km² for
soil-erosion control, a count of patches.  Only restoration work is shown without a
target; a category without a target is shown with target and rate missing — never as
0 %.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ecomap.i18n import render, tr
from ecomap.schema import CATEGORIES, RESTORATION, category_label, label
from ecomap.targets.read import unit_label
from ecomap.units import DECIMALS, JSON_DECIMALS, M2_PER_KM2, M2_PER_MU, number_text

__all__ = ["PROGRESS_COLUMNS", "YOY_COLUMNS", "done_table", "progress_display",
           "progress_records", "progress_sentence", "progress_table", "yoy_display",
           "yoy_records", "year_over_year"]

#: Columns of :func:`progress_table`.
PROGRESS_COLUMNS = ["township", "category", "year", "unit", "target", "done", "rate",
                    "remaining", "met"]
#: Columns of :func:`year_over_year`.
YOY_COLUMNS = ["township", "category", "year", "unit", "done", "change", "change_pct"]

# Decimals of each report unit, on pages and in JSON.
_SHOWN = {"mu": DECIMALS["mu"], "km2": DECIMALS["km2"], "patches": 0, "areas": 0}
_KEPT = {"mu": JSON_DECIMALS["mu"], "km2": JSON_DECIMALS["km2"], "patches": 0, "areas": 0}
# Float slack when comparing rounded figures.
_EPS = 1e-9


def _unit(code: str) -> str:
    cat = CATEGORIES.get(code)
    return cat.report_unit if cat else "mu"


def done_table(areas: pd.DataFrame) -> pd.DataFrame:
    """What was done, per ``township, category, year``, in each category's report unit.

    ``areas``: ``township, category, year, count, area_m2`` (``Store.township_areas``).
    Returns ``township, category, year, unit, done``.
    """
    if areas.empty:
        return pd.DataFrame(columns=["township", "category", "year", "unit", "done"])
    df = areas.copy()
    df["unit"] = [_unit(c) for c in df["category"]]
    m2 = df["area_m2"].astype(float).to_numpy()
    df["done"] = np.select([df["unit"].eq("mu"), df["unit"].eq("km2")],
                           [m2 / M2_PER_MU, m2 / M2_PER_KM2],
                           df["count"].astype(float).to_numpy())
    df["year"] = df["year"].astype("int64")
    return df[["township", "category", "year", "unit", "done"]].reset_index(drop=True)


def _categories(codes) -> list[str]:
    """Codes in report order (unknown ones last)."""
    codes = set(codes)
    return [c for c in CATEGORIES if c in codes] + sorted(codes - set(CATEGORIES))


def _row(township, category, year, target, done) -> dict:
    if target is None or (isinstance(target, float) and math.isnan(target)):
        return {"township": township, "category": category, "year": year,
                "unit": _unit(category), "target": np.nan, "done": done, "rate": np.nan,
                "remaining": np.nan, "met": None}
    unit = _unit(category)
    # Met as the report prints it: done, rounded as shown, reaches the target.
    digits = _SHOWN.get(unit, 1)
    met = round(done, digits) + _EPS >= round(float(target), digits)
    rate = round(done / target * 100, 1) if target > 0 else np.nan
    if not met and rate >= 100.0:  # short, yet rounding up to 100 %: say 99.9 %
        rate = 99.9
    return {"township": township, "category": category, "year": year, "unit": unit,
            "target": float(target), "done": done, "rate": rate,
            "remaining": 0.0 if met else float(target) - done, "met": bool(met)}


def progress_table(targets: pd.DataFrame, areas: pd.DataFrame, *, year: int,
                   townships=None, by: str = "township") -> pd.DataFrame:
    """Target, done, rate %, remaining and met, per township × category and for the county.

    Parameters
    ----------
    targets
        ``township`` (None: the county as a whole), ``category``, ``year``,
        ``quantity`` (report unit) — ``Store.targets()``.
    areas
        ``Store.township_areas()`` (of ``year`` or of every year).
    year
        The year reported.
    townships
        Township names in the order rows are wanted (default: by name).
    by
        ``"township"``: a row per township and category (those with a target or work
        done) and then the county rows; ``"county"``: the county rows only.

    Returns
    -------
    pandas.DataFrame
        :data:`PROGRESS_COLUMNS`: ``township`` (None on the county rows), ``category``
        (code), ``year``, ``unit`` (report unit code), ``target`` (NaN: no target),
        ``done``, ``rate`` (% to one decimal; NaN without a target or with a target of
        0), ``remaining`` (≥ 0; NaN without a target), ``met`` (bool; None without a
        target).  The county target is the county's own row when the table gives one,
        else the sum of the township targets.
    """
    if by not in ("township", "county"):
        raise ValueError(f"by must be 'township' or 'county', not {by!r}")
    year = int(year)
    t = targets[targets["year"].astype("int64") == year] if len(targets) else targets
    d = done_table(areas)
    d = d[d["year"] == year]
    cats = _categories([*(c for c in d.loc[d["done"] > 0, "category"] if c in RESTORATION),
                        *t.get("category", [])])
    town_target: dict[tuple, float] = {}
    county_target: dict[str, float] = {}
    for r in t.itertuples():
        if r.township is None or (isinstance(r.township, float) and math.isnan(r.township)):
            county_target[r.category] = float(r.quantity)
        else:
            town_target[(r.township, r.category)] = float(r.quantity)
    town_done = d.groupby(["township", "category"])["done"].sum().to_dict()
    county_done = d.groupby("category")["done"].sum().to_dict()
    rows = []
    if by == "township":
        names = list(townships) if townships is not None else sorted(
            {k[0] for k in town_target} | {k[0] for k in town_done})
        for town in names:
            for cat in cats:
                target = town_target.get((town, cat))
                done = float(town_done.get((town, cat), 0.0))
                if target is not None or done > 0:
                    rows.append(_row(town, cat, year, target, done))
    for cat in cats:
        target = county_target.get(cat)
        if target is None:
            split = [v for (_, c), v in town_target.items() if c == cat]
            target = float(sum(split)) if split else None
        rows.append(_row(None, cat, year, target, float(county_done.get(cat, 0.0))))
    frame = pd.DataFrame(rows, columns=PROGRESS_COLUMNS)
    frame = frame.astype({"target": float, "done": float, "rate": float, "remaining": float})
    return _county_as_none(frame)


def year_over_year(areas: pd.DataFrame, *, townships=None, by: str = "township"
                   ) -> pd.DataFrame:
    """Restoration work done per township × category for every stored year, and the
    change from the previous stored year.

    Parameters
    ----------
    areas
        ``Store.township_areas()`` of every year.
    townships, by
        As :func:`progress_table`.

    Returns
    -------
    pandas.DataFrame
        :data:`YOY_COLUMNS`: ``done`` (report unit; 0 in a stored year without such
        work), ``change`` from the previous stored year (NaN in the first), and
        ``change_pct`` (% to one decimal; NaN in the first year and when the previous
        year's is 0).  County rows (``township`` None) come last with ``by="township"``.
    """
    if by not in ("township", "county"):
        raise ValueError(f"by must be 'township' or 'county', not {by!r}")
    d = done_table(areas)
    years = sorted(int(y) for y in d["year"].unique())
    d = d[d["category"].isin(RESTORATION)]
    cats = _categories(d.loc[d["done"] > 0, "category"])
    groups: list[tuple] = []
    if by == "township":
        sums = d.groupby(["township", "category", "year"])["done"].sum()
        names = list(townships) if townships is not None else sorted(
            {k[0] for k in sums.index})
        for town in names:
            for cat in cats:
                series = {y: float(sums.get((town, cat, y), 0.0)) for y in years}
                if any(series.values()):
                    groups.append((town, cat, series))
    county = d.groupby(["category", "year"])["done"].sum()
    for cat in cats:
        groups.append((None, cat, {y: float(county.get((cat, y), 0.0)) for y in years}))
    rows = []
    for town, cat, series in groups:
        prev = None
        for y in years:
            done = series[y]
            change = np.nan if prev is None else done - prev
            pct = (round(change / prev * 100, 1) if prev is not None and prev > 0
                   else np.nan)
            rows.append({"township": town, "category": cat, "year": y, "unit": _unit(cat),
                         "done": done, "change": change, "change_pct": pct})
            prev = done
    frame = pd.DataFrame(rows, columns=YOY_COLUMNS)
    frame = frame.astype({"done": float, "change": float, "change_pct": float})
    return _county_as_none(frame)


def _county_as_none(frame: pd.DataFrame) -> pd.DataFrame:
    """``township`` None (not NaN) on the county rows; ``met`` None without a target."""
    for col in ("township", "met"):
        if col in frame:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


# --- the sentence ----------------------------------------------------------------------
def _amount(value: float, unit: str, lang: str) -> str:
    text = number_text(value, _SHOWN.get(unit, 1))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text}{unit_label(unit, lang)}" if lang == "zh" else \
        f"{text} {unit_label(unit, lang)}"


def progress_sentence(progress: pd.DataFrame, *, lang: str = "zh") -> str:
    """The sentence a report closes its restoration paragraph with.

    "均已完成上级下达任务" when every target of ``progress`` (:func:`progress_table`,
    by township for the townships' shortfalls) is met; otherwise each category and
    township short of its target and by how much (the largest shortfall first), e.g.
    "人工造林完成6,200亩，占任务的95.4%，差300亩（青龙镇差200亩、吉村镇差100亩）", and
    "其余任务均已完成" when other targets are met.  With no target at all: says so.
    A target counts as met when the work done, rounded as the report prints it (亩 to
    one decimal, km² to two), reaches it.
    """
    has = progress[progress["target"].notna()]
    if has.empty:
        return render(tr("未录入上级下达任务", "No targets have been stored"), lang)
    if bool(has["met"].all()):
        return render(tr("均已完成上级下达任务", "All targets assigned from above have been "
                         "met"), lang) + ("。" if lang == "zh" else ".")
    county = has[has["township"].isna()]
    towns = has[has["township"].notna()]
    parts, all_met_elsewhere = [], False
    for cat in _categories(has["category"]):
        c = county[county["category"] == cat]
        short = towns[(towns["category"] == cat) & ~towns["met"].astype(bool)]
        short = short.sort_values("remaining", ascending=False, kind="stable")
        if c.empty or (bool(c["met"].iloc[0]) and short.empty):
            all_met_elsewhere = True
            continue
        unit = c["unit"].iloc[0]
        name = category_label(cat, lang)
        gaps = [(tr("{town}差{gap}", "{town} {gap} short", town=r.township,
                    gap=_amount(r.remaining, unit, lang))) for r in short.itertuples()]
        gaps_text = ("、" if lang == "zh" else ", ").join(render(g, lang) for g in gaps)
        row = c.iloc[0]
        rate = number_text(row["rate"], DECIMALS["pct"]) if pd.notna(row["rate"]) else "—"
        if not bool(row["met"]):
            text = render(tr("{name}完成{done}，占任务的{rate}%，差{gap}",
                             "{name}: {done} done, {rate}% of the target, {gap} short",
                             name=name, done=_amount(row["done"], unit, lang), rate=rate,
                             gap=_amount(row["remaining"], unit, lang)), lang)
            if gaps:
                text += f"（{gaps_text}）" if lang == "zh" else f" ({gaps_text})"
        else:
            text = render(tr("{name}全县完成{done}，占任务的{rate}%，但{gaps}",
                             "{name}: {done} done county-wide, {rate}% of the target, but "
                             "{gaps}", name=name, done=_amount(row["done"], unit, lang),
                             rate=rate, gaps=gaps_text), lang)
        parts.append(text)
    if all_met_elsewhere:
        parts.append(render(tr("其余任务均已完成", "all other targets met"), lang))
    return ("；".join(parts) + "。") if lang == "zh" else ("; ".join(parts) + ".")


# --- tables for people and records for JSON ---------------------------------------------
def _town_label(town, lang: str) -> str:
    return label("county", lang) if town is None or (
        isinstance(town, float) and math.isnan(town)) else str(town)


def _shown(value, unit: str):
    return None if pd.isna(value) else round(float(value), _SHOWN.get(unit, 1))


def progress_display(progress: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """:func:`progress_table` with labelled headers, names for codes, numbers rounded as a
    report prints them, and "无任务" where there is no target."""
    none = render(tr("无任务", "no target"), lang)
    yes, no = render(tr("是", "yes"), lang), render(tr("否", "no"), lang)
    rows = []
    for r in progress.itertuples():
        no_target = pd.isna(r.target)
        rows.append({
            label("township", lang): _town_label(r.township, lang),
            label("category", lang): category_label(r.category, lang),
            label("year", lang): int(r.year),
            label("unit", lang): unit_label(r.unit, lang),
            label("target", lang): none if no_target else _shown(r.target, r.unit),
            label("done", lang): _shown(r.done, r.unit),
            label("rate", lang): "—" if pd.isna(r.rate) else round(float(r.rate), 1),
            label("remaining", lang): "—" if no_target else _shown(r.remaining, r.unit),
            label("met", lang): "—" if r.met is None else (yes if r.met else no),
        })
    return _each_as_written(pd.DataFrame(rows, columns=[label(c, lang)
                                                        for c in PROGRESS_COLUMNS]))


def _each_as_written(frame: pd.DataFrame) -> pd.DataFrame:
    """Number columns as objects, so that a table shows each value with its own decimals
    (6460.0 亩 beside 6.25 km²) rather than all with the most any of them has."""
    for col in frame.columns:
        if pd.api.types.is_float_dtype(frame[col]):
            frame[col] = frame[col].astype(object)
    return frame


def _kept(value, unit: str):
    if value is None or pd.isna(value):
        return None
    digits = _KEPT.get(unit, 2)
    return int(round(float(value))) if digits == 0 else round(float(value), digits)


def progress_records(progress: pd.DataFrame) -> list[dict]:
    """:func:`progress_table` as JSON records: codes, ``township`` null for the county,
    numbers rounded as :data:`ecomap.units.JSON_DECIMALS` (counts as integers), null
    where there is no target."""
    return [{"township": None if pd.isna(r.township) else r.township,
             "category": r.category, "year": int(r.year), "unit": r.unit,
             "target": _kept(r.target, r.unit), "done": _kept(r.done, r.unit),
             "rate": None if pd.isna(r.rate) else round(float(r.rate), JSON_DECIMALS["pct"]),
             "remaining": _kept(r.remaining, r.unit),
             "met": None if r.met is None else bool(r.met)}
            for r in progress.itertuples()]


def yoy_display(yoy: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """:func:`year_over_year` for people: labelled headers, names, rounded numbers."""
    rows = []
    for r in yoy.itertuples():
        rows.append({
            label("township", lang): _town_label(r.township, lang),
            label("category", lang): category_label(r.category, lang),
            label("year", lang): int(r.year),
            label("unit", lang): unit_label(r.unit, lang),
            label("done", lang): _shown(r.done, r.unit),
            label("change", lang): "—" if pd.isna(r.change) else _shown(r.change, r.unit),
            label("change_pct", lang): "—" if pd.isna(r.change_pct) else
            round(float(r.change_pct), 1),
        })
    return _each_as_written(pd.DataFrame(rows, columns=[label(c, lang) for c in YOY_COLUMNS]))


def yoy_records(yoy: pd.DataFrame) -> list[dict]:
    """:func:`year_over_year` as JSON records (codes, rounded numbers, null for none)."""
    return [{"township": None if pd.isna(r.township) else r.township,
             "category": r.category, "year": int(r.year), "unit": r.unit,
             "done": _kept(r.done, r.unit), "change": _kept(r.change, r.unit),
             "change_pct": None if pd.isna(r.change_pct) else round(float(r.change_pct), 1)}
            for r in yoy.itertuples()]
