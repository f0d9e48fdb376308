"""The pages to look at: the overview, townships, maps and the list of batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from ecomap.web.auth import Editor, Viewer, check_csrf
from ecomap.web.data import (
    batch_records,
    county_map_doc,
    dashboard_rows,
    known_township,
    latest_year,
    rollback_batch,
    store_of,
    summary_frame,
    table_rows,
    township_map_doc,
)
from ecomap.web.deps import Lang, StagingDep
from ecomap.web.guard import Year
from ecomap.web.responses import map_response, page, redirect

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, s: Viewer, lang: Lang, staging: StagingDep,
              year: Year = None):
    with store_of(request) as st:
        year = year or latest_year(request, st)
        cols, rows, towns = dashboard_rows(request, st, year, lang)
    return page(request, "dashboard.html", year=year, cols=cols, rows=rows, towns=towns,
                pending=staging.pending(s.user))


@router.get("/maps/county.html", response_class=HTMLResponse)
def county_map_page(request: Request, s: Viewer, lang: Lang, year: Year = None):
    return map_response(request, county_map_doc(request, lang, year))


@router.get("/townships/{name}", response_class=HTMLResponse)
def township_page(request: Request, name: str, s: Viewer, lang: Lang, year: Year = None):
    from ecomap.schema import category_label
    from ecomap.units import mu_from_m2

    with store_of(request) as st:
        known_township(st, name)
        year = year or latest_year(request, st)
        summary = summary_frame(request, st, year)
        cols, rows = table_rows(summary[summary["township"] == name], lang)
        plots = st.plots(year=year, township=name)
    plot_rows = [[str(r.get("plot_id") or ""), category_label(r.get("category"), lang),
                  round(float(mu_from_m2(r["area_m2"])), 2)]
                 for r in plots.drop(columns="geometry").to_dict("records")]
    return page(request, "township.html", name=name, year=year, cols=cols, rows=rows,
                plots=plot_rows)


@router.get("/maps/township/{name}.html", response_class=HTMLResponse)
def township_map_page(request: Request, name: str, s: Viewer, lang: Lang,
                      year: Year = None):
    return map_response(request, township_map_doc(request, name, lang, year))


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, s: Viewer, stored: int | None = None,
                 rolled_back: int | None = None, replaced: int | None = None):
    with store_of(request) as st:
        rows = batch_records(st)
    for r in rows:
        r["can_rollback"] = s.user.can("admin") or (
            s.user.can("editor") and r["user"] == s.user.name and r["kind"] == "plots")
    return page(request, "batches.html", batches=rows[::-1], stored=stored,
                rolled_back=rolled_back, replaced=replaced)


@router.post("/batches/{batch_id}/rollback")
def batches_rollback(request: Request, batch_id: int, s: Editor,
                     csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    rollback_batch(request, s, batch_id)
    return redirect(f"/batches?rolled_back={batch_id}")
