"""Raster questions asked of a store: statistics of a GeoTIFF per plot or township, and
the change of a raster mean (e.g. NDVI) on restoration plots, as tables and a map.

>>> import ecomap
>>> from ecomap.raster import service
>>> st = ecomap.open_store("ecomap.gpkg")
>>> service.zonal(st, "landcover.tif", layer="townships", categorical=True)
>>> t = service.change(st, "ndvi_2022.tif", "ndvi_2023.tif", category="mine_remediation")
>>> m = service.change_map(st, "ndvi_2022.tif", "ndvi_2023.tif", t)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.store import Store

__all__ = ["LAYERS", "add_raster_file", "change", "change_map", "display_table", "zonal",
           "zones"]

log = logging.getLogger(__name__)

#: Store layers that can serve as zones.
LAYERS = ("plots", "townships")

_PLOT_COLUMNS = ["plot_id", "category", "year", "township", "area_mu"]
_TOWN_COLUMNS = ["name", "area_km2"]

_LABELS = {  # statistic → (zh, en) column header
    "count": ("有效像元数", "Valid pixels"), "sum": ("总和", "Sum"), "mean": ("均值", "Mean"),
    "min": ("最小值", "Min"), "max": ("最大值", "Max"), "std": ("标准差", "Std. dev."),
    "stdev": ("标准差", "Std. dev."), "variance": ("方差", "Variance"),
    "majority": ("众数", "Majority"), "minority": ("最少值", "Minority"),
    "variety": ("类别数", "Classes"), "median": ("中位数", "Median"),
    "before": ("前期均值", "Before"), "after": ("后期均值", "After"),
    "change": ("变化", "Change"), "status": ("判定", "Status"),
    "count_before": ("前期有效像元数", "Valid pixels before"),
    "count_after": ("后期有效像元数", "Valid pixels after"),
    "name": ("乡镇", "Township"), "area_km2": ("面积(平方公里)", "Area (km²)"),
    "plot_id": ("小班号", "Plot ID"), "category": ("类别", "Category"),
    "year": ("年度", "Year"), "township": ("乡镇", "Township"),
    "area_mu": ("面积(亩)", "Area (mu)"),
}
_STATUS = {"gain": ("增加", "gain"), "no_gain": ("未增加", "no gain"),
           "no_data": ("无数据", "no data")}


def zones(store: Store, *, layer: str = "plots", category: str | None = None,
          year: int | None = None) -> gpd.GeoDataFrame:
    """Plots (of ``category`` and ``year``, default: the latest year) or townships."""
    if layer == "townships":
        towns = store.townships()
        if towns.empty:
            raise InputError(tr("{store} 中没有乡镇界; 请先导入乡镇界",
                                "{store} holds no townships; import the 乡镇界 first",
                                store=store.location))
        towns = towns.copy()
        towns["area_km2"] = towns["area_m2"] / 1e6
        return towns[[*_TOWN_COLUMNS, towns.geometry.name]]
    if layer != "plots":
        raise InputError(tr("未知图层 {layer!r}; 可选: {choices}",
                            "unknown layer {layer!r}; use one of: {choices}", layer=layer,
                            choices=", ".join(LAYERS)))
    from ecomap.api import latest_year
    from ecomap.schema import get_category

    code = get_category(category).code if category else None
    year = year or latest_year(store)
    plots = store.plots(category=code, year=year)
    if plots.empty:
        what = " ".join(x for x in (code, str(year) if year else "") if x)
        raise InputError(tr("{store} 中没有 {what} 的图斑; 请检查 --category 和 --year",
                            "no plots {what} in {store}; check --category and --year",
                            what=what, store=store.location))
    return plots[[*_PLOT_COLUMNS, plots.geometry.name]]


def zonal(store: Store, raster: str | os.PathLike, *, layer: str = "plots",
          category: str | None = None, year: int | None = None,
          stats: Sequence[str] | str = ("mean", "min", "max", "count"),
          categorical: bool = False, band: int = 1, raster_crs=None) -> pd.DataFrame:
    """Statistics of ``raster`` per plot or township (see :func:`ecomap.raster.zonal_stats`;
    class shares with ``categorical``): zone attributes, then one column per statistic."""
    from ecomap.io.raster import zonal_stats_file

    z = zones(store, layer=layer, category=category, year=year)
    table = zonal_stats_file(raster, z, stats=stats, categorical=categorical, band=band,
                             crs=raster_crs)
    return pd.DataFrame(z.drop(columns=z.geometry.name)).join(table).reset_index(drop=True)


def change(store: Store, before, after, *, layer: str = "plots", category: str | None = None,
           year: int | None = None, min_gain: float = 0.0, band: int = 1,
           raster_crs=None) -> gpd.GeoDataFrame:
    """Mean of ``before`` and ``after`` per zone, their change and a status (``gain``,
    ``no_gain`` when the change is not above ``min_gain``, ``no_data``)."""
    from ecomap.io.raster import change_from_files

    z = zones(store, layer=layer, category=category, year=year)
    table = change_from_files(before, after, z, band=band, crs=raster_crs, min_gain=min_gain)
    return z.join(table).reset_index(drop=True)


def change_map(store: Store, before, after, table: gpd.GeoDataFrame, *,
               year: int | None = None, lang: str = "zh", name: str = "NDVI",
               raster_crs=None, show: bool = True, m=None, unit: str = ""):
    """The change map: the raster difference (after − before) on a diverging ramp
    centred on 0, over the county and township outlines, and the zones of ``table``
    (from :func:`change`) outlined on top, no-gain ones in red; one legend per layer.

    ``m``: add the raster and zone layers (shown if ``show``) to this folium map, e.g.
    the county map, instead of drawing a map of their own.  ``unit``: what the
    difference is measured in (default: "NDVI difference, unitless").
    """
    from ecomap.io.raster import read_overview
    from ecomap.maps._raster import (
        add_change_plots,
        add_change_raster,
        change_map_page,
        nice_ceil,
    )
    from ecomap.raster.change import change_overlay

    # One colour scale for the raster and the zones, set by the zones' changes and
    # rounded up to a round number (ticks at ±v, ±v/2 and 0).
    changes = table["change"].abs().dropna()
    top = float(changes.quantile(0.98)) if len(changes) else 0.0
    vmax = nice_ceil(top) if top > 0 else None
    # Over another map (a choropleth below) small changes fade out; on the change map
    # itself the whole raster shows, pale where little changed.
    overlay = change_overlay(read_overview(before, crs=raster_crs),
                             read_overview(after, crs=raster_crs), vmax=vmax,
                             fade=0.25 if m is not None else None)
    label = "plot_id" if "plot_id" in table else "name"
    if m is not None:
        add_change_raster(m, overlay, name=name, lang=lang, unit=unit, show=show)
        add_change_plots(m, table, table, name=name, lang=lang, label_column=label,
                         show=show)
        return m
    from ecomap.api import briefing_source

    if not year and "year" in table and table["year"].notna().any():
        year = int(table["year"].max())  # the zones' year (the latest, by default)
    county = store.county()
    county_name = str(county["name"].iloc[0]) if len(county) and "name" in county else ""
    zones = (tr("{year}年度小班 {n} 个", "{n} plots of {year}", year=year, n=len(table))
             if year and label == "plot_id" else
             tr("小班 {n} 个", "{n} plots", n=len(table)) if label == "plot_id" else
             tr("乡镇 {n} 个", "{n} townships", n=len(table)))
    title = tr("{county}{name}变化监测图", "{county} {name} change", county=county_name,
               name=name).render(lang).strip()
    subtitle = tr("前期 {before} → 后期 {after}; {zones}",
                  "before {before} → after {after}; {zones}", before=Path(before).name,
                  after=Path(after).name, zones=zones).render(lang)
    return change_map_page(county, store.townships(), overlay, table, name=name, lang=lang,
                           title=title, subtitle=subtitle, unit=unit,
                           source=tr("{rasters}、{plots}", "{rasters}, {plots}",
                                     rasters=("、" if lang == "zh" else ", ").join(
                                         (Path(before).name, Path(after).name)),
                                     plots=briefing_source(store, year=year, lang=lang,
                                                           short=True)).render(lang),
                           label_column=label)


def add_raster_file(m, path, *, colormap: str = "ndvi", vmin: float | None = None,
                    vmax: float | None = None, name: str | None = None, lang: str = "zh",
                    raster_crs=None, band: int = 1, max_size: int = 1024, show: bool = True,
                    gcj02: bool = False):
    """Show a raster file on the folium map ``m``: colour-mapped, reprojected to Web
    Mercator, downsampled to ``max_size`` pixels a side, with a colour bar (what
    ``ecomap map --raster FILE`` does)."""
    from ecomap.io.raster import read_overlay
    from ecomap.maps._raster import add_raster_overlay

    overlay = read_overlay(path, colormap=colormap, vmin=vmin, vmax=vmax, max_size=max_size,
                           band=band, crs=raster_crs)
    title = name or Path(path).stem
    return add_raster_overlay(m, overlay, name=title, legend_title=title, lang=lang,
                              show=show, gcj02=gcj02)


def display_table(table: pd.DataFrame, *, lang: str = "zh") -> pd.DataFrame:
    """Headers and category/status names in ``lang``, geometry dropped, numbers rounded."""
    from ecomap.schema import category_label

    out = pd.DataFrame(table.drop(columns=[c for c in ("geometry",) if c in table]))
    if "category" in out:
        out["category"] = out["category"].map(lambda c: category_label(c, lang))
    if "status" in out:
        out["status"] = out["status"].map(lambda s: _STATUS.get(s, (s, s))[lang != "zh"])
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(2 if col in ("area_mu", "area_km2") else 4)
    i = 0 if lang == "zh" else 1

    def header(col: str) -> str:
        if col in _LABELS:
            return _LABELS[col][i]
        if col.startswith("share_"):
            return (f"{col[6:]}类占比" if lang == "zh" else f"Share of class {col[6:]}")
        return col

    return out.rename(columns={c: header(c) for c in out.columns})
