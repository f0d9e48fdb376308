"""Water-quality results as tables for people (CSV/XLSX in the style of the county's
monitoring reports), as JSON records, and as the report's headline figures."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ecomap.i18n import render
from ecomap.water.gb3838 import CLASSES, MEASURES, PARAMETERS, class_rank

__all__ = ["classified_records", "compliance_table", "headline_figures", "headline_text",
           "sample_table", "site_table"]

_TYPES = {"river": ("河流", "river"), "lake": ("湖库", "lake/reservoir"),
          "drinking": ("饮用水源", "drinking-water source")}
_HEADERS = {  # column → (zh, en)
    "source_row": ("行号", "Row"), "site_name": ("点位名称", "Site"),
    "date": ("采样日期", "Date"), "site_type": ("点位类型", "Type"),
    "waterbody": ("水体", "Waterbody"), "river": ("河流", "River"),
    "township": ("乡镇", "Township"), "year": ("年度", "Year"),
    "n_samples": ("样品数", "Samples"), "target_class": ("水质目标", "Target"),
    "class": ("水质类别", "Class"), "meets_target": ("是否达标", "Meets target"),
    "deciding": ("定类因子", "Deciding parameters"),
    "exceedance_text": ("主要超标项目(超标倍数)", "Exceeding target (multiple)"),
    "problems": ("问题", "Problems"),
}


def _label(code: str, lang: str) -> str:
    if code == "temp":
        return "水温(℃)" if lang == "zh" else "temp (°C)"
    p = PARAMETERS[code]
    unit = "" if p.unit == "-" else f"({p.unit})"
    return f"{p.label}{unit}" if lang == "zh" else f"{code} {unit}".strip()


def _yes_no(v: Any, zh: bool) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return ("是" if v else "否") if zh else ("yes" if v else "no")


def _number(v: float) -> float:
    """Four significant digits, as monitoring reports print means."""
    return v if not v or math.isnan(v) else float(f"{v:.4g}")


def _people(frame: pd.DataFrame, cols: list[str], lang: str) -> pd.DataFrame:
    zh = lang == "zh"
    out = pd.DataFrame({c: frame[c] for c in cols if c in frame}, index=frame.index)
    if "date" in out:
        out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    for col, names in (("site_type", _TYPES), ("waterbody", _TYPES)):
        if col in out:
            out[col] = out[col].map(lambda t, n=names: n.get(t, (t, t))[0 if zh else 1])
    if "meets_target" in out:
        out["meets_target"] = out["meets_target"].map(lambda v: _yes_no(v, zh))
    if "deciding" in out and not zh and "deciding_codes" in frame:
        out["deciding"] = frame["deciding_codes"].str.replace(",", ", ")
    if "year" in out:
        out["year"] = out["year"].astype("Int64")
    return out


def site_table(sites: pd.DataFrame, *, lang: str = "zh", means: bool = False) -> pd.DataFrame:
    """Sites with their annual class, target and main exceedances, for people (CSV, XLSX).

    ``sites`` is :func:`ecomap.water.annual_site_classes` output (or
    :func:`ecomap.api.water_site_classes`, whose class column is ``water_class``);
    ``means`` adds each parameter's annual mean ("0.00004L": below detection in every
    sample, at that detection limit).
    """
    sites = sites.rename(columns={"water_class": "class"})
    cols = ["site_name", "site_type", "river", "township", "year", "n_samples", "target_class",
            "class", "meets_target", "deciding", "exceedance_text"]
    out = _people(sites, cols, lang)
    for code in (c for c in MEASURES if means and c in sites):
        below = sites.get(f"{code}_below_dl", pd.Series(False, sites.index)).eq(True)
        dls = sites.get("detection_limits", pd.Series([{}] * len(sites), sites.index))
        out[_label(code, lang)] = [
            (f"{d[code]:g}L" if isinstance(d, dict) and code in d else "ND") if b
            else _number(v) for v, b, d in zip(sites[code], below, dls, strict=True)]
    return _blanks(out).rename(columns={c: n[0 if lang == "zh" else 1]
                                        for c, n in _HEADERS.items()})


def sample_table(classified: pd.DataFrame, problems: list[dict] | None = None, *,
                 lang: str = "zh") -> pd.DataFrame:
    """One row per classified sample, in input order: row, site, date, class, deciding
    parameters, target assessment and the problems found in the row's cells."""
    cols = ["source_row", "site_name", "date", "waterbody", "target_class", "class",
            "deciding", "meets_target", "exceedance_text"]
    out = _people(classified, cols, lang)
    if "class" not in out:
        out["class"] = None
    by_row: dict[int, list[str]] = {}
    for p in problems or []:
        if p.get("feature") is not None:
            by_row.setdefault(int(p["feature"]), []).append(render(p["message"], lang))
    if "source_row" in classified:
        out["problems"] = ["；".join(by_row.get(int(r), [])) for r in classified["source_row"]]
    return _blanks(out).rename(columns={c: n[0 if lang == "zh" else 1]
                                        for c, n in _HEADERS.items()})


def _blanks(out: pd.DataFrame) -> pd.DataFrame:
    """Missing cells as empty text, as a printed report leaves them."""
    return out.astype(object).where(out.notna(), "")


