"""Uploads: send a plot file, review its check (report and preview map), then store it
as one batch — or discard it; the same for pages and the JSON API.

The sign-in, role and CSRF token of ``POST /upload`` and ``POST /api/uploads`` are
checked, and the size limit answered, before the body is read (:mod:`ecomap.web.guard`,
:func:`ecomap.web.auth.authorize_upload`); the checking itself is
:class:`ecomap.web.uploads.Uploads`'.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from ecomap.errors import NotFoundError, PermissionDenied
from ecomap.i18n import tr, use_lang
from ecomap.web.accounts import Session
from ecomap.web.auth import Editor, check_csrf
from ecomap.web.cache import Rendered
from ecomap.web.data import store_of
from ecomap.web.deps import Lang, SettingsDep, StagingDep, UploadsDep
from ecomap.web.responses import map_response, page, redirect
from ecomap.web.uploads import Uploads

__all__ = ["router"]

router = APIRouter()


# --- shared actions (pages and API) -------------------------------------------------

def may_replace(s: Session, batches, batch_id: int) -> bool:
    """Whether ``s`` may replace the batch: an editor their own plot batch, an admin
    any plot batch (as for rollback)."""
    row = batches[batches["batch_id"] == int(batch_id)]
    if row.empty or row["kind"].iloc[0] != "plots":
        return False
    return s.user.can("admin") or (s.user.can("editor")
                                   and row["user"].iloc[0] == s.user.name)


def check_may_replace(s: Session, st, batch_id: int) -> None:
    b = st.batches()
    row = b[b["batch_id"] == int(batch_id)]
    if row.empty:
        raise NotFoundError(tr("没有批次 {batch}; 入库批次页列出了已入库的批次",
                               "no batch {batch}; the batch list shows those stored",
                               batch=int(batch_id)))
    if not may_replace(s, b, batch_id):
        raise PermissionDenied(tr(
            "批次 {batch} 由 {owner} 入库; 编辑只能替换自己入库的图斑批次, 请联系管理员",
            "batch {batch} was stored by {owner!r}; an editor may replace only plot "
            "batches of their own — ask an administrator", batch=int(batch_id),
            owner=row["user"].iloc[0]))


def bound_township(s: Session) -> str | None:
    """The township an editor's uploads must lie in (None: anywhere)."""
    return None if s.user.can("admin") else s.user.township


def confirm_upload(uploads: Uploads, s: Session, token: str, lang: str = "zh",
                   batch_to_replace: int | None = None) -> dict:
    with use_lang(lang):
        return uploads.confirm(s.user, token, replace=batch_to_replace,
                               check_replace=lambda st, b: check_may_replace(s, st, b))


# --- pages ----------------------------------------------------------------------------

@router.get("/upload", response_class=HTMLResponse, include_in_schema=False)
def upload_page(request: Request, s: Editor, lang: Lang, settings: SettingsDep,
                staging: StagingDep):
    from ecomap.schema import CATEGORIES

    cats = [(c.code, c.name(lang)) for c in CATEGORIES.values()]
    return page(request, "upload.html", categories=cats, max_mb=settings.max_upload_mb,
                pending=staging.pending(s.user))


@router.post("/upload", include_in_schema=False)
def upload_form(request: Request, s: Editor, file: Annotated[UploadFile, File()],
                category: Annotated[str, Form()], year: Annotated[int, Form()],
                uploads: UploadsDep, lang: Lang, csrf: Annotated[str, Form()] = ""):
    # The token of the action URL was checked before the body was read (UploadGate).
    check_csrf(request, s, csrf or request.query_params.get("csrf"))
    item = uploads.stage(s.user.name, file, category, year, lang,
                         township=bound_township(s))
    return redirect(f"/uploads/{item.token}")


