"""The JSON API's data: the summary, the townships and the stored batches.  (Sign-in
and accounts are in :mod:`.users`, uploads in :mod:`.uploads`.)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ecomap.web.auth import Editor, Viewer, check_csrf
from ecomap.web.data import batch_records, rollback_batch, store_of, summary_json
from ecomap.web.guard import Year

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/summary", tags=["data"])
def api_summary(request: Request, s: Viewer, year: Year = None) -> list[dict]:
    """Area (mu, ha) and plot count by township, category and year: records of
    ``township, category, year, count, area_mu, area_ha`` (category codes as in
    ``ecomap summary --format json``)."""
    with store_of(request) as st:
        body = summary_json(request, st, year)
    return Response(body, media_type="application/json")


@router.get("/townships", tags=["data"])
def api_townships(request: Request, s: Viewer) -> list[dict]:
    with store_of(request) as st:
        t = st.townships()
    return [{"name": r["name"], "name_en": r.get("name_en")}
            for r in t.drop(columns="geometry").to_dict("records")]


@router.get("/batches", tags=["batches"])
def api_batches(request: Request, s: Viewer) -> list[dict]:
    with store_of(request) as st:
        return batch_records(st)


@router.post("/batches/{batch_id}/rollback", tags=["batches"])
def api_rollback(request: Request, batch_id: int, s: Editor) -> dict:
    """Remove one batch (editors: their own plot batches; admins: any)."""
    check_csrf(request, s, None)
    return rollback_batch(request, s, batch_id)
