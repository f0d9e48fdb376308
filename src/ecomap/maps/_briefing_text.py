"""The briefing's words: its sentences, its date, and where its data came from.

Everything here takes data frames and returns text; restoration totals follow the
schema's kinds (:data:`ecomap.schema.RESTORATION`): inspection patches and patrol areas
are named apart and never added into 修复面积.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecomap.aggregate import county_totals, township_totals
from ecomap.schema import CATEGORIES, RESTORATION, category_label, kind_of
from ecomap.units import report_area

__all__ = ["TEXT", "amount_text", "apart_text", "date_text", "report_sentences", "source_text",
           "t"]

TEXT = {
    "title": ("{county}{year}年生态修复“落地上图”简报", "{county} ecological restoration briefing, {year}"),
    "issuer": ("编制单位：{issuer}", "Issued by {issuer}"),
    "source": ("数据来源：{source}。", "Source: {source}."),
    "made": ("制图：ecomap {version}。", "Made with ecomap {version}."),
    "footer_page": ("第 {page} 页 共 {pages} 页", "Page {page} of {pages}"),
    "overview": ("一、总体情况", "1. Overview"),
    "county_map": ("二、全县修复小班分布", "2. Plots across the county"),
    "by_category": ("三、分类别统计", "3. By category"),
    "by_township": ("四、分乡镇统计", "4. By township"),
    "townships": ("五、各乡镇修复小班图", "5. Township maps"),
    "progress": ("五、任务完成情况", "5. Targets"),
    "townships_after_progress": ("六、各乡镇修复小班图", "6. Township maps"),
    "chart_township": ("各乡镇修复面积(亩)", "Restoration area by township (mu)"),
    "chart_category": ("各类别修复面积(亩)", "Restoration area by category (mu)"),
    "town_restoration": ("各乡镇分类别修复面积(亩)", "Restoration area by township and category (mu)"),
    "town_apart": ("各乡镇问题图斑与巡护区(单列，不计入修复面积)",
                   "Inspection patches and patrol areas by township (apart, not restoration)"),
    "works_only": ("修复面积仅计生态修复类别；森林督查问题图斑、生态护林员巡护区单列，不计入修复面积。",
                   "Restoration area counts restoration work only; forest-inspection patches "
                   "and patrol areas are listed apart and never added to it."),
    "apart_rows": ("单列，不计入修复面积", "Apart, not counted as restoration"),
    "total": ("修复面积合计", "Restoration total"),
    "as_reported": ("上报口径", "As reported"),
    "town_summary": ("{town}汇总", "{town} summary"),
    "lead": ("{year}年，{county}共上图生态修复小班{n}个，修复面积{area}。",
             "In {year}, {county} mapped {n} restoration plots, {area} of restoration."),
    "done": ("完成{items}。", "Work done: {items}."),
    "apart": ("另有{items}，单列统计，不计入修复面积。",
              "Also {items}, listed apart and not counted as restoration."),
    "rank": ("按乡镇统计，修复面积最大的是{first}，其次是{rest}。",
             "By township, the largest restoration area is in {first}, then {rest}."),
    "town_lead": ("{town}上图生态修复小班{n}个，修复面积{area}。",
                  "{town}: {n} restoration plots, {area} of restoration."),
    "illustrative": ("注：乡镇界为示意(泰森多边形)，非正式行政区划；乡镇统计随之为示意。",
                     "Note: township boundaries are illustrative (Voronoi cells), "
                     "and so are the township figures."),
    # The data source, named as people know it (see source_text).
    "src_plots": ("{county}{year}年生态修复小班数据", "{county} restoration plots {year}"),
    "src_inspection": ("{year}年森林督查问题图斑", "forest-inspection patches {year}"),
    "src_patrol": ("生态护林员巡护区", "ranger patrol areas"),
    "src_compensation": ("{year}年占补平衡地块", "compensation areas {year}"),
    "src_water": ("{year}年水质监测数据", "water monitoring {year}"),
    "src_batches": ("入库批次 {ids}", "batches {ids}"),
    "src_batch": ("批次 {ids}", "batch {ids}"),
}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def t(key: str, lang: str, **fmt) -> str:
    """The text ``key`` in ``lang`` with ``fmt`` filled in."""
    zh, en = TEXT[key]
    return (zh if lang == "zh" else en).format(**fmt)


def date_text(day: dt.date, lang: str = "zh") -> str:
    """A document's date: 2026年12月7日 / 7 December 2026."""
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _num(value: float, decimals: int = 1) -> str:
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".") or "0"


def amount_text(row, lang: str) -> str:
    """A category's amount in the unit the county reports it in (亩, km², 个, 片)."""
    cat = CATEGORIES.get(row["category"])
    unit = cat.report_unit if cat else "mu"
    if unit == "km2":
        return f"{_num(row['area_km2'], 2)}{'平方公里' if lang == 'zh' else ' km²'}"
    if unit == "patches":
        return f"{int(row['count'])}{'个' if lang == 'zh' else ' patches'}"
    if unit == "areas":
        return f"{int(row['count'])}{'片' if lang == 'zh' else ' areas'}"
    return report_area(row["area_mu"], lang=lang)