def classified_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready records of classified samples or sites, with English keys: identity,
    ``class``, ``meets_target``, ``deciding`` (codes), ``exceedances`` ({code:
    multiple}), ``values`` ({code: value or annual mean}) and ``below_dl`` (codes)."""
    keys = ["source_row", "site_name", "date", "year", "site_type", "waterbody", "river",
            "township", "target_class", "n_samples"]
    frame = frame.rename(columns={"water_class": "class"})
    out = []
    for _, r in frame.iterrows():
        rec = {k: _plain(r[k]) for k in keys if k in frame}
        if "date" in rec and rec["date"] is not None:
            rec["date"] = pd.Timestamp(rec["date"]).strftime("%Y-%m-%d")
        rec["class"] = _plain(r.get("class"))
        rec["meets_target"] = _plain(r.get("meets_target"))
        codes = r.get("deciding_codes")
        rec["deciding"] = codes.split(",") if isinstance(codes, str) and codes else []
        ex = r.get("exceedances")
        rec["exceedances"] = {k: _plain(v) for k, v in ex.items()} if isinstance(ex, dict) else {}
        rec["values"] = {c: _plain(r[c]) for c in MEASURES if c in frame and _plain(r[c])
                         is not None}
        rec["below_dl"] = [c for c in MEASURES if r.get(f"{c}_below_dl") is True
                           or r.get(f"{c}_below_dl") == 1]
        out.append(rec)
    return out


def _plain(v: Any) -> Any:
    """A JSON value; floats without the noise of their arithmetic (a mean of 0.1 and
    0.3 is 0.2, not 0.19999999999999998): twelve significant digits, more than any
    measurement carries."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.12g}")
    return v


def compliance_table(table: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """:func:`ecomap.water.compliance` with Chinese (or English) headers and scopes."""
    zh = lang == "zh"
    names = {"scope": ("类型", "Scope"), "year": ("年度", "Year"), "township": ("乡镇", "Township"),
             "river": ("河流", "River"), "area": ("区域", "Area"),
             "sites": ("评价点位数", "Sites assessed"), "compliant": ("达标点位数", "Compliant"),
             "not_assessed": ("未评价点位数", "Not assessed"),
             "compliance_pct": ("达标率(%)", "Compliance (%)")}
    scopes = {"surface": ("地表水", "surface water"), "drinking": ("饮用水源", "drinking water")}
    out = table.assign(scope=table["scope"].map(lambda s: scopes.get(s, (s, s))[0 if zh else 1]))
    if "year" in out:
        out["year"] = out["year"].astype("Int64")
    return out.rename(columns={c: n[0 if zh else 1] for c, n in names.items()})


def headline_figures(site_classes: pd.DataFrame) -> dict:
    """The figures the county's report states, from annual site classes of one year.

    Returns ``{"drinking": {"sites", "assessed", "compliant", "pct"}, "surface":
    {"sites", "classified", "worst", "by_class", "good_pct", "assessed", "compliant",
    "pct"}}``: drinking-water sources meeting their target, and the river and lake
    sections (drinking sources apart) by class — ``worst`` class, count ``by_class``,
    ``good_pct`` the share in classes I–III (优良).  Percentages are None without sites.
    """
    df = site_classes.rename(columns={"water_class": "class"})
    drinking = df.get("site_type", pd.Series(None, df.index, dtype=object)).eq("drinking")
    out = {}
    for scope, part in (("drinking", df[drinking]), ("surface", df[~drinking])):
        meets = part["meets_target"].astype("boolean") if "meets_target" in part else \
            pd.Series(pd.NA, part.index, dtype="boolean")
        assessed, compliant = int(meets.notna().sum()), int(meets.fillna(False).sum())
        ranks = [r for r in map(class_rank, part.get("class", [])) if r is not None]
        out[scope] = {
            "sites": len(part), "assessed": assessed, "compliant": compliant,
            "pct": round(100 * compliant / assessed, 1) if assessed else None,
            "classified": len(ranks), "worst": CLASSES[max(ranks) - 1] if ranks else None,
            "by_class": {c: ranks.count(i) for i, c in enumerate(CLASSES, 1) if i in ranks},
            "good_pct": round(100 * sum(r <= 3 for r in ranks) / len(ranks), 1)
            if ranks else None}
    return out


def headline_text(figures: dict, *, lang: str = "zh") -> tuple[str, str]:
    """The two report lines: drinking-water sources' compliance, surface-water classes."""
    d, s = figures["drinking"], figures["surface"]
    counts = ", ".join(f"{c} {n}" for c, n in s["by_class"].items())
    if lang == "zh":
        first = (f"饮用水源地：{d['assessed']} 个评价，{d['compliant']} 个达标，达标率 {d['pct']}%"
                 if d["assessed"] else "饮用水源地：无可评价的水源")
        second = (f"地表水：{s['classified']} 个断面，均为 {s['worst']} 类或更好（{counts}）"
                  if s["classified"] else "地表水：无可定类的断面")
    else:
        first = (f"drinking-water sources: {d['compliant']} of {d['assessed']} meet their "
                 f"target = {d['pct']}%" if d["assessed"] else
                 "drinking-water sources: none assessed")
        second = (f"surface water: {s['classified']} sections, all class {s['worst']} or "
                  f"better ({counts})" if s["classified"] else "surface water: no section "
                  "classified")
    return first, second
