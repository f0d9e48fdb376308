"""``ecomap targets`` and ``ecomap progress``: targets assigned from above, and how far the
county and each township are with them."""

from __future__ import annotations

from pathlib import Path

import click

from ecomap.cli import _options
from ecomap.cli._output import emit, resolve_format
from ecomap.i18n import tr


@click.group("targets", short_help="Targets assigned from above (上级下达任务): import, list.")
def targets_group():
    """Targets assigned from above (上级下达任务), by township, category and year.

    \b
    Examples:
      ecomap targets import 2023年任务分解表.xlsx
      ecomap targets import 任务.csv --year 2023
      ecomap targets list --year 2023
      ecomap progress --year 2023
    """


@targets_group.command("import", short_help="Store a targets table (XLSX/CSV) as one batch.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--year", type=int, default=None,
              help="Year of every row without a 年度 cell (or of the whole file).")
@click.option("--sheet", default=None, metavar="NAME|N",
              help="Worksheet of an XLSX file, by name or 0-based number (default: the "
                   "first).")
@click.option("--encoding", default=None, metavar="E",
              help="Text encoding of CSV files (default: detected — UTF-8, else GBK/GB18030).")
@_options.store
def import_cmd(file, year, sheet, encoding, store):
    """Store a targets table (任务分解表) as one batch.

    \b
    FILE has one row per township and category (a title above the header is fine):
      乡镇      类别        年度   任务量   单位
      黄龙镇    人工造林    2023   1200     亩
      全县      油茶新造    2023   0.5      万亩
    A blank 乡镇, 全县 or the county's name is a target of the county as a whole.
    Units: 亩, 万亩, 公顷, 平方公里 (converted to the category's report unit: 亩, or
    km² for 小流域水土流失治理) and 个 for patches; a blank unit is the category's.
    Every bad row is listed with its row and column, and then nothing is stored.  A
    target already stored for the same township, category and year is refused: roll
    its batch back first ('ecomap rollback N').

    \b
    Examples:
      ecomap targets import 2023年任务分解表.xlsx
      ecomap targets import 任务.csv --year 2023 --store /data/dayu.gpkg
    """
    from ecomap.schema import category_label
    from ecomap.targets import import_targets

    s = _options.settings(store)
    sheet_arg = int(sheet) if sheet is not None and sheet.isdigit() else sheet
    with _options.open_settings_store(s) as st:
        batch, targets = import_targets(file, st, user=s.user, name=Path(file).name, year=year,
                                        encoding=encoding, sheet=sheet_arg)
    for note in targets.attrs.get("notes", []):
        click.echo(tr("注: {note}", "note: {note}", note=note), err=True)
    years = "、".join(str(y) for y in sorted(targets["year"].unique()))
    cats = "、".join(category_label(c, s.lang) for c in dict.fromkeys(targets["category"]))
    county_rows = int(targets["township"].isna().sum())
    click.echo(tr("已入库批次 {batch}: {n} 项任务 ({county} 项为全县任务), 年度 {years}, 类别 {cats}",
                  "stored batch {batch}: {n} targets ({county} for the county as a whole), "
                  "year(s) {years}, categories {cats}", batch=batch, n=len(targets),
                  county=county_rows, years=years, cats=cats))


@targets_group.command("list", short_help="The stored targets.")
@_options.year
@_options.store
@_options.table_format()
@_options.table_output
@_options.lang
def list_cmd(year, store, fmt, output, lang):
    """The stored targets, in each category's report unit.

    \b
    Examples:
      ecomap targets list --year 2023
      ecomap targets list --format json
    """
    import pandas as pd

    from ecomap.schema import category_label, label
    from ecomap.targets import unit_label

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        df = st.targets(year=year)
    records = [{"township": None if pd.isna(r.township) else r.township,
                "category": r.category, "year": int(r.year), "quantity": r.quantity,
                "unit": r.unit, "batch_id": int(r.batch_id)} for r in df.itertuples()]
    shown = pd.DataFrame({
        label("township", s.lang): [label("county", s.lang) if pd.isna(t) else t
                                    for t in df["township"]],
        label("category", s.lang): [category_label(c, s.lang) for c in df["category"]],
        label("year", s.lang): df["year"].tolist(),
        label("target", s.lang): pd.Series(df["quantity"].tolist(), dtype=object),
        label("unit", s.lang): [unit_label(u, s.lang) for u in df["unit"]],
        label("batch_id", s.lang): df["batch_id"].tolist(),
    })
    emit(shown, fmt=fmt, output=output, records=records, sheet="任务" if s.lang == "zh"
         else "Targets", empty=tr("(没有入库的任务; 用 ecomap targets import 导入)",
                                  "(no targets stored; import them with ecomap targets "
                                  "import)"))


@click.command("progress", short_help="Progress against targets (任务完成率), or year over "
                                      "year.")
@_options.year
@click.option("--by", type=click.Choice(["township", "county"]), default="county",
              show_default=True, help="Rows per township and category (with the county "
                                      "rows last), or for the county only.")
@click.option("--year-over-year", "yoy", is_flag=True,
              help="Work done in every stored year and the change from the year before, "
                   "instead of progress against targets.")
@_options.store
@_options.table_format()
@_options.table_output
@_options.lang
def progress_cmd(year, by, yoy, store, fmt, output, lang):
    """Target, done, completion rate and remaining, by category (and township).

    Done counts restoration work in each category's report unit (亩; km² for
    小流域水土流失治理) from the stored plots.  A category without a target is shown
    as 无任务, never as 0 %.  The default year is the latest with targets.  In table
    format the sentence a report closes with follows the table ("均已完成上级下达任务",
    or who is short and by how much).

    \b
    Examples:
      ecomap progress --year 2023
      ecomap progress --year 2023 --by township -o 完成率.xlsx
      ecomap progress --format json
      ecomap progress --year-over-year --by township
    """
    from ecomap import targets as tg

    s = _options.settings(store, lang)
    fmt_used = resolve_format(fmt, output)
    with _options.open_settings_store(s) as st:
        if yoy:
            table = tg.store_year_over_year(st, by=by)
            emit(tg.yoy_display(table, lang=s.lang), fmt=fmt, output=output,
                 records=tg.yoy_records(table), sheet="逐年对比" if s.lang == "zh"
                 else "Year over year", empty=tr("(没有入库的图斑)", "(no plots stored)"))
            return
        table = tg.store_progress(st, year=year, by="township")
        has_targets = len(st.targets()) > 0
    shown = table if by == "township" else table[table["township"].isna()]
    emit(tg.progress_display(shown, lang=s.lang), fmt=fmt, output=output,
         records=tg.progress_records(shown), sheet="任务完成" if s.lang == "zh"
         else "Progress", empty=tr("(没有任务, 也没有入库的图斑)",
                                   "(no targets and no plots stored)"))
    if fmt_used == "table" and len(table):
        click.echo()
        click.echo(tg.progress_sentence(table, lang=s.lang))
        if not has_targets:
            click.echo(tr("(库中没有任务; 用 ecomap targets import 导入任务分解表)",
                          "(no targets stored; import the targets table with ecomap "
                          "targets import)"), err=True)


COMMANDS = [targets_group, progress_cmd]