def apart_text(totals: pd.DataFrame, lang: str) -> str:
    """``森林督查问题图斑35个(317.9亩)、生态护林员巡护区376片``: what is not restoration."""
    items = []
    for _, r in totals[~totals["category"].isin(RESTORATION)].iterrows():
        name = category_label(r["category"], lang)
        text = f"{name}{'' if lang == 'zh' else ' '}{amount_text(r, lang)}"
        if kind_of(r["category"]) in ("inspection", "compensation") and \
                CATEGORIES[r["category"]].report_unit != "mu":
            text += f"{'' if lang == 'zh' else ' '}({report_area(r['area_mu'], lang=lang)})"
        items.append(text)
    return ("、" if lang == "zh" else ", ").join(items)


def report_sentences(summary: pd.DataFrame, *, county: str, year, lang: str = "zh",
                     townships=None, patches: str | None = None) -> list[str]:
    """The report's sentences with this store's figures filled in.

    ``共上图生态修复小班537个，修复面积7.09万亩`` then ``完成人工造林6460亩…`` (restoration
    categories, each in the unit the county reports it in), what is counted apart
    (inspection patches, patrol areas), ``patches`` (the sentence on the inspection
    patches' rectification, :func:`ecomap.patches.patches_sentence`) when given, and the
    townships with the largest restoration area.
    """
    totals = county_totals(summary)
    works = totals[totals["category"].isin(RESTORATION)]
    n = int(works["count"].sum())
    out = [t("lead", lang, year=year, county=county, n=n,
             area=report_area(float(works["area_mu"].sum()), lang=lang))]
    sep = "、" if lang == "zh" else ", "
    if len(works):
        items = [f"{category_label(r['category'], lang)}{'' if lang == 'zh' else ' '}"
                 f"{amount_text(r, lang)}" for _, r in works.iterrows()]
        out.append(t("done", lang, items=sep.join(items)))
    apart = apart_text(totals, lang)
    if apart:
        out.append(t("apart", lang, items=apart))
    if patches:
        out.append(patches)
    towns = township_totals(summary, townships=townships)
    towns = towns[towns["area_mu"] > 0].sort_values("area_mu", ascending=False)
    if len(towns) >= 2:
        named = [f"{r['township']}{'' if lang == 'zh' else ' '}"
                 f"({report_area(r['area_mu'], lang=lang)})"
                 for _, r in towns.head(3).iterrows()]
        out.append(t("rank", lang, first=named[0], rest=sep.join(named[1:])))
    return out


def _ids(ids) -> str:
    """Batch numbers as ranges: 3–5、8、10–12."""
    nums = sorted({int(i) for i in ids})
    runs: list[list[int]] = []
    for n in nums:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return "、".join(f"{a}" if a == b else f"{a}–{b}" for a, b in runs)


def source_text(batches: pd.DataFrame, *, county: str, year, lang: str = "zh",
                short: bool = False) -> str:
    """Where the briefing's figures come from, as people name it, from the store's batches.

    ``大余县2023年生态修复小班数据（入库批次 3–5、8–12）、2023年森林督查问题图斑（批次 6）、
    生态护林员巡护区（批次 7）、2023年水质监测数据（批次 13）``: one name per kind of data
    of ``year`` (batches of that year, or of no single year), with the batch numbers a GIS
    officer can look up (``ecomap batches``).  ``short``: the first name only, then 等
    (for a map's notes).  Empty when the store has no such batches.
    """
    if batches is None or batches.empty or "kind" not in batches:
        return ""
    b = batches
    if year not in ("", None) and "year" in b:
        b = b[b["year"].isna() | (b["year"] == float(year))]
    plots = b[b["kind"] == "plots"]
    kinds = plots["category"].map(lambda c: kind_of(c) if c in CATEGORIES else "restoration")
    groups = [("src_plots", plots[kinds == "restoration"]),
              ("src_inspection", plots[kinds == "inspection"]),
              ("src_patrol", plots[kinds == "patrol"]),
              ("src_compensation", plots[kinds == "compensation"]),
              ("src_water", b[b["kind"] == "water"])]
    parts = []
    for key, sel in groups:
        if sel.empty:
            continue
        name = t(key, lang, county=county, year=year).strip()
        if short:
            parts.append(name)
            continue
        ids = t("src_batches" if not parts else "src_batch", lang, ids=_ids(sel["batch_id"]))
        if lang != "zh":
            ids = ids.replace("、", ", ")
        parts.append(name + (f"（{ids}）" if lang == "zh" else f" ({ids})"))
    if short and parts:
        return parts[0] + (("等" if lang == "zh" else " etc.") if len(parts) > 1 else "")
    return ("、" if lang == "zh" else "; ").join(parts)
