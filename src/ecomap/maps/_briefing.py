"""The briefing page: report sentences, tables, charts, county and township maps, one file.

Built as one branca ``Figure`` holding several folium maps, so Leaflet and ecomap.js are
inlined once; :func:`ecomap.maps.to_html` makes it self-contained like any map.  It
prints on A4 portrait: the county section on the first pages, each township on a page
of its own.  Charts are inline SVG drawn here (no charting library, vector on paper).
"""

from __future__ import annotations

import datetime as dt
import html

import geopandas as gpd
import pandas as pd
from branca.element import Figure

from ecomap import __version__
from ecomap.aggregate import county_totals, township_pivot, township_totals
from ecomap.maps import _style
from ecomap.maps._furniture import RawMacro
from ecomap.maps.charts import bar_chart, chart_legend
from ecomap.schema import CATEGORIES, RESTORATION, category_label, label
from ecomap.units import DECIMALS, report_area

__all__ = ["area_text", "briefing_page", "report_sentences"]

_TEXT = {
    "title": ("{county}{year}年生态修复“落地上图”简报", "{county} ecological restoration briefing, {year}"),
    "made": ("数据来源：{source}。制图：ecomap {version}，{date}。",
             "Source: {source}. Made with ecomap {version} on {date}."),
    "overview": ("一、总体情况", "1. Overview"),
    "county_map": ("二、全县修复小班分布", "2. Plots across the county"),
    "by_category": ("三、分类别统计", "3. By category"),
    "by_township": ("四、分乡镇统计", "4. By township"),
    "townships": ("五、各乡镇修复小班图", "5. Township maps"),
    "chart_township": ("各乡镇修复面积(亩)", "Restoration area by township (mu)"),
    "chart_category": ("各类别修复面积(亩)", "Restoration area by category (mu)"),
    "works_only": ("修复面积仅计生态修复类别；森林督查问题图斑、生态护林员巡护区单列，不计入修复面积。",
                   "Restoration area counts restoration work only; forest-inspection patches "
                   "and patrol areas are listed apart and never added to it."),
    "total": ("合计", "Total"),
    "lead": ("{year}年，{county}共上图生态修复小班{n}个。", "In {year}, {county} mapped {n} plots."),
    "done": ("完成{items}。", "Work done: {items}."),
    "rank": ("按乡镇统计，修复面积最大的是{first}，其次是{rest}。",
             "By township, the largest restoration area is in {first}, then {rest}."),
    "town_lead": ("{town}上图生态修复小班{n}个，修复面积{area}。",
                  "{town}: {n} restoration plots, {area} of restoration."),
    "illustrative": ("注：乡镇界为示意(泰森多边形)，非正式行政区划；乡镇统计随之为示意。",
                     "Note: township boundaries are illustrative (Voronoi cells), "
                     "and so are the township figures."),
}


def _t(key: str, lang: str, **fmt) -> str:
    zh, en = _TEXT[key]
    return (zh if lang == "zh" else en).format(**fmt)


def _num(value: float, decimals: int = 1) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text or "0"


area_text = report_area  # the name this module has always exported


def _amount(row, lang: str) -> str:
    cat = CATEGORIES.get(row["category"])
    unit = cat.report_unit if cat else "mu"
    if unit == "km2":
        return f"{_num(row['area_km2'], 2)}{'平方公里' if lang == 'zh' else ' km²'}"
    if unit in ("patches", "areas"):
        return f"{int(row['count'])}{'个' if lang == 'zh' else ''}"
    return area_text(row["area_mu"], lang=lang)


def report_sentences(summary: pd.DataFrame, *, county: str, year, lang: str = "zh",
                     townships=None) -> list[str]:
    """The report's sentences with this store's figures filled in.

    ``完成人工造林6460亩、退化林修复1.47万亩…``: areas in the unit the county reports each
    category in (mu, km², patches), then the townships with the largest areas.
    """
    totals = county_totals(summary)
    if totals.empty:
        return [_t("lead", lang, year=year, county=county, n=0)]
    sep = "、" if lang == "zh" else ", "
    items = [f"{category_label(r['category'], lang)}{'' if lang == 'zh' else ' '}"
             f"{_amount(r, lang)}" for _, r in totals.iterrows()]
    n = int(totals.loc[totals["category"].isin(RESTORATION), "count"].sum())
    out = [_t("lead", lang, year=year, county=county, n=n), _t("done", lang, items=sep.join(items))]
    towns = township_totals(summary, townships=townships)
    towns = towns[towns["area_mu"] > 0].sort_values("area_mu", ascending=False)
    if len(towns) >= 2:
        named = [f"{r['township']}({area_text(r['area_mu'], lang=lang)})"
                 for _, r in towns.head(3).iterrows()]
        out.append(_t("rank", lang, first=named[0], rest=sep.join(named[1:])))
    return out


