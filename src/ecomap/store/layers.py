"""What a store holds: its layers, their columns and types, and how rows are selected.

Both backends build their tables from :data:`LAYERS_SCHEMA` and type what they read
with :func:`typed_layer`, so a layer reads the same from either.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd

from ecomap import crs as _crs

__all__ = ["ADDED_LAYERS", "LAYERS", "LAYERS_SCHEMA", "PLOT_COLUMNS", "READ_COLUMNS",
           "TABLES_OF", "plot_filter", "schema_with", "split_arrays", "typed_layer", "unique_boxes", "where"]

#: Canonical plot columns as stored, besides geometry and the computed ones.
PLOT_COLUMNS = [
    "plot_id", "category", "year", "status", "township_reported", "village", "method",
    "species", "area_mu_reported", "implementer",
]

#: Layer names every ecomap store holds, as QGIS lists them.
LAYERS = ("county", "townships", "plots", "plot_townships", "water_sites", "water_samples",
          "batches")

#: Layers added after the first stores were made (new stores have them too): a store
#: without them is still a store, and gets them (empty) in the first transaction that
#: writes to it.
ADDED_LAYERS = ("targets", "patches", "patch_events", "photos")

# Every layer of a store: name -> (geometry type or None, {column: "int"|"float"|"str"|
# "bytes"}).  A layer with "bytes" columns is an added layer (created by ecomap, not GDAL).
# Both backends build their tables from this one description.
LAYERS_SCHEMA: dict[str, tuple[str | None, dict[str, str]]] = {
    "county": ("MultiPolygon", {"name": "str", "adcode": "str", "batch_id": "int"}),
    "townships": ("MultiPolygon", {"name": "str", "name_en": "str", "kind": "str",
                                   "illustrative": "int", "area_m2": "float",
                                   "batch_id": "int"}),
    "plots": ("MultiPolygon", {
        "plot_id": "str", "category": "str", "year": "int", "status": "str",
        "township": "str", "township_reported": "str", "village": "str", "method": "str",
        "species": "str", "area_mu_reported": "float", "implementer": "str",
        "area_m2": "float", "area_mu": "float", "batch_id": "int", "attributes": "str"}),
    "plot_townships": (None, {"plot_fid": "int", "batch_id": "int", "category": "str",
                              "year": "int", "township": "str", "area_m2": "float",
                              "is_primary": "int"}),
    "water_sites": ("Point", {"site_name": "str", "site_type": "str", "waterbody": "str",
                              "river": "str", "target_class": "str", "township": "str",
                              "batch_id": "int"}),
    "water_samples": (None, {"site_name": "str", "date": "str", "param": "str",
                             "value": "float", "below_dl": "int", "batch_id": "int"}),
    "targets": (None, {"township": "str", "category": "str", "year": "int",
                       "quantity": "float", "unit": "str", "batch_id": "int"}),
    "patches": ("MultiPolygon", {
        "patch_id": "str", "year": "int", "township": "str", "village": "str",
        "area_mu": "float", "change_type": "str", "attributes": "str", "batch_id": "int"}),
    "patch_events": (None, {"patch_id": "str", "at": "str", "user": "str", "field": "str",
                            "value": "str", "batch_id": "int"}),
    "photos": (None, {"photo_id": "str", "sha256": "str", "target_kind": "str",
                      "target_key": "str", "lon": "float", "lat": "float", "taken_at": "str",
                      "file_name": "str", "width": "int", "height": "int", "thumbnail": "bytes",
                      "image": "bytes", "batch_id": "int"}),
    "batches": (None, {"kind": "str", "source_file": "str", "sha256": "str",
                       "created_at": "str", "user": "str", "category": "str", "year": "int",
                       "feature_count": "int", "area_m2": "float", "note": "str"}),
}

# Kind of batch -> the layers holding its rows (the others replace a layer whole).
TABLES_OF = {"plots": ["plots", "plot_townships"], "water_sites": ["water_sites"],
             "water_samples": ["water_samples"], "water": ["water_sites", "water_samples"],
             "targets": ["targets"], "patch_updates": ["patch_events"], "photos": ["photos"]}

#: Columns of the frames read from ``plot_townships``, ``water_samples``, ``targets`` and
#: ``batches``.
READ_COLUMNS = {
    "plot_splits": ["plot_fid", "batch_id", "category", "year", "township", "area_m2",
                    "is_primary"],
    "water_samples": ["site_name", "date", "param", "value", "below_dl", "batch_id"],
    "targets": ["township", "category", "year", "quantity", "unit", "batch_id"],
    "patch_events": ["event_id", "patch_id", "at", "user", "field", "value", "batch_id"],
    "batches": ["batch_id", "kind", "source_file", "sha256", "created_at", "user",
                "category", "year", "feature_count", "area_m2", "note"],
}


def schema_with(types: dict[str, str], *, skip=()) -> dict[str, tuple[str | None, dict]]:
    """:data:`LAYERS_SCHEMA` with a backend's own type names (``{"int": "bigint", …}``)."""
    return {layer: (geom, {c: types[t] for c, t in cols.items()})
            for layer, (geom, cols) in LAYERS_SCHEMA.items() if layer not in skip}


