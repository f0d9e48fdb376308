"""One way to print a table: to standard output, or to ``-o FILE`` as CSV, XLSX or JSON.

Every command that answers with a table (``summary``, ``water classify|compliance``,
``zonal``, ``change``, ``store summary``) prints it through :func:`emit`:

- ``--format table`` (the default without ``-o``): aligned text on standard output;
- ``csv`` and ``json``: on standard output, or written to ``-o FILE``;
- ``xlsx``: only to ``-o FILE`` (a workbook is no text for a terminal).

Without ``--format`` the suffix of ``-o FILE`` chooses.  A file is written whole or not
at all (:func:`ecomap.io.export.write_table`); CSV files start with a UTF-8 BOM so that
Excel shows Chinese, CSV on standard output does not.  "wrote FILE" goes to standard
error, so standard output holds the data only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from ecomap.i18n import tr

__all__ = ["FORMATS", "emit", "jsonable", "resolve_format"]

FORMATS = ("table", "csv", "xlsx", "json")


def resolve_format(fmt: str | None, output: str | None, *, default: str = "table") -> str:
    """The format asked for: ``--format``, else the suffix of ``-o FILE``, else
    ``default``."""
    if fmt is not None:
        return fmt
    if output is None:
        return default
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix not in FORMATS[1:]:
        raise click.UsageError(str(tr(
            "-o {output}: 请给出 .csv、.xlsx 或 .json 文件名, 或用 --format csv|xlsx|json 指定格式",
            "-o {output}: name a .csv, .xlsx or .json file, or choose with "
            "--format csv|xlsx|json", output=output)))
    return suffix


def emit(shown, *, fmt: str | None, output: str | None, records: list[dict] | None = None,
         sheet: str = "汇总", empty: object = None, default: str = "table"
         ) -> None:
    """Print the table ``shown`` (headers for people) or write it to ``output``.

    ``records`` is what JSON holds (codes rather than labels; default: the rows of
    ``shown``); ``sheet`` names the XLSX worksheet; ``empty`` is printed for a table
    without rows; ``default`` is the format without --format and -o.
    """
    fmt = resolve_format(fmt, output, default=default)
    if fmt == "table":
        if output:
            raise click.UsageError(str(tr(
                "--format table 只在终端显示; 用 -o 写文件时请选 csv、xlsx 或 json",
                "--format table prints to the terminal; use csv, xlsx or json with -o")))
        click.echo(shown.to_string(index=False) if len(shown) else
                   empty or tr("(没有可显示的内容)", "(nothing to show)"))
        return
    if fmt == "xlsx" and not output:
        raise click.UsageError(str(tr(
            "--format xlsx 写出工作簿: 请用 -o 文件.xlsx 指定文件 (csv 和 json 可输出到标准输出)",
            "--format xlsx writes a workbook: give -o FILE.xlsx (csv and json print to "
            "standard output)")))
    if fmt == "json":
        rows = records if records is not None else shown.to_dict(orient="records")
        text = json.dumps(jsonable(rows), ensure_ascii=False, indent=1, default=str)
        if output is None:
            click.echo(text)
            return
        records = json.loads(text)
    elif output is None:
        click.echo(shown.to_csv(index=False), nl=False)
        return
    from ecomap.io.export import write_table

    path = output if output.lower().endswith("." + fmt) else f"{output}.{fmt}"
    written = write_table(shown, path, sheet=sheet, records=records)
    click.echo(tr("已写出 {path}", "wrote {path}", path=written), err=True)


def jsonable(value):
    """NaN and missing values as null, numpy scalars as Python numbers, floats without
    binary noise (12 significant digits: ``0.19999999999999996`` → ``0.2``, while an
    area of 1 346 156 262.46 m² keeps its centimetres)."""
    import pandas as pd  # already loaded: the value comes from a data frame

    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.12g}")
    return value
