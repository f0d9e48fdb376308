"""What every store backend shares: layer typing and the batch rules.

Backends differ only in how rows are read and written; the rules and the messages a
user sees are written once, here (the water-data rules in :mod:`ecomap.water.rules`).
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from ecomap import crs as _crs
from ecomap.errors import ValidationError

__all__ = ["LAYERS_SCHEMA", "batch_date", "check_new_batch", "plot_filter", "replace_problem",
           "same_file_batch", "same_file_text", "schema_with", "typed_layer"]

# Every layer of a store: name -> (geometry type or None, {column: "int"|"float"|"str"}).
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
    "batches": (None, {"kind": "str", "source_file": "str", "sha256": "str",
                       "created_at": "str", "user": "str", "category": "str", "year": "int",
                       "feature_count": "int", "area_m2": "float", "note": "str"}),
}


def schema_with(types: dict[str, str], *, skip=()) -> dict[str, tuple[str | None, dict]]:
    """:data:`LAYERS_SCHEMA` with a backend's own type names (``{"int": "bigint", …}``)."""
    return {layer: (geom, {c: types[t] for c, t in cols.items()})
            for layer, (geom, cols) in LAYERS_SCHEMA.items() if layer not in skip}


# Column types as the backends' schemas name them (pandas dtypes or SQL types).
_INTS = {"int64", "bigint", "integer"}
_FLOATS = {"float64", "double precision", "real"}


def typed_layer(df: pd.DataFrame, columns: dict[str, str], geoms) -> gpd.GeoDataFrame:
    """A layer read from a backend, with the column types of its schema (EPSG:4490)."""
    for c, t in columns.items():
        if t in _INTS:
            df[c] = pd.array(df[c], dtype="Int64")
        elif t in _FLOATS:
            df[c] = df[c].astype("float64")
        else:
            df[c] = df[c].astype(object)
    df["fid"] = df["fid"].astype("int64")
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geoms, crs=_crs.STORE_CRS,
                                                       index=df.index))


def plot_filter(*, category=None, year=None, township=None, batch=None,
                mark: str = "?") -> tuple[str, list]:
    """The WHERE clause (with ``mark`` placeholders) and parameters of ``Store.plots``."""
    conds, params = [], []
    if category is not None:
        conds.append(f"category = {mark}")
        params.append(category)
    if year is not None:
        conds.append(f"year = {mark}")
        params.append(int(year))
    if batch is not None:
        conds.append(f"batch_id = {mark}")
        params.append(int(batch))
    if township is not None:
        conds.append(f"fid IN (SELECT plot_fid FROM plot_townships WHERE township = {mark})")
        params.append(township)
    return ("WHERE " + " AND ".join(conds)) if conds else "", params


# --- one batch per file: the same file is not stored twice -----------------------------
def batch_date(created_at) -> str:
    """The local date (YYYY-MM-DD) of a batch's ``created_at`` (UTC, ISO 8601)."""
    import datetime as dt

    text = str(created_at or "")
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text[:10] or "?"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().date().isoformat()


def same_file_batch(batches: list[dict], sha256: str | None, *, kind: str,
                    replace: int | None = None) -> dict | None:
    """The first stored batch of ``kind`` whose file has the SHA-256 ``sha256``, other than
    the batch ``replace`` (which the new one replaces), or None.

    ``batches``: records with ``batch_id, kind, sha256, source_file, created_at``.
    """
    if not sha256:
        return None
    for row in sorted(batches, key=lambda r: int(r["batch_id"])):
        if (row.get("kind") == kind and row.get("sha256") == sha256
                and (replace is None or int(row["batch_id"]) != int(replace))):
            return row
    return None


def same_file_text(name: str, row: dict):
    """What the user reads when ``name`` is the same file as the stored batch ``row``."""
    from ecomap.i18n import tr

    return tr("{file}: 与已入库的批次 {batch}(文件 {stored}, {date} 入库)是同一个文件"
              "(SHA-256 相同), 再入库会重复计数, 未入库; 若要用此文件替换该批次, 请加 "
              "--replace {batch}(网页上点“替换批次 {batch}”)",
              "{file}: the same file (same SHA-256) as stored batch {batch} (file {stored}, "
              "stored {date}); storing it again would count it twice, so nothing was "
              "stored; to replace that batch with this file, add --replace {batch} (on the "
              "web: “replace batch {batch}”)",
              file=name, batch=int(row["batch_id"]), stored=row.get("source_file") or "?",
              date=batch_date(row.get("created_at")))


def replace_problem(batches: list[dict], replace: int, *, kind: str):
    """Why the batch ``replace`` cannot be replaced by a new batch of ``kind`` (a message),
    or None when it can."""
    from ecomap.i18n import tr

    row = next((r for r in batches if int(r["batch_id"]) == int(replace)), None)
    if row is None:
        return tr("--replace {batch}: 库中没有批次 {batch}; 用 'ecomap batches' 查看已入库的批次",
                  "--replace {batch}: there is no batch {batch}; 'ecomap batches' lists the "
                  "stored batches", batch=int(replace))
    if row.get("kind") != kind:
        return tr("--replace {batch}: 批次 {batch} 是 {other} 数据, 不是 {kind}; 只能替换同类的批次",
                  "--replace {batch}: batch {batch} holds {other}, not {kind}; only a batch "
                  "of the same kind can be replaced", batch=int(replace),
                  other=row.get("kind"), kind=kind)
    return None


def check_new_batch(batches: list[dict], provenance, *, kind: str,
                    replace: int | None) -> None:
    """The rule every backend applies inside the transaction that stores a batch: the batch
    ``replace`` exists and is of the same kind, and no other stored batch of ``kind`` came
    from the same file.

    ``batches``: records (see :func:`same_file_batch`) of the stored batches with the
    new file's SHA-256 and of the batch ``replace``.
    """
    from ecomap.errors import InputError

    if replace is not None:
        problem = replace_problem(batches, replace, kind=kind)
        if problem is not None:
            raise InputError(problem)
    row = same_file_batch(batches, provenance.sha256, kind=kind, replace=replace)
    if row is not None:
        raise ValidationError(same_file_text(provenance.source_file, row))