def typed_layer(df: pd.DataFrame, columns: dict[str, str], geoms) -> gpd.GeoDataFrame:
    """A layer read from a backend, with the column types of :data:`LAYERS_SCHEMA`
    (EPSG:4490)."""
    for c, t in columns.items():
        if t == "int":
            df[c] = pd.array(df[c], dtype="Int64")
        elif t == "float":
            df[c] = df[c].astype("float64")
        else:
            df[c] = df[c].astype(object)
    df["fid"] = df["fid"].astype("int64")
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=_crs.STORE_CRS,
                                                       index=df.index))


def where(conditions, *, mark: str = "?") -> tuple[str, list]:
    """``WHERE … AND …`` and its parameters from ``(condition, value)`` pairs, those
    whose value is None left out; ``{m}`` in a condition is the backend's placeholder
    (``mark``)."""
    kept = [(c, v) for c, v in conditions if v is not None]
    sql = " AND ".join(c.format(m=mark) for c, _ in kept)
    return ("WHERE " + sql) if kept else "", [v for _, v in kept]


def plot_filter(*, category=None, year=None, township=None, batch=None,
                mark: str = "?") -> tuple[str, list]:
    """The WHERE clause (with ``mark`` placeholders) and parameters of ``Store.plots``."""
    return where([
        ("category = {m}", category),
        ("year = {m}", None if year is None else int(year)),
        ("batch_id = {m}", None if batch is None else int(batch)),
        ("fid IN (SELECT plot_fid FROM plot_townships WHERE township = {m})", township),
    ], mark=mark)


def split_arrays(rows: list[tuple]) -> dict[str, np.ndarray]:
    """Stored split rows ``(fid, plot_fid, township, area_m2, is_primary)`` as arrays."""
    rid, plot, town, area, primary = zip(*rows, strict=True) if rows else ((),) * 5
    return {"fid": np.array(rid, dtype=np.int64),
            "plot_fid": np.array(plot, dtype=np.int64),
            "township": np.array(town, dtype=object),
            "area_m2": np.array(area, dtype=float),
            "is_primary": np.array(primary, dtype=bool)}


def unique_boxes(rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted fids and their (minx, miny, maxx, maxy) from ``(fid, box…)`` rows that may
    name a plot more than once."""
    flat = np.fromiter(itertools.chain.from_iterable(rows), dtype=float, count=len(rows) * 5)
    table = flat.reshape(-1, 5)
    fids, first = np.unique(table[:, 0].astype(np.int64), return_index=True)
    return fids, table[first, 1:]
