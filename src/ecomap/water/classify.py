"""Classify samples and sites by GB 3838-2002 and assess them against their targets.

The rules are numbered in :mod:`ecomap.water`; the functions here apply them and refer
back there.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from ecomap.errors import InputError, ValidationError
from ecomap.i18n import tr
from ecomap.water.columns import normalize_samples, problem
from ecomap.water.gb3838 import CLASSES, MEASURES, PARAMETERS, Parameter, class_rank

__all__ = ["annual_site_classes", "classify_samples", "compliance"]

log = logging.getLogger(__name__)

_TOL = 1e-9
_REFERENCE = ("fecal_coliform",)          # classified apart, never counted (rule 2)
_UNCOUNTED = {"temp", *_REFERENCE}


# ---------------------------------------------------------------- classify
def _ranks(v: np.ndarray, below: np.ndarray, p: Parameter) -> np.ndarray:
    if p.direction == "range":
        lo, hi = p.limits[0]
        rank = np.where((v >= lo * (1 - _TOL)) & (v <= hi * (1 + _TOL)), 1.0, 6.0)
    else:
        rank = np.full(v.shape, 6.0)
        for k in range(4, -1, -1):
            lim = p.limits[k]
            rank[v <= lim * (1 + _TOL) if p.direction == "max" else v >= lim * (1 - _TOL)] = k + 1
        if p.direction == "max":
            rank[below & np.isnan(v)] = 1.0
        else:
            rank[below] = 6.0
    rank[np.isnan(v) & ~below] = np.nan
    return rank


def _param_for(code: str, lake: bool) -> Parameter:
    return PARAMETERS["TP_lake" if code == "TP" and lake else code]


def _ratio(p: Parameter, v: float, k: int) -> float:
    """How far ``v`` lies beyond the limit of class index ``k`` (1.0 = at the limit)."""
    if p.direction == "range":
        lo, hi = p.limits[k]
        return max(v / hi, lo / v) if v > 0 else math.inf
    return v / p.limits[k] if p.direction == "max" else p.limits[k] / v if v > 0 else math.inf


def _names(ranks: np.ndarray) -> list:
    return [None if np.isnan(x) else CLASSES[int(x) - 1] for x in ranks]


def _classify(values: pd.DataFrame, below: pd.DataFrame, waterbody: pd.Series,
              where: pd.Series) -> pd.DataFrame:
    """Class columns for rows of values (the DL where ``below``); rules 1, 2 and 4."""
    codes = [c for c in PARAMETERS if c in values and c not in _UNCOUNTED]
    lake = waterbody.eq("lake").to_numpy(dtype=bool)
    need = values[[c for c in ("TP", "TN") if c in codes]].notna().any(axis=1).to_numpy()
    if (bad := need & waterbody.isna().to_numpy()).any():
        rows = where[bad].tolist()
        listed = ", ".join(rows[:10])
        more = tr(" … (共 {n} 行)", " … ({n} in all)", n=len(rows)) if len(rows) > 10 else ""
        raise InputError(tr(
            "河流与湖库的总磷、总氮限值不同, 但 {listed}{more} 没有点位类型; 请填写 点位类型 "
            "(河流/湖库/饮用水源), 或用 --waterbody river/lake 指定",
            "TP/TN limits differ for rivers and lakes but {listed}{more} have no site type; "
            "fill 点位类型 (河流/湖库/饮用水源) or pass waterbody='river' or 'lake' "
            "(--waterbody)", listed=listed, more=more))

    def ranks_of(code: str) -> np.ndarray:
        v = values[code].to_numpy(dtype=float)
        b = below[code].to_numpy(dtype=bool) if code in below else np.zeros(len(v), bool)
        r = _ranks(v, b, PARAMETERS[code])
        return np.where(lake, _ranks(v, b, PARAMETERS["TP_lake"]), r) if code == "TP" else r

    ranks = pd.DataFrame({c: np.where(lake, ranks_of(c), np.nan) if c == "TN" else ranks_of(c)
                          for c in codes}, index=values.index, dtype=float)
    worst = ranks.max(axis=1).to_numpy() if codes else np.full(len(values), np.nan)
    deciding = []
    for i, idx in enumerate(values.index):
        hits = [c for c in codes if worst[i] > 1 and ranks.at[idx, c] == worst[i]]
        deciding.append(sorted(hits, key=lambda c, i=i, idx=idx: -_ratio(
            _param_for(c, lake[i]), values.at[idx, c], int(worst[i]) - 2)))
    out = pd.DataFrame({f"class_{c}": _names(ranks[c].to_numpy()) for c in codes},
                       index=values.index, dtype=object)
    for code in (c for c in _REFERENCE if c in values):
        out[f"class_{code}"] = _names(ranks_of(code))
    out["class"] = _names(worst)
    out["class_rank"] = pd.array([None if np.isnan(x) else int(x) for x in worst], dtype="Int64")
    out["deciding"] = ["、".join(_param_for(c, lk).label for c in d)
                       for d, lk in zip(deciding, lake, strict=True)]
    out["deciding_codes"] = [",".join(d) for d in deciding]
    return out


def _assess(out: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """``meets_target``, ``exceedances`` and ``exceedance_text`` (rule 6)."""
    target = out.get("target_class", pd.Series(None, out.index, dtype=object))
    ranks = [class_rank(t) for t in target]
    out["meets_target"] = pd.array([None if r is None or pd.isna(c) else bool(c <= r)
                                    for c, r in zip(out["class_rank"], ranks, strict=True)],
                                   dtype="boolean")
    out["exceedances"] = [_exceedances(values.loc[i], out.loc[i], r)
                          for i, r in zip(out.index, ranks, strict=True)]
    out["exceedance_text"] = ["、".join(PARAMETERS[c].label + ("" if m is None else f"({m:.2f})")
                                       for c, m in e.items()) for e in out["exceedances"]]
    return out


def _exceedances(values: pd.Series, row: pd.Series, target: int | None) -> dict:
    """超标倍数 of the parameters worse than the target class, largest first (None last)."""
    found: dict[str, float | None] = {}
    for code in values.index if target is not None else ():
        cls = row.get(f"class_{code}")
        if code not in _UNCOUNTED and isinstance(cls, str) and class_rank(cls) > target:
            p = _param_for(code, row.get("waterbody") == "lake")
            found[code] = _ratio(p, values[code], target - 1) - 1 if p.direction == "max" else None
    return dict(sorted(found.items(), key=lambda kv: (kv[1] is None, -(kv[1] or 0))))


def classify_samples(samples: pd.DataFrame, *, waterbody: str | None = None) -> pd.DataFrame:
    """GB 3838-2002 class of each sample by the single-factor method (rules 1, 2, 4, 6).

    Parameters
    ----------
    samples
        Output of :func:`normalize_samples`.
    waterbody
        "river" or "lake" for every row; by default each row's ``waterbody`` column
        (rule 3).  Rows with TP or TN but no known waterbody raise InputError.

    Returns
    -------
    pandas.DataFrame
        ``samples`` plus ``class_<code>`` per counted parameter present (I…劣V; missing
        when not measured; ``class_TN`` only for lakes) and ``class_fecal_coliform``
        (reference only), ``class``, ``class_rank`` (1…6), ``deciding`` — the Chinese
        names of the parameters at the sample's class, joined by "、", the one furthest
        beyond the next better class's limit first; empty for class I — and
        ``deciding_codes`` (the same codes, comma-joined); with a ``target_class``
        column also ``meets_target``, ``exceedances`` and ``exceedance_text`` as in
        :func:`annual_site_classes`.
    """
    if waterbody not in (None, "river", "lake"):
        raise InputError(tr("waterbody={waterbody!r}; 请用 'river' (河流) 或 'lake' (湖库)",
                            "waterbody={waterbody!r}; use 'river' or 'lake'",
                            waterbody=waterbody))
    below = samples[[c for c in samples if c.endswith("_below_dl")]]
    below = below.rename(columns=lambda c: c.removesuffix("_below_dl"))
    bodies = pd.Series(waterbody, index=samples.index, dtype=object)
    if waterbody is None and "waterbody" in samples:
        bodies = samples["waterbody"].astype(object)
    rows = samples["source_row"] if "source_row" in samples else samples.index.to_series()
    classes = _classify(samples, below, bodies, "row " + rows.astype(str))
    out = pd.concat([samples.drop(columns=classes.columns, errors="ignore"), classes], axis=1)
    if "target_class" in samples:
        out = _assess(out.assign(waterbody=bodies), samples)
    return out


# ---------------------------------------------------------------- annual
_SITE_COLUMNS = ["site_type", "waterbody", "river", "township", "target_class", "lon", "lat"]


def _site_meta(data: pd.DataFrame, sites: pd.DataFrame | None) -> pd.DataFrame:
    """Site attributes by name: ``sites`` (raw or normalised) over those in the samples."""
    meta = data.groupby("site_name")[[c for c in _SITE_COLUMNS if c in data]].first()
    if sites is None:
        return meta
    if "site_name" not in sites:
        sites, problems = normalize_samples(sites)
        problems = [p for p in problems if p["severity"] == "error"]
        if problems:
            raise ValidationError(tr("点位表有 {n} 个问题", "site table has {n} problem(s)",
                                     n=len(problems)), problems)
    if len(dup := sites["site_name"][sites["site_name"].duplicated()]):
        raise ValidationError(tr("点位表中有重复的点位", "site table lists a site twice"), [
            problem(None, "site_name", "duplicate_site", tr(
                "断面「{s}」在点位表中出现多次；请合并为一行",
                "site “{s}” is listed more than once in the site table; keep one row", s=s))
            for s in dup.unique()])
    own = sites.dropna(subset=["site_name"]).set_index("site_name")
    return own[[c for c in _SITE_COLUMNS if c in own]].combine_first(meta)


def annual_site_classes(samples: pd.DataFrame, sites: pd.DataFrame | None = None, *,
                        year: int | None = None) -> pd.DataFrame:
    """Annual class of each site from the mean of its samples, and whether it meets its target.

    Parameters
    ----------
    samples
        Output of :func:`normalize_samples` with ``site_name`` (and ``date`` to tell
        years apart).
    sites
        Site table (raw headers or normalised) whose type, waterbody, river, township,
        target and coordinates override those in ``samples``; its sites without samples
        are listed with ``n_samples`` 0 and no class.
    year
        Keep this year's samples only; by default one row per site and year.

    Returns
    -------
    pandas.DataFrame
        ``site_name``, ``year``, the site columns, ``n_samples``, each measure's annual
        mean (rule 5) with ``<code>_below_dl`` (True when no sample was above detection),
        ``detection_limits`` ({code: largest DL} of those), the columns of
        :func:`classify_samples`, ``meets_target`` (missing without a target or data),
        ``exceedances`` ({code: 超标倍数} for the parameters worse than the target,
        largest first; None for DO and pH) and ``exceedance_text`` (e.g.
        "总磷(0.25)、溶解氧").
    """
    if "site_name" not in samples:
        raise InputError(tr("样品表没有点位列; 请在表中加上 断面名称/点位名称",
                            "samples have no site column; add 断面名称/点位名称 to the table"))
    if (nameless := samples["site_name"].isna()).any():
        rows = samples.get("source_row", samples.index.to_series())[nameless]
        raise ValidationError(tr("{n} 个样品没有断面名称", "{n} sample(s) have no site name",
                                 n=int(nameless.sum())), [problem(
            int(r), "site_name", "missing_value", tr(
                "第{row}行没有断面名称；请填写", "row {row} has no 断面名称 (site name); fill it in",
                row=r)) for r in rows])
    if "date" not in samples and year is not None:
        raise InputError(tr("按年度 ({year}) 统计需要样品表有 采样日期 列",
                            "year={year} needs a 采样日期 (date) column in the samples",
                            year=year))
    years = samples["date"].dt.year if "date" in samples else pd.Series(np.nan, samples.index)
    data = samples.assign(year=years.astype("Int64"))
    if year is not None:
        if undated := int(data["year"].isna().sum()):
            log.warning("%s", tr("{n} 个样品没有采样日期, 未计入 {year} 年",
                                 "{n} sample(s) without a 采样日期 left out of year {year}",
                                 n=undated, year=year))
        data = data[data["year"].eq(year).fillna(False).astype(bool)]
    parts = {}
    for code in (c for c in MEASURES if c in data):
        v = data[code].to_numpy(dtype=float)
        b = data.get(f"{code}_below_dl", pd.Series(False, data.index)).to_numpy(dtype=bool)
        parts.update({f"{code}|mean": np.where(b, np.nan_to_num(v) / 2, v),
                      f"{code}|n": ~np.isnan(v) | b, f"{code}|b": b,
                      f"{code}|dl": np.where(b, v, np.nan)})
    how = {c: {"mean": "mean", "dl": "max"}.get(c.split("|")[1], "sum") for c in parts}
    grouped = pd.DataFrame(parts, index=data.index).groupby(
        [data["site_name"], data["year"]], dropna=False, sort=True)
    agg = grouped.agg(how) if parts else pd.DataFrame(index=grouped.size().index)
    annual, dls = grouped.size().rename("n_samples").to_frame(), {}
    for code in (c.split("|")[0] for c in parts if c.endswith("|n")):
        all_below = agg[f"{code}|b"].eq(agg[f"{code}|n"]) & agg[f"{code}|n"].gt(0)
        dls[code] = agg[f"{code}|dl"].where(all_below)
        annual[code], annual[f"{code}_below_dl"] = agg[f"{code}|mean"], all_below
        annual[f"{code}|value"] = agg[f"{code}|mean"].where(~all_below, agg[f"{code}|dl"])
    annual["detection_limits"] = [{c: v for c, v in r.items() if v == v} for r in
                                  pd.DataFrame(dls, index=annual.index).to_dict("records")]
    annual = annual.reset_index().merge(_site_meta(data, sites).reset_index(), on="site_name",
                                        how="left" if sites is None else "outer")
    annual["n_samples"] = annual["n_samples"].fillna(0).astype(int)
    annual["detection_limits"] = [d if isinstance(d, dict) else {}
                                  for d in annual["detection_limits"]]
    known = data["year"].dropna().unique()  # sites without samples: the year reported on
    if year is not None or len(known) == 1:
        annual.loc[annual["n_samples"].eq(0), "year"] = year if year is not None else known[0]
    flags = [c for c in annual if c.endswith("_below_dl")]
    annual[flags] = annual[flags].eq(True)
    hidden = [c for c in annual if c.endswith("|value")]
    values = annual[hidden].rename(columns=lambda c: c.split("|")[0])
    below = annual[flags].rename(columns=lambda c: c.removesuffix("_below_dl"))
    annual = annual.drop(columns=hidden)
    first = ["site_name", "year", *(c for c in _SITE_COLUMNS if c in annual)]
    annual = annual[first + [c for c in annual if c not in first]]
    bodies = annual["waterbody"] if "waterbody" in annual else pd.Series(None, annual.index)
    out = pd.concat([annual, _classify(values, below, bodies.astype(object),
                                       "site " + annual["site_name"].astype(str))], axis=1)
    return _assess(out, values)


# ---------------------------------------------------------------- compliance
def compliance(site_classes: pd.DataFrame, *, by: str | None = "township") -> pd.DataFrame:
    """Share of sites meeting their water-quality target, per group and for the county.

    Parameters
    ----------
    site_classes
        Output of :func:`annual_site_classes`.
    by
        Column to group by (``township`` by default, or e.g. ``river``); None for the
        county only.

    Returns
    -------
    pandas.DataFrame
        ``scope`` ("surface" for river and lake sections, "drinking" for drinking-water
        sources, always counted apart), ``year`` when present, the ``by`` column (or
        ``area``): each group, sites without a value as "(未填写)", then "全县" —
        ``sites`` (assessed: class and target known), ``compliant``, ``not_assessed``
        and ``compliance_pct`` (0.1 precision; missing when no site was assessed).
    """
    if "meets_target" not in site_classes:
        raise InputError(tr("没有 meets_target 列; 请传入 annual_site_classes() 的结果",
                            "no meets_target column; pass the result of "
                            "annual_site_classes()"))
    if by is not None and by not in site_classes:
        raise InputError(tr("没有用于分组的 {by!r} 列; 请在点位表中加上 乡镇, 或先按位置关联乡镇, "
                            "或用 by=None 只统计全县",
                            "no {by!r} column to group by; add 乡镇 to the site table, join "
                            "townships by location first, or use by=None for the county only",
                            by=by))
    meets = site_classes["meets_target"].astype("boolean")
    stype = site_classes.get("site_type", pd.Series(None, site_classes.index, dtype=object))
    d = pd.DataFrame({
        "scope": np.where(stype.eq("drinking"), "drinking", "surface"),
        "group": site_classes[by].astype(object).where(site_classes[by].notna(), "(未填写)")
        if by else "全县",
        "sites": meets.notna().to_numpy(), "compliant": meets.fillna(False).to_numpy(dtype=bool),
        "not_assessed": meets.isna().to_numpy()}, index=site_classes.index)
    keys = ["scope", "group"]
    if "year" in site_classes:
        d["year"], keys = site_classes["year"], ["scope", "year", "group"]
    out = pd.concat([p.groupby(keys, dropna=False)[["sites", "compliant", "not_assessed"]]
                     .sum().reset_index() for p in ([d] if by else []) + [d.assign(group="全县")]])
    out = out.assign(_d=out["scope"].eq("drinking"), _c=out["group"].eq("全县")).sort_values(
        ["_d", *keys[1:-1], "_c", "group"], kind="stable").drop(columns=["_d", "_c"])
    pct = (100 * out["compliant"] / out["sites"].where(out["sites"] > 0)).round(1)
    return out.assign(compliance_pct=pct).rename(columns={"group": by or "area"}).reset_index(
        drop=True)
