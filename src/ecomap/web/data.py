"""The store as the web routes see it: opened for each question, answers kept per
store state (:mod:`ecomap.web.cache`), batches listed and rolled back.

Several routers ask the same questions (the overview page, the downloads and the JSON
API): they are asked here, once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import Request

from ecomap.errors import NotFoundError, PermissionDenied
from ecomap.i18n import tr
from ecomap.web.accounts import Session
from ecomap.web.cache import Rendered

__all__ = ["batch_records", "county_map_doc", "dashboard_rows", "known_township",
           "latest_year", "rollback_batch", "store_at", "store_of", "summary_frame",
           "summary_json", "table_rows", "township_map_doc"]


@contextlib.contextmanager
def store_at(location: str) -> Iterator:
    """The store at ``location``, open while the ``with`` block runs."""
    from ecomap.store import open_store

    st = open_store(location)
    try:
        yield st
    finally:
        st.close()


def store_of(request: Request) -> contextlib.AbstractContextManager:
    """The app's store, opened for one ``with`` block (``app.state.open_store``)."""
    return request.app.state.open_store()


def _cached(request: Request, st, what: tuple, build):
    return request.app.state.cache.answer(st, what, build)


def summary_frame(request: Request, st, year):
    """The summary of ``year`` (None: every year); callers must not change it."""
    from ecomap import api

    return _cached(request, st, ("summary", year), lambda: api.summary(st, year=year))


def latest_year(request: Request, st) -> int | None:
    from ecomap import api

    return _cached(request, st, ("latest",), lambda: api.latest_year(st))


def county_map_doc(request: Request, lang: str, year: int | None) -> Rendered:
    from ecomap import api
    from ecomap.maps import to_html

    with store_of(request) as st:
        return _cached(request, st, ("county", year, lang), lambda: Rendered.of(to_html(
            api.county_map(st, year=year, lang=lang))))


def township_map_doc(request: Request, name: str, lang: str, year: int | None) -> Rendered:
    from ecomap import api
    from ecomap.maps import to_html

    with store_of(request) as st:
        known_township(st, name)
        return _cached(request, st, ("township", name, year, lang), lambda: Rendered.of(
            to_html(api.township_map(st, name, year=year, lang=lang))))


def dashboard_rows(request: Request, st, year: int | None, lang: str) -> tuple:
    """The overview's table (columns, rows) and township names."""
    return _cached(request, st, ("dashboard", year, lang),
                   lambda: (*table_rows(summary_frame(request, st, year), lang),
                            st.townships()["name"].tolist()))


def summary_json(request: Request, st, year: int | None) -> bytes:
    """The summary of ``year`` as the JSON API gives it."""
    import json

    from ecomap.aggregate import summary_records

    return _cached(request, st, ("summary.json", year), lambda: json.dumps(
        summary_records(summary_frame(request, st, year)), ensure_ascii=False).encode())


def known_township(st, name: str) -> None:
    names = st.townships()["name"].tolist()
    if name not in names:
        raise NotFoundError(tr("没有乡镇 {name!r}; 现有乡镇: {names}",
                               "no township {name!r}; the townships are {names}",
                               name=name, names=", ".join(names) or "-"))


def table_rows(summary, lang: str) -> tuple[list[str], list[list]]:
    from ecomap.aggregate import display_table

    shown = display_table(summary, lang=lang)
    return list(shown.columns), shown.astype(object).where(shown.notna(), "").values.tolist()


def batch_records(st) -> list[dict]:
    from ecomap.units import mu_from_m2

    b = st.batches()
    b["area_mu"] = mu_from_m2(b["area_m2"].astype(float)).round(2)
    b["year"] = b["year"].astype("Int64")
    b = b.drop(columns=["area_m2"])
    b = b.astype(object).where(b.notna(), None)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in b.to_dict("records")]


def rollback_batch(request: Request, s: Session, batch_id: int) -> dict:
    """Remove one batch (editors: their own plot batches; admins: any)."""
    with request.app.state.write_lock, store_of(request) as st:
        b = st.batches()
        row = b[b["batch_id"] == int(batch_id)]
        if row.empty:
            raise NotFoundError(tr("没有批次 {batch}; 批次列表中列出了已入库的批次",
                                   "no batch {batch}; the batch list shows those stored",
                                   batch=batch_id))
        owner = row["user"].iloc[0]
        if not s.user.can("admin") and (owner != s.user.name or
                                        row["kind"].iloc[0] != "plots"):
            raise PermissionDenied(
                f"batch {batch_id} was stored by {owner!r}; an editor may roll back only "
                "plot batches of their own — ask an administrator")
        return st.rollback(int(batch_id))