# ----------------------------------------------------------------------------- charts


def _charts(summary: pd.DataFrame, towns: list[str], lang: str) -> str:
    works = summary[summary["category"].isin(RESTORATION)]
    codes = [c for c in RESTORATION if c in set(works["category"])]
    labels = {c: category_label(c, lang) for c in codes}
    colors = {labels[c]: _style.category_color(c) for c in codes}
    by_town = works.groupby(["township", "category"])["area_mu"].sum()
    order = township_totals(summary, townships=towns).sort_values(
        "area_mu", ascending=False)["township"]
    town_rows = [(t, [(labels[c], float(by_town.get((t, c), 0.0))) for c in codes])
                 for t in order]
    by_cat = works.groupby("category")["area_mu"].sum()
    cat_rows = [(labels[c], [(labels[c], float(by_cat.get(c, 0.0)))]) for c in codes]
    return (f"<figure><figcaption>{html.escape(_t('chart_township', lang))}</figcaption>"
            f"{bar_chart(town_rows, colors)}{chart_legend(codes, lang)}</figure>"
            f"<figure><figcaption>{html.escape(_t('chart_category', lang))}</figcaption>"
            f"{bar_chart(cat_rows, colors, label_w=190)}</figure>")


# ----------------------------------------------------------------------------- tables


def _category_table(summary: pd.DataFrame, lang: str) -> str:
    t = county_totals(summary)
    df = pd.DataFrame({
        label("category", lang): [category_label(c, lang) for c in t["category"]],
        label("count", lang): t["count"].astype(int),
        label("area_mu", lang): t["area_mu"].map(lambda v: f"{v:,.{DECIMALS['mu']}f}"),
        label("area_ha", lang): t["area_ha"].map(lambda v: f"{v:,.{DECIMALS['ha']}f}"),
        ("上报口径" if lang == "zh" else "As reported"): [_amount(r, lang)
                                                      for _, r in t.iterrows()],
    })
    return df.to_html(index=False, border=0, classes="ecomap-table")


def _township_table(summary: pd.DataFrame, towns: list[str], lang: str) -> str:
    """Townships × restoration categories (亩) with 修复面积, inspection patches and
    patrol areas in columns of their own (:func:`ecomap.aggregate.township_pivot`)."""
    pivot = township_pivot(summary, townships=towns, lang=lang)
    shown = pivot.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            shown[col] = shown[col].map(lambda v: f"{v:,.{DECIMALS['mu']}f}")
        else:
            shown[col] = shown[col].map(lambda v: f"{int(v):,d}")
    note = f'<p class="ecomap-note-text">{html.escape(_t("works_only", lang))}</p>'
    return shown.reset_index().to_html(index=False, border=0,
                                       classes="ecomap-table ecomap-wide") + note


_CSS = """
html, body { height: auto !important; }
body { margin: 0; background: #fff; color: #222;
  font-family: "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", "Microsoft YaHei",
    "PingFang SC", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", sans-serif; }
.ecomap-briefing { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; line-height: 1.7; }
.ecomap-briefing h1 { font-size: 24px; text-align: center; margin: 8px 0 2px; }
.ecomap-briefing .ecomap-made { text-align: center; color: #555; font-size: 12px; margin: 0 0 16px; }
.ecomap-briefing h2 { font-size: 18px; border-bottom: 2px solid #2e7d32; padding-bottom: 2px;
  margin: 22px 0 8px; }
.ecomap-briefing h3 { font-size: 16px; margin: 14px 0 6px; }
.ecomap-briefing p { margin: 4px 0; text-indent: 2em; }
.ecomap-briefing .ecomap-note-text { color: #8a4b00; font-size: 12px; text-indent: 0; }
.ecomap-briefing .folium-map { margin: 6px 0 10px; border: 1px solid #bbb; }
.ecomap-table { border-collapse: collapse; font-size: 12px; margin: 6px 0; }
.ecomap-table th, .ecomap-table td { border: 1px solid #bbb; padding: 2px 8px; }
.ecomap-table td { text-align: right; }
.ecomap-table td:first-child { text-align: left; white-space: nowrap; }
.ecomap-table thead th { background: #eef5ee; }
.ecomap-wide { font-size: 11px; }
.ecomap-briefing figure { margin: 8px 0; }
.ecomap-briefing figcaption { font-weight: bold; font-size: 13px; }
.ecomap-chart text { font-family: inherit; }
.ecomap-chart-legend { font-size: 11px; }
.ecomap-chart-legend span { margin-right: 12px; white-space: nowrap; }
.ecomap-chart-legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.ecomap-township { break-before: page; }
.ecomap-briefing .ecomap-summary { break-before: auto; padding: 0; }
@page { size: A4 portrait; margin: 12mm; }
@media print {
  .ecomap-briefing { max-width: none; padding: 0; }
  .ecomap-briefing .folium-map { width: 186mm !important; height: 150mm !important; }
  .ecomap-township .folium-map { height: 170mm !important; }
  .ecomap-briefing figure, .ecomap-table, .ecomap-briefing .folium-map { break-inside: avoid; }
  .ecomap-briefing h2, .ecomap-briefing h3 { break-after: avoid; }
}
html.ecomap-print .ecomap-briefing { max-width: none; padding: 0; }
html.ecomap-print .ecomap-briefing .folium-map { width: 186mm !important; height: 150mm !important; }
html.ecomap-print .ecomap-township .folium-map { height: 170mm !important; }
html.ecomap-png body { padding: 12mm !important; }
"""


