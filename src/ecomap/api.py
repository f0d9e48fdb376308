"""The Python API for notebooks and scripts: questions asked of a store.

>>> import ecomap
>>> store = ecomap.open_store("ecomap.gpkg")
>>> ecomap.summary(store, year=2023)          # township × category × year, mu and ha
>>> m = ecomap.county_map(store, year=2023)   # a folium.Map; m.save(...) or ecomap.to_html(m)
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from ecomap import aggregate, maps
from ecomap.store import Store

__all__ = ["briefing", "briefing_date", "briefing_files", "briefing_source", "county_map",
           "latest_year", "patches_map", "summary", "township_map", "water_site_classes"]


def latest_year(store: Store) -> int | None:
    """The most recent year with plots, the default of maps and summaries."""
    areas = store.township_areas()
    return int(areas["year"].max()) if len(areas) else None


def summary(store: Store, *, year: int | None = None) -> pd.DataFrame:
    """Area and count by township, category and year (see :func:`aggregate.summary_table`)."""
    towns = store.townships()["name"].tolist()
    return aggregate.summary_table(store.township_areas(year=year), townships=towns)


def water_site_classes(store: Store, *, year: int | None = None) -> gpd.GeoDataFrame:
    """Monitoring sites with their annual class (GB 3838-2002) and target compliance."""
    from ecomap import water

    sites = store.water_sites()
    samples = store.water_samples(year=year)
    if sites.empty:
        return sites
    site_cols = pd.DataFrame(sites.drop(columns=[sites.geometry.name, "fid", "batch_id"]))
    classes = water.annual_site_classes(water.samples_wide(samples), site_cols, year=year)
    classes = classes.rename(columns={"class": "water_class"})
    keep = [c for c in ("site_name", "water_class", "deciding", "meets_target",
                        "exceedance_text") if c in classes]
    return sites.merge(classes[keep], on="site_name", how="left")


def _source(store: Store) -> str:
    b = store.batches()
    files = [f for f in b.get("source_file", pd.Series(dtype=object)).dropna().unique()]
    return "、".join(sorted({f.split("/")[0] if "/" in f else f for f in files})[:3]) or \
        store.location


def county_map(store: Store, *, year: int | None = None, lang: str = "zh",
               basemap: str = "none", tianditu_key: str | None = None,
               renderer: str = "auto"):
    """The county overview map of ``year`` (default: the latest year with plots).

    ``basemap``: ``none`` (offline, default), ``osm``, ``tianditu`` (needs
    ``tianditu_key``) or ``gaode``; see :func:`ecomap.maps.county_map`.
    """
    year = year or latest_year(store)
    county = store.county()
    name = str(county["name"].iloc[0]) if len(county) else ""
    return maps.county_map(
        county, store.townships(), _with_photos(store, store.plots(year=year), lang),
        summary(store, year=year),
        water_sites=water_site_classes(store, year=year), year=year or "",
        county_name=name, source=briefing_source(store, year=year, lang=lang, short=True),
        lang=lang, basemap=basemap,
        tianditu_key=tianditu_key, renderer=renderer, progress=_progress(store, year))


def _progress(store: Store, year) -> pd.DataFrame | None:
    """Progress by township against ``year``'s targets; None without targets."""
    if not year or not len(store.targets(year=year)):
        return None
    from ecomap.targets import store_progress

    return store_progress(store, year=year, by="township")


def _with_photos(store: Store, plots: gpd.GeoDataFrame, lang: str) -> gpd.GeoDataFrame:
    """``plots`` with the thumbnails of their photos for the popups, when there are any
    (:func:`ecomap.photos.photo_popups`: a size budget per map)."""
    photos = store.photos(target_kind="plot", thumbnails=True)
    if photos.empty or plots.empty:
        return plots
    from ecomap.photos.popup import photo_popups

    return plots.assign(photos_html=photo_popups(plots["fid"], photos, lang))


def _township_sites(store: Store, township: str, year: int | None) -> gpd.GeoDataFrame:
    sites = water_site_classes(store, year=year)
    if len(sites):
        sites = sites[sites["township"] == township]
    return sites


