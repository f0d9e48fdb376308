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
from ecomap.maps._briefing_text import amount_text, apart_text, date_text, report_sentences, t
from ecomap.maps._furniture import RawMacro
from ecomap.maps.charts import bar_chart, chart_legend
from ecomap.schema import RESTORATION, category_label, label
from ecomap.units import DECIMALS, report_area

__all__ = ["area_text", "briefing_page", "report_sentences"]

area_text = report_area  # the name this module has always exported
_t = t


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


def _mu(v: float) -> str:
    return f"{v:,.{DECIMALS['mu']}f}"


def _ha(v: float) -> str:
    return f"{v:,.{DECIMALS['ha']}f}"


def _table(head: list[str], rows: list[list[str]], *, classes: str = "ecomap-table",
           groups: dict[int, str] | None = None, total_rows: int = 0) -> str:
    """An HTML table: ``groups`` puts a row spanning every column before row *i* (a group
    heading); the last ``total_rows`` rows are totals (bold)."""
    esc = html.escape
    out = [f'<table class="{classes}"><thead><tr>']
    out += [f"<th>{esc(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        if groups and i in groups:
            out.append(f'<tr class="ecomap-group"><td colspan="{len(head)}">'
                       f"{esc(groups[i])}</td></tr>")
        cls = ' class="ecomap-total"' if i >= len(rows) - total_rows else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _category_rows(totals: pd.DataFrame, lang: str, *, reported: bool
                   ) -> tuple[list[str], list[list[str]], dict[int, str]]:
    """Restoration categories, their total (修复面积合计), then — under a heading of their
    own — the categories counted apart (inspection patches, patrol areas)."""
    head = [label("category", lang), label("count", lang), label("area_mu", lang),
            label("area_ha", lang)] + ([_t("as_reported", lang)] if reported else [])

    def row(name: str, r) -> list[str]:
        cells = [name, f"{int(r['count']):,d}", _mu(r["area_mu"]), _ha(r["area_ha"])]
        return cells + ([amount_text(r, lang)] if reported else [])

    works = totals[totals["category"].isin(RESTORATION)]
    apart = totals[~totals["category"].isin(RESTORATION)]
    rows = [row(category_label(r["category"], lang), r) for _, r in works.iterrows()]
    total = works[["count", "area_mu", "area_ha"]].sum()
    rows.append([_t("total", lang), f"{int(total['count']):,d}", _mu(total["area_mu"]),
                 _ha(total["area_ha"])] + ([report_area(total["area_mu"], lang=lang)]
                                           if reported else []))
    groups = {len(rows): _t("apart_rows", lang)} if len(apart) else {}
    rows += [row(category_label(r["category"], lang), r) for _, r in apart.iterrows()]
    return head, rows, groups


def _category_table(summary: pd.DataFrame, lang: str) -> str:
    head, rows, groups = _category_rows(county_totals(summary), lang, reported=True)
    return _table(head, rows, groups=groups)


def _township_summary(summary: pd.DataFrame, town: str, lang: str) -> str:
    """One township's categories: restoration, its total, then what is counted apart."""
    sel = summary[summary["township"] == town]
    head, rows, groups = _category_rows(county_totals(sel), lang, reported=False)
    return (f'<div class="ecomap-keep"><h4>{html.escape(_t("town_summary", lang, town=town))}'
            f"</h4>{_table(head, rows, groups=groups)}</div>")


def _township_tables(summary: pd.DataFrame, towns: list[str], lang: str) -> str:
    """Townships × restoration categories (亩) with 修复面积; then, in a table of their own,
    inspection patches and patrol areas (:func:`ecomap.aggregate.township_pivot`).

    Two tables rather than one of a dozen columns, so that each fits A4 portrait."""
    pivot = township_pivot(summary, townships=towns, lang=lang)
    cols = list(pivot.columns)
    cut = cols.index(label("restoration_mu", lang)) + 1
    works, apart = pivot[cols[:cut]], pivot[cols[cut:]]

    def cells(df: pd.DataFrame) -> list[list[str]]:
        out = []
        for name, r in df.iterrows():
            out.append([str(name)] + [
                _mu(v) if pd.api.types.is_float_dtype(df[c]) else f"{int(v):,d}"
                for c, v in r.items()])
        return out

    head = [pivot.index.name or ""]
    parts = [f'<div class="ecomap-keep"><h4>{html.escape(_t("town_restoration", lang))}</h4>',
             _table(head + cols[:cut], cells(works), classes="ecomap-table ecomap-wide",
                    total_rows=1),
             f'<p class="ecomap-note-text">{html.escape(_t("works_only", lang))}</p></div>']
    if len(apart.columns):
        parts += [f'<div class="ecomap-keep"><h4>{html.escape(_t("town_apart", lang))}</h4>',
                  _table(head + cols[cut:], cells(apart), total_rows=1), "</div>"]
    return "".join(parts)


_CSS = """
html, body { height: auto !important; }
body { margin: 0; background: #fff; color: #222;
  font-family: "Helvetica Neue", Arial, "Liberation Sans", "DejaVu Sans", "Microsoft YaHei",
    "PingFang SC", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", sans-serif; }
.ecomap-briefing { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; line-height: 1.7; }
.ecomap-briefing h1 { font-size: 24px; text-align: center; margin: 0 0 6px; }
.ecomap-titleblock { border-bottom: 3px double #b71c1c; padding-bottom: 4px; margin-bottom: 6px; }
.ecomap-issued { display: flex; justify-content: space-between; font-size: 14px;
  margin: 0; text-indent: 0 !important; }
.ecomap-issued.ecomap-date-only { justify-content: center; }
.ecomap-briefing .ecomap-made { color: #555; font-size: 11px; margin: 0 0 8px;
  text-indent: 0; line-height: 1.5; }
.ecomap-briefing h2 { font-size: 18px; border-bottom: 2px solid #2e7d32; padding-bottom: 2px;
  margin: 18px 0 8px; }
.ecomap-briefing h3 { font-size: 16px; margin: 14px 0 6px; }
.ecomap-briefing h4 { font-size: 13px; margin: 10px 0 2px; }
.ecomap-briefing p { margin: 4px 0; text-indent: 2em; }
.ecomap-briefing .ecomap-note-text { color: #8a4b00; font-size: 12px; text-indent: 0; }
.ecomap-briefing .folium-map { margin: 6px 0 10px; border: 1px solid #bbb; }
.ecomap-table { border-collapse: collapse; font-size: 12px; margin: 6px 0; line-height: 1.35; }
.ecomap-table th, .ecomap-table td { border: 1px solid #bbb; padding: 2px 8px; }
.ecomap-table td { text-align: right; }
.ecomap-table td:first-child { text-align: left; white-space: nowrap; }
.ecomap-table thead th { background: #eef5ee; }
.ecomap-table tr.ecomap-total td { font-weight: bold; background: #f6f9f6; }
.ecomap-table tr.ecomap-group td { text-align: left; background: #fff6e5; color: #8a4b00;
  font-size: 11px; }
.ecomap-wide { font-size: 11px; width: 100%; table-layout: auto; }
.ecomap-wide th { font-weight: normal; padding: 2px 3px; line-height: 1.3; }
.ecomap-wide td { padding: 2px 4px; white-space: nowrap; }
.ecomap-briefing figure { margin: 8px 0; }
.ecomap-briefing figcaption { font-weight: bold; font-size: 13px; }
.ecomap-chart text { font-family: inherit; }
.ecomap-chart-legend { font-size: 11px; }
.ecomap-chart-legend span { margin-right: 12px; white-space: nowrap; }
.ecomap-chart-legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.ecomap-township { break-before: page; }
.ecomap-briefing .ecomap-summary { break-before: auto; padding: 0; }
@page { size: A4 portrait; margin: 12mm 12mm 16mm 12mm; }
@media print {
  .ecomap-briefing { max-width: none; padding: 0; }
  .ecomap-briefing .folium-map { width: 186mm !important; height: 130mm !important; }
  .ecomap-township .folium-map { height: 150mm !important; }
  .ecomap-briefing figure, .ecomap-table, .ecomap-briefing .folium-map, .ecomap-keep
    { break-inside: avoid; }
  .ecomap-briefing h2, .ecomap-briefing h3, .ecomap-briefing h4 { break-after: avoid; }
}
html.ecomap-print .ecomap-briefing { max-width: none; padding: 0; }
html.ecomap-print .ecomap-briefing .folium-map { width: 186mm !important; height: 130mm !important; }
html.ecomap-print .ecomap-township .folium-map { height: 150mm !important; }
html.ecomap-png body { padding: 12mm !important; }
"""

#: The PDF footer (Chromium's ``footerTemplate``): the issuing unit, then the page
#: number.  It is drawn outside the page's own fonts, so it names its own.
_FOOTER_CSS = ("width: 100%; margin: 0 12mm; display: flex; justify-content: space-between; "
               "font-size: 8pt; color: #555; font-family: 'WenQuanYi Zen Hei', "
               "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', "
               "'DejaVu Sans', sans-serif;")


def _footer(issuer: str, lang: str) -> str:
    page = _t("footer_page", lang, page='<span class="pageNumber"></span>',
              pages='<span class="totalPages"></span>')
    return (f'<template id="ecomap-pdf-footer"><div style="{_FOOTER_CSS}">'
            f"<span>{html.escape(issuer)}</span><span>{page}</span></div></template>")


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


def _title_block(title: str, *, issuer: str, day: dt.date, source: str, lang: str) -> str:
    esc = html.escape
    when = f"<span>{esc(date_text(day, lang))}</span>"
    if issuer:
        issued = (f'<p class="ecomap-issued"><span>{esc(_t("issuer", lang, issuer=issuer))}'
                  f"</span>{when}</p>")
    else:  # no empty 编制单位 line
        issued = f'<p class="ecomap-issued ecomap-date-only">{when}</p>'
    made = (_t("source", lang, source=source) + ("" if lang == "zh" else " ")
            if source else "") + _t("made", lang, version=__version__)
    return (f'<header class="ecomap-titleblock"><h1>{esc(title)}</h1>{issued}</header>'
            f'<p class="ecomap-made">{esc(made)}</p>')


def briefing_page(county: gpd.GeoDataFrame, townships: gpd.GeoDataFrame,
                  plots: gpd.GeoDataFrame, summary: pd.DataFrame, *,
                  water_sites: gpd.GeoDataFrame | None = None, year: int | str = "",
                  county_name: str = "", source: str = "", map_source: str | None = None,
                  issuer: str = "", date: dt.date | None = None, lang: str = "zh",
                  basemap="none", tianditu_key: str | None = None,
                  township_names: list[str] | None = None,
                  progress: pd.DataFrame | None = None,
                  history: pd.DataFrame | None = None,
                  patches_sentence: str | None = None) -> Figure:
    """The briefing: title block, sentences, county map, tables, charts, then one section
    per township.

    Parameters are those of :func:`ecomap.maps.county_map`, and: ``source`` the data
    source line (see :func:`ecomap.maps._briefing_text.source_text`), ``map_source`` the
    shorter one in the maps' notes (default ``source``), ``issuer`` the issuing unit
    (编制单位; empty: no such line), ``date`` the document's date (default today);
    ``township_names`` limits (and orders) the township sections (default: every one);
    ``progress`` (:func:`ecomap.targets.progress_table` by township) adds the section on
    targets, with ``history`` (:func:`ecomap.targets.year_over_year` by county) its chart
    of the last years; ``patches_sentence`` (the inspection patches' rectification) joins
    the overview's sentences.
    The PDF (:func:`ecomap.maps._export.html_to_pdf`) carries the issuer and page
    numbers in its footer.
    """
    from ecomap.maps import _basemap, county_map, township_map

    bm = _basemap(basemap, tianditu_key, lang)
    towns = list(townships["name"])
    names = towns if township_names is None else list(township_names)
    map_source = source if map_source is None else map_source
    title = _t("title", lang, county=county_name, year=year)
    fig = Figure(title=_style.html_text(title))
    illustrative = "illustrative" in townships and bool(
        pd.Series(townships["illustrative"]).fillna(0).any())
    sentences = "".join(f"<p>{html.escape(s)}</p>" for s in report_sentences(
        summary, county=county_name, year=year, lang=lang, townships=towns,
        patches=patches_sentence))
    note = (f'<p class="ecomap-note-text">{html.escape(_t("illustrative", lang))}</p>'
            if illustrative else "")
    block = _title_block(title, issuer=issuer, day=date or dt.date.today(), source=source,
                         lang=lang)
    fig.add_child(_Html(
        f'<div class="ecomap-briefing">{block}'
        f"<h2>{html.escape(_t('overview', lang))}</h2>{sentences}{note}"
        f"<div class=\"ecomap-keep\"><h2>{html.escape(_t('county_map', lang))}</h2>"))
    fig.add_child(county_map(county, townships, plots, summary, water_sites=water_sites,
                             year=year, county_name=county_name, source=map_source, lang=lang,
                             basemap=bm, height="620px", print_page=False))
    fig.add_child(_Html(
        "</div>"
        f"<div class=\"ecomap-keep\"><h2>{html.escape(_t('by_category', lang))}</h2>"
        f"{_category_table(summary, lang)}</div>"
        f"{_charts(summary, towns, lang)}"
        f"<h2>{html.escape(_t('by_township', lang))}</h2>"
        f"{_township_tables(summary, towns, lang)}"))
    towns_heading = "townships"
    if progress is not None and progress["target"].notna().any():
        from ecomap.maps._briefing_progress import progress_section

        fig.add_child(_Html(progress_section(_t("progress", lang), progress, history, towns,
                                             lang=lang)))
        towns_heading = "townships_after_progress"
    by_town = township_totals(summary, townships=towns).set_index("township")
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
        apart = apart_text(county_totals(summary[summary["township"] == name]), lang)
        if apart:
            lead += _t("apart", lang, items=apart)
        # The section heading starts the first township's page, never ends a page alone.
        head = (f"<h2>{html.escape(_t(towns_heading, lang))}</h2>" if i == 0 else "")
        fig.add_child(_Html(f'<section class="ecomap-township"><div class="ecomap-keep">{head}'
                            f"<h3>{html.escape(name)}</h3><p>{html.escape(lead)}</p>"))
        fig.add_child(township_map(name, townships, sel, summary, water_sites=sites,
                                   year=year, source=map_source, lang=lang, county=county,
                                   basemap=bm, height="480px", table=False, print_page=False))
        fig.add_child(_Html("</div>" + _township_summary(summary, name, lang) + "</section>"))
    fig.add_child(_Html("</div>" + _footer(issuer, lang), header=f"<style>{_CSS}</style>"))
    return fig
