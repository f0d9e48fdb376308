"""``ecomap water``: monitoring data under GB 3838-2002 — ingest, classify, compliance."""

from __future__ import annotations

from pathlib import Path

import click

from ecomap.cli import _options
from ecomap.cli._output import emit, resolve_format
from ecomap.i18n import tr


def _table_options(f):
    f = click.option("--sheet", default=None, metavar="NAME|N",
                     help="Worksheet of an XLSX file, by name or 0-based number (default: "
                          "the first).")(f)
    return click.option("--encoding", default=None, metavar="E",
                        help="Text encoding of CSV files (default: detected — UTF-8, else "
                             "GBK/GB18030).")(f)


def _read(path: str, encoding: str | None, sheet: str | None):
    from ecomap.io.tables import read_table

    return read_table(path, encoding=encoding,
                      sheet=int(sheet) if sheet is not None and sheet.isdigit() else sheet)


@click.group("water", short_help="Water quality (GB 3838-2002): ingest, classify, "
                                 "compliance.")
def water_group():
    """Water quality under GB 3838-2002: store monitoring data, classify, assess targets.

    \b
    Examples:
      ecomap water ingest 2023监测.xlsx
      ecomap water compliance --year 2023
    """


@water_group.command("ingest", short_help="Store monitoring sites and samples (CSV/XLSX) "
                                          "as one batch.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--sites", "sites_file", default=None, metavar="FILE",
              help="Site table (点位名称, 点位类型, 水质目标, 经度, 纬度) stored with FILE's "
                   "samples in the same batch.")
@_table_options
@click.option("--dry-run", is_flag=True, help="Check and report only; store nothing.")
@click.option("--strict", is_flag=True, help="Refuse the file on any warning too.")
@_options.store
def ingest_cmd(file, sites_file, encoding, sheet, dry_run, strict, store):
    """Store monitoring sites and samples from a CSV or XLSX table, as one batch.

    FILE holds samples (断面名称, 采样日期, pH, 溶解氧, 氨氮, 总磷 …), sites (点位名称,
    点位类型, 水质目标, 经度, 纬度) or both.  Every unreadable cell is listed with its row
    and column and then nothing is stored.  Samples must name a stored site or one
    given with them.  A value already stored for the same site, date and parameter is
    refused: roll its batch back first when FILE replaces it.

    \b
    Examples:
      ecomap water ingest 2023监测.xlsx --sites 点位.csv
      ecomap water ingest 监测.csv --dry-run
    """
    from ecomap.errors import ValidationError
    from ecomap.water.ingest import ingest_water

    s = _options.settings(store)
    name = Path(file).name
    sheet_arg = int(sheet) if sheet is not None and sheet.isdigit() else sheet
    with _options.open_settings_store(s) as st:
        try:
            upload, batch = ingest_water(file, st, sites_path=sites_file, encoding=encoding,
                                         sheet=sheet_arg, strict=strict, dry_run=dry_run,
                                         settings=s)
        except ValidationError as exc:
            raise _invalid(str(exc).split("\n")[0].rstrip(":"), exc.problems) from exc
    for w in upload.warnings:
        click.echo(tr("警告: {message}", "warning: {message}", message=w["message"]), err=True)
    what = tr("新点位 {sites} 个, 样品 {samples} 个 ({values} 个监测值)",
              "{sites} new site(s), {samples} sample(s) ({values} values)",
              sites=len(upload.sites), samples=upload.n_samples, values=len(upload.samples))
    if not len(upload.sites) and not len(upload.samples):
        click.echo(tr("{name}: 没有需要入库的新数据", "{name}: nothing new to store", name=name))
    elif batch is None:
        click.echo(tr("{name}: {what} 通过检查; 未入库 (--dry-run)",
                      "{name}: {what} pass the checks; nothing stored (--dry-run)",
                      name=name, what=what))
    else:
        click.echo(tr("{name}: {what} 已入库为批次 {batch} ('ecomap rollback {batch}' 可撤销)",
                      "stored {what} from {name} as batch {batch} ('ecomap rollback {batch}' "
                      "removes it)", name=name, what=what, batch=batch))


@water_group.command("classify", short_help="GB 3838-2002 class of each sample of FILE, "
                                            "or of each stored site and year.")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--year", type=int, default=None,
              help="Stored samples of this year only (default: every year, by year).")
@_options.table_format()
@_options.table_output
@click.option("--sites", "sites_file", default=None, metavar="FILE",
              help="Site table giving FILE's sites their type and target.")
@click.option("--waterbody", type=click.Choice(["river", "lake"]), default=None,
              help="Classify every row of FILE as a river or as a lake/reservoir.")
