"""Files to download: the summary table, a township's plots, the briefing pack."""

from __future__ import annotations

import io
import zipfile

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ecomap.errors import NotFoundError
from ecomap.i18n import tr
from ecomap.web.auth import Viewer
from ecomap.web.data import known_township, store_of, summary_frame
from ecomap.web.deps import Lang
from ecomap.web.guard import Year
from ecomap.web.responses import attachment

__all__ = ["router"]

router = APIRouter(tags=["downloads"])


@router.get("/downloads/summary.{fmt}", response_class=Response,
            responses={200: {"description": "CSV or XLSX"}})
def download_summary(request: Request, fmt: str, s: Viewer, lang: Lang, year: Year = None):
    from ecomap.aggregate import display_table
    from ecomap.io.export import table_bytes

    if fmt not in ("csv", "xlsx"):
        raise NotFoundError(tr("没有 .{fmt} 格式的汇总表; 请用 summary.csv 或 summary.xlsx",
                               "no summary as .{fmt}; use summary.csv or summary.xlsx",
                               fmt=fmt))
    with store_of(request) as st:
        shown = display_table(summary_frame(request, st, year), lang=lang)
    media = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return attachment(table_bytes(shown, f".{fmt}"), f"summary.{fmt}", media)


@router.get("/townships/{name}/plots.gpkg", response_class=Response,
            responses={200: {"description": "GeoPackage"}})
def download_township_plots(request: Request, name: str, s: Viewer, year: Year = None):
    from ecomap.io.export import layer_bytes

    with store_of(request) as st:
        known_township(st, name)
        plots = st.plots(year=year, township=name)
    return attachment(layer_bytes(plots, layer="plots", driver="GPKG"),
                      f"{name}_plots.gpkg", "application/geopackage+sqlite3")


@router.get("/downloads/briefing.zip", response_class=Response,
            responses={200: {"description": "zip"}})
def download_briefing(request: Request, s: Viewer, lang: Lang, year: Year = None):
    from ecomap import api

    cfg = request.app.state.settings  # the briefing's issuer (编制单位) and date
    with store_of(request) as st:
        files = api.briefing_files(st, year=year, lang=lang, issuer=cfg.issuer, date=cfg.date,
                                   timezone=cfg.timezone)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return attachment(buf.getvalue(), "briefing.zip", "application/zip")
