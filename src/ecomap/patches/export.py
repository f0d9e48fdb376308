"""The report back to the province: its own fields and IDs as it wrote them, plus the
status fields (核实结果 … 备注), as a zipped Shapefile (GBK, ``.cpg`` and ``.prj``),
a GeoPackage or an XLSX table without geometry."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ecomap.errors import InputError
from ecomap.i18n import tr
from ecomap.io.export import atomic_write
from ecomap.patches.service import store_patch_table
from ecomap.patches.status import FIELD_LABELS

__all__ = ["STATUS_FIELDS", "export_frame", "export_patches"]

#: The status fields added to the province's table (Chinese names, ≤ 10 bytes in GBK).
STATUS_FIELDS = {f: zh for f, (zh, _) in FIELD_LABELS.items()}


def export_frame(store, *, year: int) -> gpd.GeoDataFrame:
    """The patches of ``year``: every original field (original names, in order), then
    the status fields, geometry in EPSG:4490."""
    patches = store.patches(year=year)
    table = store_patch_table(store, year=year).set_index("patch_id")
    records = []
    for pid, attrs in zip(patches["patch_id"], patches["attributes"], strict=True):
        row = dict(json.loads(attrs or "{}"))
        state = table.loc[str(pid)]
        for f, name in STATUS_FIELDS.items():
            v = state[f]
            row[name] = None if v is None or (isinstance(v, float) and v != v) else str(v)
        records.append(row)
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(
        columns=list(STATUS_FIELDS.values()))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(patches.geometry.values,
                                                          crs=patches.crs))


def export_patches(store, *, year: int, path: str | os.PathLike) -> Path:
    """Write the report back to ``path`` (``.zip``, ``.gpkg`` or ``.xlsx``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    frame = export_frame(store, year=year)
    layer = f"patches_{year}"
    if suffix == ".xlsx":
        from ecomap.io.export import table_bytes

        return atomic_write(path, table_bytes(pd.DataFrame(frame.drop(columns="geometry")),
                                              ".xlsx", sheet=f"{year}年度图斑"))
    if suffix not in (".zip", ".gpkg"):
        raise InputError(tr("无法导出为 {name}：文件名请以 .zip（Shapefile）、.gpkg 或 .xlsx 结尾",
                            "cannot export to {name}: use a .zip (Shapefile), .gpkg or .xlsx "
                            "name", name=path.name))
    import pyogrio

    with tempfile.TemporaryDirectory(prefix="ecomap-patches-") as tmp:
        if suffix == ".gpkg":
            target = Path(tmp) / path.name
            pyogrio.write_dataframe(frame, target, layer=layer, driver="GPKG",
                                    promote_to_multi=True)
            return atomic_write(path, target.read_bytes())
        _check_names(frame.columns.drop("geometry"))
        target = Path(tmp) / f"{layer}.shp"
        pyogrio.write_dataframe(frame, target, driver="ESRI Shapefile", encoding="GBK",
                                promote_to_multi=True)
        cpg = target.with_suffix(".cpg")
        if not cpg.exists():
            cpg.write_text("GBK", encoding="ascii")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                zf.write(part, part.name)
        return atomic_write(path, buf.getvalue())


def _check_names(columns) -> None:
    """Shapefile field names are at most 10 bytes: refuse (rather than let GDAL cut) a
    name longer than that in GBK."""
    long = [c for c in columns if len(str(c).encode("gbk", errors="replace")) > 10]
    if long:
        raise InputError(tr("字段名 {names} 在 GBK 编码下超过 10 字节，无法写入 Shapefile；"
                            "请导出为 .gpkg 或 .xlsx",
                            "field name(s) {names} exceed 10 bytes in GBK and cannot go "
                            "into a Shapefile; export .gpkg or .xlsx", names="、".join(
                                str(c) for c in long)))
