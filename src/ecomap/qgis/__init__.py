"""The store as QGIS opens it: default layer styles and a project inside the GeoPackage.

:func:`write_qgis` writes, without QGIS, what QGIS 3.22 itself writes:

- ``layer_styles``: a default style (QML) of ``plots`` (categorised by category with
  ecomap's colours and Chinese names), ``townships`` (dashed, labelled with a halo),
  ``county`` and ``water_sites`` (by GB 3838 target class), with Chinese field aliases;
- ``qgis_projects``: the project ``ecomap`` — the layers grouped and ordered as on the
  county map, and an A4 print layout (title, legend, scale bar, north arrow, notes).

Open it in QGIS with *Project → Open From → GeoPackage*; a layer added from the file
by hand gets its default style too.  The data layers are not touched.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from ecomap.errors import StoreError
from ecomap.i18n import tr

__all__ = ["PROJECT_NAME", "STYLE_NAME", "default_title", "write_qgis"]

PROJECT_NAME = "ecomap"
STYLE_NAME = "ecomap"


def default_title(info: dict, lang: str = "zh") -> str:
    """The county map's title, of the latest year with plots: ``大余县生态修复“落地上图”(2023)``."""
    from ecomap.qgis._qml import _style

    years = info.get("years")
    year = str(years[1]) if years else ""
    county = info.get("county") or ("本县" if lang == "zh" else "County")
    return _style.text("county_title", lang, county=county, year=year)


def _notes(info: dict, lang: str, file_name: str, date: str) -> tuple[str, ...]:
    from ecomap import __version__
    from ecomap.qgis._qml import _style

    notes = [_style.text("source", lang, source=file_name, version=__version__, date=date)]
    if info["illustrative"]:
        notes.insert(0, _style.text("illustrative", lang))
    return tuple(notes)


def _today(timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return _dt.datetime.now(ZoneInfo(timezone)).date().isoformat()


def _canvas_crs(extent) -> tuple[int, str]:
    """EPSG code and WKT of the county's CGCS2000 3-degree Gauss-Kruger zone."""
    from pyproj import CRS

    from ecomap.crs import gk_zone_epsg

    epsg = gk_zone_epsg((extent[0] + extent[2]) / 2) if extent else 4547
    return epsg, CRS.from_epsg(epsg).to_wkt()


def write_qgis(store_path: str | os.PathLike, *, lang: str | None = None,
               title: str | None = None, date: str | None = None,
               timezone: str = "Asia/Shanghai", file_name: str | None = None) -> dict:
    """(Re)write ecomap's default styles and QGIS project into the GeoPackage
    ``store_path``, in one transaction.

    Parameters
    ----------
    store_path
        An ecomap GeoPackage store.
    lang
        Language of names, legend labels, aliases and layout texts (default: the
        language in force, zh unless --lang en or $ECOMAP_LANG says otherwise).
    title
        Layout title (default: the county map's title).
    date
        Date on the layout, ``YYYY-MM-DD`` (default: today in ``timezone``, where the
        bureau is).
    file_name
        The file name the project's layers read from, beside the project (default:
        ``store_path``'s; a store being built under a temporary name passes its final
        one).

    Returns what was written: ``{"styles": [layers], "project": name, "title": …}``.
    """
    from ecomap.crs import transform_bounds
    from ecomap.i18n import current_lang
    from ecomap.qgis import _gpkg, _project, _qml

    lang = lang or current_lang()
    path = Path(store_path)
    if not path.is_file():
        raise StoreError(tr("{path} 不存在, 无法写入 QGIS 样式", "{path} does not exist: no "
                            "QGIS styles written", path=path))
    con = _gpkg.connect(path)
    try:
        con.execute("BEGIN IMMEDIATE")
        try:
            info = _gpkg.read_store(con)
            county = info["extents"].get("county") or info["extents"].get("townships")
            epsg, wkt = _canvas_crs(county)
            extent = (transform_bounds(county, "EPSG:4490", f"EPSG:{epsg}") if county
                      else (0.0, 0.0, 1.0, 1.0))
            spec = _project.ProjectSpec(
                file_name=file_name or path.name, title=title or default_title(info, lang), lang=lang,
                extent=extent, layer_extents=info["extents"], canvas_epsg=epsg,
                canvas_wkt=wkt, categories=info["categories"], classes=info["classes"],
                illustrative=info["illustrative"],
                notes=_notes(info, lang, file_name or path.name, date or _today(timezone)),
                legend_title="图例" if lang == "zh" else "Legend",
                plot_year=info["years"][1] if info.get("years") else None)
            _gpkg.write_tables(con, spec)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
    finally:
        con.close()
    return {"styles": list(_qml.LAYER_GEOMETRY), "project": PROJECT_NAME, "title": spec.title}