class _Html(RawMacro):
    """Body HTML (and optionally header HTML) put into the page at this point."""

    def __init__(self, body: str = "", header: str = "") -> None:
        super().__init__()
        self._name = "BriefingHtml"
        self.body = body
        self.header = header

    def body_html(self) -> str:
        return self.body

    def header_html(self) -> str:
        return self.header


def briefing_page(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                  plots: gpd.GeoDataFrame, summary: pd.DataFrame, *,
                  water_sites: gpd.GeoDataFrame | None = None, year: int | str = "",
                  county_name: str = "", source: str = "", lang: str = "zh",
                  basemap="none", tianditu_key: str | None = None,
                  township_names: list[str] | None = None) -> Figure:
    """The briefing: sentences, county map, tables, charts, then one section per township.

    Parameters are those of :func:`ecomap.maps.county_map`; ``township_names`` limits
    (and orders) the township sections (default: every township).
    """
    from ecomap.maps import _basemap, county_map, summary_html, township_map

    bm = _basemap(basemap, tianditu_key, lang)
    towns = list(townships["name"])
    names = towns if township_names is None else list(township_names)
    title = _t("title", lang, county=county_name, year=year)
    fig = Figure(title=_style.html_text(title))
    illustrative = "illustrative" in townships and bool(
        pd.Series(townships["illustrative"]).fillna(0).any())
    made = _t("made", lang, source=source or "-", version=__version__,
              date=dt.date.today().isoformat())
    sentences = "".join(f"<p>{html.escape(s)}</p>" for s in report_sentences(
        summary, county=county_name, year=year, lang=lang, townships=towns))
    note = (f'<p class="ecomap-note-text">{html.escape(_t("illustrative", lang))}</p>'
            if illustrative else "")
    fig.add_child(_Html(
        f'<div class="ecomap-briefing"><h1>{html.escape(title)}</h1>'
        f'<p class="ecomap-made">{html.escape(made)}</p>'
        f"<h2>{html.escape(_t('overview', lang))}</h2>{sentences}{note}"
        f"<h2>{html.escape(_t('county_map', lang))}</h2>"))
    fig.add_child(county_map(county, townships, plots, summary, water_sites=water_sites,
                             year=year, county_name=county_name, source=source, lang=lang,
                             basemap=bm, height="620px", print_page=False))
    fig.add_child(_Html(
        f"<h2>{html.escape(_t('by_category', lang))}</h2>{_category_table(summary, lang)}"
        f"{_charts(summary, towns, lang)}"
        f"<h2>{html.escape(_t('by_township', lang))}</h2>"
        f"{_township_table(summary, towns, lang)}"))
    by_town = township_totals(summary, townships=towns).set_index(
        "township")
    for i, name in enumerate(names):
        sel = plots[plots["township"] == name] if "township" in plots else plots.iloc[:0]
        if "plot_id" in plots and len(plots):
            # Plots reaching into the township, not only those counted in it.
            sel = plots[plots.intersects(townships[townships["name"] == name].union_all())]
        sites = None
        if water_sites is not None and len(water_sites) and "township" in water_sites:
            sites = water_sites[water_sites["township"] == name]
        row = by_town.loc[name] if name in by_town.index else None
        lead = _t("town_lead", lang, town=name, n=int(row["count"]) if row is not None else 0,
                  area=area_text(float(row["area_mu"]) if row is not None else 0.0, lang=lang))
        head = (f"<h2>{html.escape(_t('townships', lang))}</h2>" if i == 0 else "")
        fig.add_child(_Html(f'{head}<section class="ecomap-township"><h3>{html.escape(name)}'
                            f"</h3><p>{html.escape(lead)}</p>"))
        fig.add_child(township_map(name, townships, sel, summary, water_sites=sites,
                                   year=year, source=source, lang=lang, county=county,
                                   basemap=bm, height="480px", table=False, print_page=False))
        fig.add_child(_Html(summary_html(summary, name, lang=lang) + "</section>"))
    fig.add_child(_Html("</div>", header=f"<style>{_CSS}</style>"))
    return fig
