"""Township figures: tables in, tables out, no file paths.

The store answers with sums of the township splits computed when plots were stored
(``Store.township_areas``); this module turns them into the tables people read —
in mu and hectares, with Chinese or English labels — and the county totals.
"""

from __future__ import annotations

import pandas as pd

from ecomap.schema import CATEGORIES, category_label, label
from ecomap.units import ha_from_m2, km2_from_m2, mu_from_m2

__all__ = [
    "OUTSIDE",
    "county_totals",
    "display_table",
    "summary_records",
    "summary_table",
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
                    exclude=("forest_ranger",)) -> pd.DataFrame:
    """Restoration area per township (mu), all categories but ``exclude`` added up.

    Patrol areas are excluded by default: they tile the forest and are not works.
    Every township in ``townships`` appears, with 0 where nothing was done.
    """
    sel = summary[~summary["category"].isin(exclude)]
    g = sel.groupby("township", sort=False)[["area_mu", "count"]].sum()
    if townships is not None:
        g = g.reindex(list(townships), fill_value=0)
    return g.reset_index().rename(columns={"index": "township"})


def summary_records(summary: pd.DataFrame) -> list[dict]:
    """JSON-ready records with codes, not labels (``category`` is the report code)."""
    out = summary[["township", "category", "year", "count", "area_mu", "area_ha"]].copy()
    out["area_mu"] = out["area_mu"].round(2)
    out["area_ha"] = out["area_ha"].round(4)
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()}
            for rec in out.to_dict(orient="records")]


def display_table(summary: pd.DataFrame, *, lang: str = "zh", total: bool = True
                  ) -> pd.DataFrame:
    """The summary with category names and headers for people (CSV, XLSX, terminal).

    With ``total``, county total rows (全县) close the table, one per category and year.
    """
    df = summary[["township", "category", "year", "count", "area_mu", "area_ha"]].copy()
    if total and len(df):
        tot = county_totals(summary)
        tot.insert(0, "township", label("county", lang))
        df = pd.concat([df, tot[df.columns]], ignore_index=True)
    df["category"] = df["category"].map(lambda c: category_label(c, lang))
    df["area_mu"] = df["area_mu"].round(2)
    df["area_ha"] = df["area_ha"].round(4)
    return df.rename(columns={c: label(c, lang) for c in df.columns})
