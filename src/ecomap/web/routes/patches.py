"""Forest-inspection patches on the web: the list (督查图斑), one patch with its history
and photos, its update and photo upload (pages and JSON API), and the photos
themselves.  A township-bound editor changes only its township's patches
(:func:`ecomap.web.patchviews.check_may_edit`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from ecomap.errors import InputError, NotFoundError, ValidationError
from ecomap.i18n import render, tr, use_lang
from ecomap.web.accounts import Session
from ecomap.web.auth import Editor, Viewer, check_csrf
from ecomap.web.data import store_of
from ecomap.web.deps import Lang, SettingsDep
from ecomap.web.figures import zone_label
from ecomap.web.guard import Year, upload_too_large
from ecomap.web.patchviews import check_may_edit, patch_list, patch_view
from ecomap.web.responses import map_response, page, redirect

__all__ = ["PHOTO_PATHS", "router"]

router = APIRouter()

#: The photo uploads, authorized and size-limited before their body is read.
PHOTO_PATHS = ("/upload/photos", "/api/uploads/photos")
_FIELDS = ("verification", "unlawful_type", "status", "deadline", "rectified_on",
           "closed_on", "note")


def _changes(verification: Annotated[str, Form()] = "",
             unlawful_type: Annotated[str, Form()] = "",
             status: Annotated[str, Form()] = "",
             deadline: Annotated[str, Form()] = "",
             rectified_on: Annotated[str, Form()] = "",
             closed_on: Annotated[str, Form()] = "",
             note: Annotated[str, Form()] = "") -> dict[str, str]:
    """The update form's fields (the page's and the API's), as ``{field: value}``."""
    return dict(zip(_FIELDS, (verification, unlawful_type, status, deadline, rectified_on,
                              closed_on, note), strict=True))


Changes = Annotated[dict, Depends(_changes)]


def _in_charge(st, patch_id: str) -> str | None:
    from ecomap.patches.service import store_patch_table

    t = store_patch_table(st) if len(st.patches()) else None
    row = t[t["patch_id"] == str(patch_id)] if t is not None else []
    if not len(row):
        raise NotFoundError(tr("库中没有图斑 {id}; 督查图斑页列出了已入库的图斑",
                               "no patch {id} in the store; the patches page lists them",
                               id=patch_id))
    return row["in_charge"].iloc[0]


def update(request: Request, s: Session, patch_id: str, changes: dict) -> list[tuple]:
    """Record ``changes`` to one patch for ``s`` (refused outside its township)."""
    from ecomap.patches.service import update_patch

    changes = {k: (v.strip() if isinstance(v, str) else v) for k, v in changes.items()}
    changes = {k: v for k, v in changes.items() if v not in (None, "")}
    with request.app.state.write_lock, store_of(request) as st:
        check_may_edit(s.user, _in_charge(st, patch_id), patch_id)
        return update_patch(st, patch_id, changes, user=s.user.name)


def add_photos(request: Request, s: Session, patch_id: str, files: list[UploadFile]):
    """Store the JPEGs sent for one patch (refused outside the account's township)."""
    from ecomap.photos.service import add_photos as _add

    settings = request.app.state.settings
    limit = settings.max_upload_mb * 1e6
    items, total = [], 0
    for f in files:
        if not f.filename:
            continue
        data = f.file.read(int(limit) + 1)
        total += len(data)
        if total > limit:
            raise upload_too_large(settings.max_upload_mb, f.filename)
        items.append((f.filename, data))
    if not items:
        raise InputError(tr("没有照片 (.jpg/.jpeg) 可入库; 请选择照片后再上传",
                            "no photos (.jpg/.jpeg) to store; choose photos and send again"))
    with request.app.state.write_lock, store_of(request) as st:
        check_may_edit(s.user, _in_charge(st, patch_id), patch_id)
        return _add(items, st, user=s.user.name, tolerance_m=settings.photo_tolerance_m,
                    timezone=settings.timezone, patch=patch_id)


def _result_json(added) -> dict:
    return {"batch_id": added.batch_id, "photos": [
        {"file": r.file_name, "stored": r.stored, "patch": r.key, "reason": r.reason,
         "warning": r.warning, "taken_at": r.taken_at} for r in added.results]}


# --- pages ----------------------------------------------------------------------------

@router.get("/patches", response_class=HTMLResponse, include_in_schema=False)
def patches_page(request: Request, s: Viewer, lang: Lang, year: Year = None,
                 township: str | None = None):
    """The patches of ``year``: a bound account's township first (``?township=`` any,
    ``?township=`` empty: the county)."""
    if township is None:
        township = s.user.township
    with store_of(request) as st:
        view = patch_list(st, year=year, township=township or None, lang=lang,
                          zone=request.app.state.settings.timezone)
    return page(request, "patches.html", township=township or "", **view)


def _patch_page(request: Request, s: Session, patch_id: str, lang: str, *, status=200,
                error=None, problems=(), done=None, sent=None):
    zone = request.app.state.settings.timezone
    with store_of(request) as st:
        view = patch_view(st, patch_id, lang, zone=zone)
    view["zone"] = zone_label(zone)
    view["may_edit"] = s.user.may_edit(view["p"]["in_charge"])
    return page(request, "patch.html", status=status, error=error, problems=problems,
                done=done, sent=sent or {}, **view)


