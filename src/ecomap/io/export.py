"""Writing tables and pages: CSV for Excel, XLSX, JSON, HTML — whole files or nothing."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from ecomap.errors import InputError
from ecomap.i18n import tr

__all__ = ["atomic_write", "layer_bytes", "table_bytes", "write_table", "write_text"]


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file, so readers never see half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, text.encode("utf-8"))


def table_bytes(df: pd.DataFrame, suffix: str, *, sheet: str = "汇总",
                records: list[dict] | None = None) -> bytes:
    """A table as the bytes of a ``.csv`` (UTF-8 with BOM, so Excel shows Chinese),
    ``.xlsx`` or ``.json`` file; ``records`` is what JSON holds (the table when None)."""
    suffix = suffix.lower()
    if suffix == ".csv":
        return df.to_csv(index=False).encode("utf-8-sig")
    if suffix == ".json":
        data = records if records is not None else df.to_dict(orient="records")
        return (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    if suffix == ".xlsx":
        import io

        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            df.to_excel(xw, sheet_name=sheet[:31], index=False)
            ws = xw.sheets[sheet[:31]]
            for i, col in enumerate(df.columns, start=1):
                width = max([len(str(col)) * 2, *(len(str(v)) for v in df[col].head(200))])
                ws.column_dimensions[ws.cell(1, i).column_letter].width = min(40, width + 2)
        return buf.getvalue()
    raise InputError(tr("无法把表格写成 {suffix} 格式: 请用 .csv、.xlsx 或 .json",
                        "cannot write a table as {suffix}: use .csv, .xlsx or .json",
                        suffix=suffix or tr("(无后缀)", "(no suffix)")))


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, sheet: str = "汇总",
                records: list[dict] | None = None) -> Path:
    """Write a table as CSV, XLSX or JSON (see :func:`table_bytes`), whole or not at all."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".json", ".xlsx"):
        raise InputError(tr("无法把表格写入 {name}: 文件名请以 .csv、.xlsx 或 .json 结尾",
                            "cannot write a table to {name}: use a .csv, .xlsx or .json name",
                            name=path.name))
    return atomic_write(path, table_bytes(df, path.suffix, sheet=sheet, records=records))


def layer_bytes(gdf, *, layer: str, driver: str = "GPKG") -> bytes:
    """A GeoDataFrame as the bytes of a one-layer file (GeoPackage by default), written by
    GDAL in a temporary directory that is removed."""
    import pyogrio

    suffix = {"GPKG": ".gpkg", "GeoJSON": ".geojson"}.get(driver, ".dat")
    with tempfile.TemporaryDirectory(prefix="ecomap-export-") as tmp:
        target = Path(tmp) / f"{layer}{suffix}"
        pyogrio.write_dataframe(gdf, target, layer=layer, driver=driver)
        return target.read_bytes()
