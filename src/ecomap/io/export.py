"""Writing tables and pages: CSV for Excel, XLSX, JSON, HTML — whole files or nothing."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from ecomap.errors import InputError

__all__ = ["atomic_write", "write_table", "write_text"]


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


def write_table(df: pd.DataFrame, path: str | os.PathLike, *, sheet: str = "汇总",
                records: list[dict] | None = None) -> Path:
    """Write a table as CSV (UTF-8 with BOM, so Excel shows Chinese), XLSX or JSON.

    ``records`` is what JSON output holds; the table itself when None.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write(path, df.to_csv(index=False).encode("utf-8-sig"))
    if suffix == ".json":
        data = records if records is not None else df.to_dict(orient="records")
        return write_text(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    if suffix == ".xlsx":
        import io

        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as xw:
            df.to_excel(xw, sheet_name=sheet[:31], index=False)
            ws = xw.sheets[sheet[:31]]
            for i, col in enumerate(df.columns, start=1):
                width = max([len(str(col)) * 2, *(len(str(v)) for v in df[col].head(200))])
                ws.column_dimensions[ws.cell(1, i).column_letter].width = min(40, width + 2)
        return atomic_write(path, buf.getvalue())
    raise InputError(f"cannot write a table to {path.name}: use a .csv, .xlsx or .json name")
