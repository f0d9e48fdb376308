"""Township figures: tables in, tables out, no file paths.

The store answers with sums of the township splits computed when plots were stored
(``Store.township_areas``); this module turns them into the tables people read —
in mu and hectares, with Chinese or English labels — and the county totals.
"""

from __future__ import annotations

import pandas as pd

from ecomap.schema import CATEGORIES, RESTORATION, category_label, kind_of, label
from ecomap.units import DECIMALS, JSON_DECIMALS, ha_from_m2, km2_from_m2, mu_from_m2

__all__ = [
    "OUTSIDE",
    "county_totals",
    "display_table",
    "summary_records",
    "summary_table",
    "township_pivot",
    "township_totals",
]

#: Township name used for area that lies outside every township.
OUTSIDE = "(县界外)"

_ORDER = {code: i for i, code in enumerate(CATEGORIES)}


def summary_table(township_areas: pd.DataFrame, *, townships=None) -> pd.DataFrame:
    """Area and count by township, category and year.

    Parameters
    ----------
    township_areas
        ``township, category, year, count, area_m2`` as from ``Store.township_areas``.
    townships
        Township names in display order (the store's order); others sort after them.

    Returns
    -------
    DataFrame
        ``township, category, year, count, area_m2, area_mu, area_ha``, ordered by
        township, report category order and year.
    """
    df = township_areas.copy()
    df["township"] = df["township"].fillna(OUTSIDE)
    df["area_m2"] = df["area_m2"].astype(float)
    df["area_mu"] = mu_from_m2(df["area_m2"])
    df["area_ha"] = ha_from_m2(df["area_m2"])
    df["count"] = df["count"].astype("int64")
    df["year"] = df["year"].astype("int64")
    order = {name: i for i, name in enumerate(townships or [])}
    df["_t"] = df["township"].map(lambda t: order.get(t, len(order)))
    df["_c"] = df["category"].map(lambda c: _ORDER.get(c, len(_ORDER)))
    df = df.sort_values(["_t", "township", "_c", "year"], kind="stable")
    cols = ["township", "category", "year", "count", "area_m2", "area_mu", "area_ha"]
    return df[cols].reset_index(drop=True)


def county_totals(summary: pd.DataFrame) -> pd.DataFrame:
    """County totals by category and year: ``category, year, count, area_mu, area_ha, area_km2``."""
    g = summary.groupby(["category", "year"], as_index=False, sort=False)[
        ["count", "area_m2"]].sum()
    g["area_mu"] = mu_from_m2(g["area_m2"])
    g["area_ha"] = ha_from_m2(g["area_m2"])
    g["area_km2"] = km2_from_m2(g["area_m2"])
    g["_c"] = g["category"].map(lambda c: _ORDER.get(c, len(_ORDER)))
    return g.sort_values(["_c", "year"]).drop(columns="_c").reset_index(drop=True)


def township_totals(summary: pd.DataFrame, *, townships=None,
                    kind: str = "restoration") -> pd.DataFrame:
    """Area (mu) and plot count per township of one kind of category (``schema.KINDS``).

    By default restoration work only — 修复面积: inspection patches, patrol areas and
    compensation are never added to it.  Every township in ``townships`` appears, with
    0 where nothing was done.
    """
    sel = summary[summary["category"].map(kind_of) == kind]
    g = sel.groupby("township", sort=False)[["area_mu", "count"]].sum()
    if townships is not None:
        g = g.reindex(list(townships), fill_value=0)
    return g.reset_index().rename(columns={"index": "township"})


def township_pivot(summary: pd.DataFrame, *, townships=None, lang: str | None = "zh",
                   total_row: bool = True) -> pd.DataFrame:
    """Townships as rows, restoration categories as columns (亩), their total, then the
    other kinds apart: inspection patches (count and 亩) and patrol areas (count).

    Only categories present in ``summary`` get a column; every township in
    ``townships`` gets a row (others, e.g. area outside every township, only when they
    hold something).  ``total_row`` closes the table with the county (全县) row.  Values
    are unrounded floats, counts integers.  Headers are for people in ``lang``; with
    ``lang=None`` they are codes: category codes, ``restoration_mu``, ``patches``,
    ``patch_mu``, ``patrol_areas``, ``compensation_mu`` (and ``county`` for the total).
    """
    present = set(summary["category"])
    codes = [c for c in RESTORATION if c in present]
    towns = list(townships) if townships is not None else []
    extra = [t for t in dict.fromkeys(summary["township"]) if t not in towns]
    index = pd.Index(towns + extra)

    def by_town(sel: pd.DataFrame, value: str) -> pd.Series:
        return sel.groupby("township")[value].sum().reindex(index, fill_value=0)

    cols: dict[str, pd.Series] = {c: by_town(summary[summary["category"] == c], "area_mu")
                                  for c in codes}
    cols["restoration_mu"] = (pd.concat(list(cols.values()), axis=1).sum(axis=1) if codes
                              else pd.Series(0.0, index=index))
    kinds = summary["category"].map(kind_of)
    if (kinds == "inspection").any():
        cols["patches"] = by_town(summary[kinds == "inspection"], "count").astype("int64")
        cols["patch_mu"] = by_town(summary[kinds == "inspection"], "area_mu")
    if (kinds == "patrol").any():
        cols["patrol_areas"] = by_town(summary[kinds == "patrol"], "count").astype("int64")
    if (kinds == "compensation").any():
        cols["compensation_mu"] = by_town(summary[kinds == "compensation"], "area_mu")
    table = pd.DataFrame(cols, index=index)
    table = table[[t in towns or bool((table.loc[t] != 0).any()) for t in table.index]]
    if total_row:
        total = table.sum(axis=0).to_frame("county").T.astype(table.dtypes.to_dict())
        table = pd.concat([table, total])
    if lang is None:
        return table
    return table.rename(
        index={"county": label("county", lang)},
        columns=lambda c: category_label(c, lang) if c in CATEGORIES else label(c, lang),
    ).rename_axis(label("township", lang))


def summary_records(summary: pd.DataFrame) -> list[dict]:
    """JSON-ready records with codes, not labels (``category`` is the report code)."""
    out = summary[["township", "category", "year", "count", "area_mu", "area_ha"]].copy()
    out["area_mu"] = out["area_mu"].round(JSON_DECIMALS["mu"])
    out["area_ha"] = out["area_ha"].round(JSON_DECIMALS["ha"])
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
            for rec in out.to_dict(orient="records")]


def display_table(summary: pd.DataFrame, *, lang: str = "zh", total: bool = True
                  ) -> pd.DataFrame:
    """The summary with category names and headers for people (CSV, XLSX, terminal).

    With ``total``, county total rows (全县) close the table, one per category and year
    (categories are never added together: see :func:`township_pivot` for 修复面积).
    亩 to one decimal, hectares to two, as a report prints them.
    """
    df = summary[["township", "category", "year", "count", "area_mu", "area_ha"]].copy()
    if total and len(df):
        tot = county_totals(summary)
        tot.insert(0, "township", label("county", lang))
        df = pd.concat([df, tot[df.columns]], ignore_index=True)
    df["category"] = df["category"].map(lambda c: category_label(c, lang))
    df["area_mu"] = df["area_mu"].round(DECIMALS["mu"])
    df["area_ha"] = df["area_ha"].round(DECIMALS["ha"])
    return df.rename(columns={c: label(c, lang) for c in df.columns})
