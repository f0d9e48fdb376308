"""The store as the web routes see it: opened for each question, answers kept per
store state (:mod:`ecomap.web.cache`), batches listed and rolled back.  (How the pages
print the figures is :mod:`ecomap.web.figures`.)

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

__all__ = ["batch_records", "batch_to_remove", "county_map_doc", "dashboard_view",
           "known_township", "latest_year", "rollback_batch", "store_at", "store_of",
           "stored_years", "summary_frame", "summary_json", "township_map_doc",
           "township_view"]


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


def stored_years(request: Request, st) -> list[int]:
    """The years with plots in the store, oldest first."""
    return _cached(request, st, ("years",), lambda: sorted(
        int(y) for y in set(summary_frame(request, st, None)["year"])))


def county_map_doc(request: Request, lang: str, year: int | None) -> Rendered:
    from ecomap import api
    from ecomap.maps import to_html

    with store_of(request) as st:
        return _cached(request, st, ("county", year, lang), lambda: Rendered.of(to_html(
            api.county_map(st, year=year, lang=lang))))


def township_map_doc(request: Request, name: str, lang: str, year: int | None) -> Rendered:
    """The township's map of ``year`` (None: every year), filling the frame it is shown
    in (its table is on the page around it)."""
    from ecomap import api
    from ecomap.maps import to_html

    with store_of(request) as st:
        known_township(st, name)
        return _cached(request, st, ("township", name, year, lang), lambda: Rendered.of(
            to_html(api.township_map(st, name, year=year, all_years=year is None,
                                     lang=lang, height="100%", table=False))))


def dashboard_view(request: Request, st, year: int | None, lang: str) -> dict:
    """The overview of ``year``: headline figures, the township × category table, the
    chart, the township names and the years to choose from (:mod:`ecomap.web.figures`)."""
    def build() -> dict:
        from ecomap.aggregate import township_pivot
        from ecomap.web import figures

        summary = summary_frame(request, st, year)
        towns = st.townships()["name"].tolist()
        pivot = township_pivot(summary, townships=towns, lang=lang) if len(summary) else None
        heads = figures.headline(summary, _water_figures(st, year), lang) if len(summary) \
            else []
        return {"figures": heads, "progress": _progress(st, year, heads, lang),
                "pivot": figures.pivot_view(pivot, lang) if pivot is not None else None,
                "chart": figures.chart_svg(summary, towns, lang), "towns": towns,
                "years": stored_years(request, st)}

    return _cached(request, st, ("dashboard", year, lang), build)


def _progress(st, year: int | None, heads: list[dict], lang: str) -> dict | None:
    """Progress against the year's targets, when the store holds targets for it."""
    from ecomap.targets import store_progress
    from ecomap.web import figures

    if not year or not len(st.targets(year=year)):
        return None
    return figures.progress_view(store_progress(st, year=year), heads, lang)


def _water_figures(st, year: int | None) -> dict | None:
    from ecomap import api, water

    sites = api.water_site_classes(st, year=year)
    if not len(sites) or "meets_target" not in sites:
        return None
    return water.headline_figures(sites)


def township_view(request: Request, st, name: str, year: int | None, lang: str) -> dict:
    """A township's page of ``year`` (None: every year): its table, its plots and the
    years to choose from."""
    def build() -> dict:
        from ecomap.schema import category_label
        from ecomap.units import DECIMALS, number_text
        from ecomap.web import figures

        plots = st.plots(year=year, township=name).drop(columns="geometry")
        rows = [[str(r.get("plot_id") or ""), category_label(r.get("category"), lang),
                 "" if r.get("year") is None else str(int(r["year"])),
                 number_text(r["area_mu"], DECIMALS["mu"])]
                for r in plots.to_dict("records")]
        return {"table": figures.township_table(summary_frame(request, st, year), name, lang),
                "plots": rows, "years": stored_years(request, st)}

    known_township(st, name)
    return _cached(request, st, ("township-page", name, year, lang), build)


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


def batch_records(st) -> list[dict]:
    """The stored batches, oldest first, as the API gives them (亩 rounded as JSON
    carries them, ``units.JSON_DECIMALS``)."""
    from ecomap.units import JSON_DECIMALS, mu_from_m2

    b = st.batches()
    b["area_mu"] = mu_from_m2(b["area_m2"].astype(float)).round(JSON_DECIMALS["mu"])
    b["year"] = b["year"].astype("Int64")
    b = b.drop(columns=["area_m2"])
    b = b.astype(object).where(b.notna(), None)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in b.to_dict("records")]


def batch_to_remove(st, s: Session, batch_id: int) -> dict:
    """The batch ``batch_id`` as :func:`batch_records` gives it, if ``s`` may roll it
    back (editors: their own plot batches; admins: any)."""
    rows = [r for r in batch_records(st) if r["batch_id"] == int(batch_id)]
    if not rows:
        raise NotFoundError(tr("没有批次 {batch}; 批次列表中列出了已入库的批次",
                               "no batch {batch}; the batch list shows those stored",
                               batch=batch_id))
    row = rows[0]
    if not s.user.can("admin") and (row["user"] != s.user.name or row["kind"] != "plots"):
        raise PermissionDenied(
            f"batch {batch_id} was stored by {row['user']!r}; an editor may roll back only "
            "plot batches of their own — ask an administrator")
    return row


def rollback_batch(request: Request, s: Session, batch_id: int) -> dict:
    """Remove one batch (editors: their own plot batches; admins: any)."""
    with request.app.state.write_lock, store_of(request) as st:
        batch_to_remove(st, s, batch_id)
        return st.rollback(int(batch_id))
