"""The pages to look at: the overview, townships, maps and the list of batches."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from ecomap.web.auth import Editor, Viewer, check_csrf
from ecomap.web.data import (
    batch_records,
    batch_to_remove,
    county_map_doc,
    dashboard_view,
    latest_year,
    rollback_batch,
    store_of,
    township_map_doc,
    township_view,
)
from ecomap.web.deps import Lang, SettingsDep, StagingDep
from ecomap.web.figures import batch_view, zone_label
from ecomap.web.guard import Year
from ecomap.web.responses import map_response, page, redirect

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, s: Viewer, lang: Lang, staging: StagingDep,
              year: Year = None):
    with store_of(request) as st:
        year = year or latest_year(request, st)
        view = dashboard_view(request, st, year, lang)
    return page(request, "dashboard.html", year=year, **view,
                pending=staging.pending(s.user))


@router.get("/maps/county.html", response_class=HTMLResponse)
def county_map_page(request: Request, s: Viewer, lang: Lang, year: Year = None):
    return map_response(request, county_map_doc(request, lang, year))


@router.get("/townships/{name}", response_class=HTMLResponse)
def township_page(request: Request, name: str, s: Viewer, lang: Lang, year: Year = None):
    """One township, every year unless ``?year=`` chooses one."""
    with store_of(request) as st:
        view = township_view(request, st, name, year, lang)
    return page(request, "township.html", name=name, year=year, **view)


@router.get("/maps/township/{name}.html", response_class=HTMLResponse)
def township_map_page(request: Request, name: str, s: Viewer, lang: Lang,
                      year: Year = None):
    return map_response(request, township_map_doc(request, name, lang, year))


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, s: Viewer, lang: Lang, settings: SettingsDep,
                 stored: int | None = None, rolled_back: int | None = None,
                 replaced: int | None = None):
    with store_of(request) as st:
        rows = [batch_view(r, settings.timezone, lang) for r in batch_records(st)]
    for r in rows:
        r["can_rollback"] = s.user.can("admin") or (
            s.user.can("editor") and r["user"] == s.user.name and r["kind"] == "plots")
    return page(request, "batches.html", batches=rows[::-1], stored=stored,
                rolled_back=rolled_back, replaced=replaced, zone=zone_label(settings.timezone))


@router.get("/batches/{batch_id}/rollback", response_class=HTMLResponse)
def batches_rollback_ask(request: Request, batch_id: int, s: Editor, lang: Lang,
                         settings: SettingsDep):
    """What rolling back the batch removes, and the button that does it (nothing is
    removed by this page)."""
    with store_of(request) as st:
        batch = batch_view(batch_to_remove(st, s, batch_id), settings.timezone, lang)
    return page(request, "rollback.html", batch=batch, zone=zone_label(settings.timezone))


@router.post("/batches/{batch_id}/rollback")
def batches_rollback(request: Request, batch_id: int, s: Editor,
                     csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    rollback_batch(request, s, batch_id)
    return redirect(f"/batches?rolled_back={batch_id}")