@_table_options
@_options.store
@_options.lang
def classify_cmd(file, year, fmt, output, sites_file, waterbody, encoding, sheet, store, lang):
    """GB 3838-2002 class of each sample of FILE, or of each stored site and year.

    With FILE nothing is stored: one row per row of FILE, in order, with its site,
    date, 水质类别 (I–V, 劣V), deciding parameters and — given a 水质目标 — whether it
    meets it and 超标倍数.  River or lake (their TP limits differ; TN counts for lakes
    only) comes from FILE's 点位类型, else --sites, else the stored site of that name,
    else the name (…水库 is a lake); --waterbody sets it for every row.

    Without FILE: the annual mean of each stored site (below detection at half the
    detection limit), classified the same way, with target, 是否达标 and 超标倍数.

    \b
    Examples:
      ecomap water classify 监测.csv --sites 点位.csv
      ecomap water classify --year 2023 --format csv > classes.csv
    """
    from ecomap import water

    s = _options.settings(store, lang)
    if file is not None:
        if year is not None:
            raise click.UsageError(str(tr(
                "--year 用于选择已入库的样品; 给出文件时, 文件的每一行都会定类",
                "--year selects stored samples; with FILE every row of the file is "
                "classified")))
        frame, problems = water.normalize_samples(_read(file, encoding, sheet))
        _refuse_unreadable(Path(file).name, problems)
        frame = _with_site_info(frame, _read(sites_file, encoding, sheet) if sites_file
                                else None, s)
        classified = water.classify_samples(frame, waterbody=waterbody)
        shown = water.sample_table(classified, problems, lang=s.lang)
        records = water.classified_records(classified)
        for rec, text in zip(records, shown.iloc[:, -1], strict=True):
            rec["problems"] = text.split("；") if text else []
        if bad := sum(bool(t) for t in shown.iloc[:, -1]):
            click.echo(tr("警告: {bad} 行有无法读取的单元格, 已不计这些单元格定类 (见最后一列)",
                          "warning: {bad} row(s) have unreadable cells and are classified "
                          "without them (see the last column)", bad=bad), err=True)
    else:
        if sites_file or waterbody:
            raise click.UsageError(str(tr(
                "--sites 和 --waterbody 只用于给出的文件; 已入库的点位有自己的类型",
                "--sites and --waterbody apply to FILE; stored sites have their own type")))
        classes = _stored_classes(s, year)
        shown = water.site_table(classes, lang=s.lang, means=True)
        records = water.classified_records(classes)
    emit(shown, fmt=fmt, output=output, records=records, sheet="水质")


@water_group.command("compliance", short_help="Share of sites meeting their target, by "
                                              "township or river and for the county.")
@click.option("--year", type=int, default=None,
              help="Year assessed (default: every year stored, by year).")
@click.option("--by", type=click.Choice(["township", "river", "county"]), default="township",
              show_default=True, help="Groups besides the county total.")
@_options.table_format()
@_options.table_output
@_options.store
@_options.lang
def compliance_cmd(year, by, fmt, output, store, lang):
    """Share of sites meeting their 水质目标, per township (or river) and for the county.

    A site meets its target when the class of its annual means is at least as good.
    Drinking-water sources are counted apart from river and lake sections.

    \b
    Examples:
      ecomap water compliance --year 2023
      ecomap water compliance --by river -o compliance.xlsx
    """
    from ecomap import water

    s = _options.settings(store, lang)
    classes = _stored_classes(s, year)
    table = water.compliance(classes, by=None if by == "county" else by)
    emit(water.compliance_table(table, lang=s.lang), fmt=fmt, output=output,
         records=table.to_dict(orient="records"), sheet="水质")
    if resolve_format(fmt, output) == "table":
        import pandas as pd

        for y, part in classes.groupby("year", dropna=False):
            click.echo("")
            for line in water.headline_text(water.headline_figures(part), lang=s.lang):
                click.echo(f"{'' if pd.isna(y) else f'{int(y)} '}{line}")


def _stored_classes(s, year):
    """Annual classes of the stored sites (``year`` or every year)."""
    import pandas as pd

    from ecomap import water
    from ecomap.errors import NotFoundError

    with _options.open_settings_store(s) as st:
        sites, samples = st.water_sites(), st.water_samples(year=year)
    if sites.empty and samples.empty:
        raise NotFoundError(tr("{store} 中没有水质点位或样品; 请先用 'ecomap water ingest FILE' "
                               "导入", "no water sites or samples in {store}; store them with "
                               "'ecomap water ingest FILE'", store=s.store))
    site_cols = pd.DataFrame(sites.drop(columns=[sites.geometry.name, "fid", "batch_id"],
                                        errors="ignore"))
    return water.annual_site_classes(water.samples_wide(samples),
                                     site_cols if len(site_cols) else None, year=year)


def _with_site_info(frame, sites_table, s):
    """FILE's rows with type, waterbody and target filled in from --sites or the store
    where FILE does not give them."""
    import pandas as pd

    from ecomap import water
    from ecomap.errors import NotFoundError
    from ecomap.store import open_store

    if "site_name" not in frame:
        return frame
    headers = frame.attrs.get("headers", {})
    if sites_table is not None:
        info, problems = water.normalize_samples(sites_table)
        _refuse_unreadable("--sites", problems)
    else:
        try:
            with open_store(s.store) as st:
                info = pd.DataFrame(st.water_sites().drop(columns="geometry"))
        except NotFoundError:
            return frame
    if "site_name" not in info or info.empty:
        return frame
    info = info.drop_duplicates("site_name").set_index("site_name")
    typed = "site_type" in headers or "waterbody" in headers
    for col in ("site_type", "waterbody", "target_class"):
        if col not in info or (col in headers or (col == "waterbody" and typed)):
            continue
        known = frame["site_name"].map(info[col])
        frame[col] = known.where(known.notna(), frame[col] if col in frame else None)
    return frame


def _invalid(head, problems: list[dict]):
    """A ValidationError listing every problem, by row, under ``head``."""
    from ecomap.errors import ValidationError

    ordered = sorted(problems, key=lambda p: (p.get("feature") is not None,
                                              p.get("feature") or 0))
    lines = "\n".join(f"  - {p['message']}" for p in ordered)
    return ValidationError(f"{head}:\n{lines}", problems)


def _refuse_unreadable(name, problems):
    """Problems that leave no row to classify (no known header) stop the command."""
    fatal = [p for p in problems if p["feature"] is None and p["code"] == "missing_column"]
    if fatal:
        raise _invalid(tr("{name}: 没有识别出任何列", "{name}: no column was recognised",
                          name=name), fatal)
    for p in problems:
        if p["feature"] is None:
            click.echo(tr("警告: {name}: {message}", "warning: {name}: {message}", name=name,
                          message=p["message"]), err=True)


COMMANDS = [water_group]