def township_map(store: Store, township: str, *, year: int | None = None, lang: str = "zh",
                 basemap: str = "none", tianditu_key: str | None = None,
                 renderer: str = "auto", all_years: bool = False, height: str = "640px",
                 table: bool = True):
    """The map of one township of ``year`` (default: the latest year with plots).

    ``all_years``: the plots of every year (water sites of the latest year), titled with
    the span of years; ``height`` and ``table`` as in :func:`ecomap.maps.township_map`
    (a page that frames the map: ``height="100%"``, ``table=False``).
    """
    year = None if all_years else (year or latest_year(store))
    sums = summary(store, year=year)
    span = sorted(set(sums["year"])) if all_years else []
    label = (f"{span[0]}–{span[-1]}" if len(span) > 1 else str(span[0]) if span else "") \
        if all_years else (year or "")
    sites = _township_sites(store, township, latest_year(store) if all_years else year)
    return maps.township_map(
        township, store.townships(),
        _with_photos(store, store.plots(year=year, township=township), lang), sums,
        water_sites=sites, year=label,
        source=briefing_source(store, year=year, lang=lang, short=True), lang=lang,
        county=store.county(), basemap=basemap, tianditu_key=tianditu_key,
        renderer=renderer, height=height, table=table)


def patches_map(store: Store, *, year: int | None = None, on=None, lang: str = "zh",
                basemap: str = "none", tianditu_key: str | None = None):
    """The map of ``year``'s inspection patches (default: the latest year with patches)
    coloured by their rectification status on ``on`` (a date or ``YYYY-MM-DD``; default:
    today), with each patch's state, history and photos in its popup."""
    from ecomap.maps._patches import patches_map as build
    from ecomap.patches.service import latest_year as latest_patch_year
    from ecomap.patches.status import FIELDS, patch_table

    on = briefing_date(on) if on else None
    year = year or latest_patch_year(store)
    patches = store.patches(year=year) if year else store.patches().iloc[:0]
    if len(patches):
        events = store.patch_events(year=year)
        table = patch_table(patches, events, on=on)
    else:  # nothing of that year: the county and townships, the legend with zeros
        events, table = None, pd.DataFrame(columns=["patch_id", *FIELDS, "in_charge"])
    county = store.county()
    name = str(county["name"].iloc[0]) if len(county) else ""
    photos = store.photos(target_kind="patch", thumbnails=True)
    return build(county, store.townships(), patches, table, events, photos,
                 year=year or "", on=on, county_name=name,
                 source=_patches_source(store, name, year, lang), lang=lang,
                 basemap=maps.get_basemap(basemap, tianditu_key=tianditu_key, lang=lang))


def _patches_source(store: Store, county: str, year, lang: str) -> str:
    """The patch map's data source: the province's layer and the status updates, with
    their batch numbers (``ecomap batches``)."""
    b = store.batches()
    kinds = b.get("kind", pd.Series(dtype=object))
    b = b[(kinds == "patch_updates") | ((kinds == "patches") & (b.get("year") == year))]
    ids = sorted(int(i) for i in b["batch_id"]) if len(b) else []
    span = "" if not ids else str(ids[0]) if len(ids) == 1 else f"{ids[0]}–{ids[-1]}"
    if lang == "en":
        return (f"{county} forest-inspection patches of {year} and their verification and "
                f"rectification records" + (f" (batches {span})" if span else ""))
    return f"{county}{year}年森林督查变化图斑及核实整改记录" + (f"（入库批次 {span}）" if span else "")