@router.get("/uploads/{token}", response_class=HTMLResponse, include_in_schema=False)
def review_page(request: Request, token: str, s: Editor, lang: Lang, staging: StagingDep):
    from ecomap.schema import category_label

    item = staging.get(token, s.user)
    offers = []
    if item.replaceable:
        with store_of(request) as st:
            b = st.batches()
        offers = [n for n in item.replaceable if may_replace(s, b, n)]
    return page(request, "review.html", item=item, r=item.report_in(lang), offers=offers,
                category=category_label(item.category, lang))


@router.get("/uploads/{token}/preview.html", response_class=HTMLResponse,
            include_in_schema=False)
def review_preview(request: Request, token: str, s: Editor, lang: Lang,
                   staging: StagingDep, uploads: UploadsDep):
    item = staging.get(token, s.user)
    if not item.has_preview:
        raise NotFoundError(tr("{name}: 没有可绘制的内容 (文件无法读取)",
                               "{name}: nothing to draw (the file could not be read)",
                               name=item.name))
    return map_response(request, Rendered.of(uploads.preview_html(item, lang)))


@router.post("/uploads/{token}/confirm", include_in_schema=False)
def review_confirm(request: Request, token: str, s: Editor, lang: Lang, uploads: UploadsDep,
                   csrf: Annotated[str, Form()] = "",
                   replace: Annotated[int | None, Form()] = None):
    check_csrf(request, s, csrf)
    done = confirm_upload(uploads, s, token, lang, replace)
    return redirect(f"/batches?stored={done['batch_id']}"
                    + (f"&replaced={replace}" if replace is not None else ""))


@router.post("/uploads/{token}/discard", include_in_schema=False)
def review_discard(request: Request, token: str, s: Editor, staging: StagingDep,
                   csrf: Annotated[str, Form()] = ""):
    check_csrf(request, s, csrf)
    item = staging.get(token, s.user)
    staging.drop(item.token)
    return redirect("/upload")


# --- JSON API -------------------------------------------------------------------------

@router.post("/api/uploads", tags=["uploads"])
def api_upload(request: Request, s: Editor, file: Annotated[UploadFile, File()],
               category: Annotated[str, Form()], year: Annotated[int, Form()],
               lang: Lang, uploads: UploadsDep, staging: StagingDep,
               confirm: Annotated[bool, Form()] = False,
               replace: Annotated[int | None, Form()] = None) -> dict:
    """Check a plot file (the JSON report of ``ecomap validate``); with
    ``confirm=true`` store it at once when it is not rejected (with ``replace=N``,
    replacing the plot batch N; ``replaceable`` lists the stored batches the file
    repeats)."""
    check_csrf(request, s, None)
    item = uploads.stage(s.user.name, file, category, year, lang,
                         township=bound_township(s))
    out = {"upload_id": item.token, "report": item.report, "batch_id": None,
           "replaceable": item.replaceable}
    if confirm and (item.report["status"] != "reject" or replace is not None):
        out["batch_id"] = confirm_upload(uploads, s, item.token, lang, replace)["batch_id"]
    elif item.report["status"] == "reject" and not item.replaceable:
        staging.drop(item.token)
        out["upload_id"] = None
    return out


@router.get("/api/uploads/{token}", tags=["uploads"])
def api_upload_report(request: Request, token: str, s: Editor, lang: Lang,
                      staging: StagingDep) -> dict:
    return staging.get(token, s.user).report_in(lang)


@router.post("/api/uploads/{token}/confirm", tags=["uploads"])
def api_confirm(request: Request, token: str, s: Editor, lang: Lang, uploads: UploadsDep,
                replace: Annotated[int | None, Form()] = None) -> dict:
    """Store a checked upload as one batch; ``replace=N`` rolls back the plot batch N
    in the same transaction (editors: their own batches; admins: any)."""
    check_csrf(request, s, None)
    return confirm_upload(uploads, s, token, lang, replace)


@router.delete("/api/uploads/{token}", tags=["uploads"])
def api_discard(request: Request, token: str, s: Editor, staging: StagingDep) -> dict:
    check_csrf(request, s, None)
    staging.drop(staging.get(token, s.user).token)
    return {"discarded": token}