@router.get("/patches/{patch_id}", response_class=HTMLResponse, include_in_schema=False)
def patch_page(request: Request, patch_id: str, s: Viewer, lang: Lang,
               updated: int | None = None, photos: int | None = None):
    done = (tr("已保存 {n} 项变更", "{n} changes saved", n=updated) if updated is not None
            else tr("已入库 {n} 张照片", "{n} photos stored", n=photos) if photos is not None
            else None)
    with use_lang(lang):
        return _patch_page(request, s, patch_id, lang, done=render(done) if done else None)


@router.post("/patches/{patch_id}", include_in_schema=False)
def patch_update_form(request: Request, patch_id: str, s: Editor, lang: Lang,
                      values: Changes, csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    try:
        with use_lang(lang):
            done = update(request, s, patch_id, values)
    except ValidationError as exc:  # a refused change: the page again, with why
        with use_lang(lang):
            return _patch_page(request, s, patch_id, lang, status=422, error=str(exc),
                               problems=[render(p["message"]) for p in exc.problems],
                               sent=values)
    return redirect(f"/patches/{quote(patch_id, safe='')}?updated={len(done)}")


@router.post("/upload/photos", include_in_schema=False)
def patch_photos_form(request: Request, s: Editor, lang: Lang,
                      patch: Annotated[str, Query()],
                      files: Annotated[list[UploadFile], File()]):
    # The CSRF token of the action URL was checked before the body was read (UploadGate).
    check_csrf(request, s, request.query_params.get("csrf"))
    with use_lang(lang):
        added = add_photos(request, s, patch, files)
    if added.refused:
        with use_lang(lang):
            return _patch_page(
                request, s, patch, lang, status=200 if added.batch_id else 422,
                done=render(tr("已入库 {n} 张照片", "{n} photos stored",
                               n=len(added.results) - len(added.refused)))
                if added.batch_id else None,
                error=render(tr("{n} 张照片未入库:", "{n} photos not stored:",
                                n=len(added.refused))),
                problems=[r.reason for r in added.refused])
    return redirect(f"/patches/{quote(patch, safe='')}?photos={len(added.results)}")


@router.get("/maps/patches.html", response_class=HTMLResponse, include_in_schema=False)
def patches_map_page(request: Request, s: Viewer, lang: Lang, year: Year = None):
    """The map of the patches coloured by status, history and photos in the popups."""
    from ecomap import api
    from ecomap.maps import to_html
    from ecomap.web.cache import Rendered

    with store_of(request) as st:
        # A single update stores events without a batch: they are part of the key.
        ev = st.patch_events(year=year)
        key = ("patches", year, lang, len(ev), ev["event_id"].max() if len(ev) else None)
        doc = request.app.state.cache.answer(st, key, lambda: Rendered.of(to_html(
            api.patches_map(st, year=year, lang=lang))))
    return map_response(request, doc)


@router.get("/photos/{photo_id}.jpg", include_in_schema=False)
def photo_thumbnail(request: Request, photo_id: str, s: Viewer):
    with store_of(request) as st:
        row = st.photos(thumbnails=True, photo_id=photo_id)
    if row.empty:
        raise NotFoundError(tr("没有照片 {id}", "no photo {id}", id=photo_id))
    return Response(bytes(row["thumbnail"].iloc[0]), media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/photos/{photo_id}/full.jpg", include_in_schema=False)
def photo_full(request: Request, photo_id: str, s: Viewer):
    with store_of(request) as st:
        data = st.photo_image(photo_id)
    if data is None:
        raise NotFoundError(tr("没有照片 {id}", "no photo {id}", id=photo_id))
    return Response(data, media_type="image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})


# --- JSON API -------------------------------------------------------------------------

@router.get("/api/patches", tags=["patches"])
def api_patches(request: Request, s: Viewer, lang: Lang, year: Year = None,
                township: str | None = None) -> dict:
    """The patches of ``year`` (default: the latest) with their state, the sentence and
    the counts by township."""
    with store_of(request) as st:
        return patch_list(st, year=year, township=township, lang=lang)


@router.get("/api/patches/{patch_id}", tags=["patches"])
def api_patch(request: Request, patch_id: str, s: Viewer, lang: Lang) -> dict:
    """One patch: its state, history (latest first) and photos."""
    with store_of(request) as st:
        view = patch_view(st, patch_id, lang)
    return {k: view[k] for k in ("p", "history", "photos")}


@router.post("/api/patches/{patch_id}", tags=["patches"])
def api_patch_update(request: Request, patch_id: str, s: Editor, lang: Lang,
                     values: Changes) -> dict:
    """Update one patch (form fields as ``ecomap patches update``; dates YYYY-MM-DD);
    a refused change is a 422 with the message."""
    check_csrf(request, s, None)
    with use_lang(lang):
        done = update(request, s, patch_id, values)
    return {"patch_id": patch_id, "events": [{"field": f, "value": v} for f, v in done]}


@router.post("/api/uploads/photos", tags=["patches"])
def api_patch_photos(request: Request, s: Editor, lang: Lang, settings: SettingsDep,
                     patch: Annotated[str, Query()],
                     files: Annotated[list[UploadFile], File()]) -> dict:
    """Store evidence photos (JPEG) of patch ``?patch=ID``; each photo's result."""
    check_csrf(request, s, None)
    with use_lang(lang):
        return _result_json(add_photos(request, s, patch, files))