def briefing_date(date=None, *, timezone: str = "Asia/Shanghai"):
    """The briefing's date: ``date`` (a ``datetime.date`` or ``YYYY-MM-DD``), else today
    where the bureau is (``timezone``)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from ecomap.errors import InputError
    from ecomap.i18n import tr

    if isinstance(date, dt.date):
        return date
    if date:
        try:
            return dt.date.fromisoformat(str(date).strip())
        except ValueError:
            raise InputError(tr("日期 {value!r} 无法识别; 请写作 YYYY-MM-DD, 例如 2026-12-07",
                                "date {value!r} not understood; write it as YYYY-MM-DD, "
                                "e.g. 2026-12-07", value=date)) from None
    return dt.datetime.now(ZoneInfo(timezone)).date()


def briefing_source(store: Store, *, year: int | None = None, lang: str = "zh",
                    short: bool = False) -> str:
    """The briefing's data source, named from the store's batches of ``year``
    (``大余县2023年生态修复小班数据（入库批次 3–12）、…``); the store's name if none.

    ``short``: the first name only, without batch numbers (``…小班数据等``), for the
    notes of a map."""
    from ecomap.maps._briefing_text import source_text

    county = store.county()
    name = str(county["name"].iloc[0]) if len(county) else ""
    return source_text(store.batches(), county=name, year=year or "", lang=lang,
                       short=short) or _source(store)


def briefing(store: Store, *, year: int | None = None, lang: str = "zh",
             basemap: str = "none", tianditu_key: str | None = None, issuer: str = "",
             date=None, source: str = "", timezone: str = "Asia/Shanghai"):
    """The briefing page of ``year``: report sentences, tables, charts, county and
    township maps (a branca ``Figure``; :func:`ecomap.to_html` writes it as one file).

    ``issuer``: the issuing unit (编制单位) in the title block and the PDF footer;
    ``date``: the document's date (``YYYY-MM-DD``; default today in ``timezone``);
    ``source``: the data source line (default: named from the store's batches).
    """
    from ecomap.targets import store_year_over_year

    year = year or latest_year(store)
    county = store.county()
    name = str(county["name"].iloc[0]) if len(county) else ""
    progress, history = _progress(store, year), None
    if progress is not None:
        history = store_year_over_year(store, by="county")
        history = history[history["year"] <= int(year)]
    return maps.briefing(
        county, store.townships(), store.plots(year=year), summary(store, year=year),
        water_sites=water_site_classes(store, year=year), year=year or "", county_name=name,
        source=source or briefing_source(store, year=year, lang=lang),
        map_source=source or briefing_source(store, year=year, lang=lang, short=True),
        issuer=issuer, date=briefing_date(date, timezone=timezone), lang=lang,
        basemap=basemap, tianditu_key=tianditu_key, progress=progress, history=history,
        patches_sentence=_patches_sentence(store, year, lang))


def _patches_sentence(store: Store, year, lang: str) -> str | None:
    """The sentence on the latest inspection year's patches up to ``year``, or None."""
    from ecomap.patches.service import store_sentence

    years = store.patches()["year"].dropna().astype(int)
    years = years[years <= int(year)] if year else years
    return store_sentence(store, int(years.max()), lang) if len(years) else None


def briefing_files(store: Store, *, year: int | None = None, lang: str = "zh",
                   county=None, **briefing_options) -> dict[str, bytes]:
    """Everything a briefing needs, as file name → bytes (nothing is written here):
    ``summary.csv/.xlsx/.json``, the water tables when there are sites, ``county.html``,
    ``briefing.html`` and ``township/<name>.html``, each map one self-contained file.

    ``county``: a county map to use instead of :func:`county_map` (with extra layers);
    ``briefing_options``: ``issuer``, ``date``, ``source``, ``timezone`` of :func:`briefing`.
    """
    from ecomap import water
    from ecomap.io.export import table_bytes

    year = year or latest_year(store)
    table = summary(store, year=year)
    shown = aggregate.display_table(table, lang=lang)
    files = {"summary.csv": table_bytes(shown, ".csv"),
             "summary.xlsx": table_bytes(shown, ".xlsx"),
             "summary.json": table_bytes(table, ".json",
                                         records=aggregate.summary_records(table))}
    sites = water_site_classes(store, year=year)
    if len(sites):
        wt = water.site_table(sites, lang=lang)
        files["water_sites.csv"] = table_bytes(wt, ".csv")
        files["water_sites.xlsx"] = table_bytes(wt, ".xlsx", sheet="水质")
        comp = water.compliance_table(water.compliance(sites, by="township"), lang=lang)
        files["water_compliance.csv"] = table_bytes(comp, ".csv")
    county = county if county is not None else county_map(store, year=year, lang=lang)
    files["county.html"] = maps.to_html(county).encode("utf-8")
    files["briefing.html"] = maps.to_html(briefing(store, year=year, lang=lang,
                                                      **briefing_options)).encode("utf-8")
    for name in store.townships()["name"]:
        # The name becomes a file name: no folders, whatever the township layer says.
        safe = "".join("_" if c in '/\\:*?"<>|' or ord(c) < 32 else c for c in str(name))
        files[f"township/{safe.strip('. ') or '_'}.html"] = maps.to_html(
            township_map(store, name, year=year, lang=lang)).encode("utf-8")
    return files
