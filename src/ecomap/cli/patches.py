"""``ecomap patches``: the province's forest-inspection patches — import, update (one
patch, or a township's table), status by township, the report back."""

from __future__ import annotations

from pathlib import Path

import click

from ecomap.cli import _options
from ecomap.cli._output import emit
from ecomap.cli.map import _map_options
from ecomap.i18n import tr


@click.group("patches", short_help="Forest-inspection patches (森林督查图斑): import, "
                                   "update, status, export.")
def patches_group():
    """Forest-inspection patches (森林督查变化图斑) from the province's layer to 已整改.

    \b
    Examples:
      ecomap patches import 2022年森林督查图斑.zip --year 2022
      ecomap patches update 360723-2022-001 --verification 违法 --unlawful-type 违法占用林地
      ecomap patches template --year 2022 --township 南安镇 -o 南安镇.xlsx
      ecomap patches update-from 南安镇.xlsx
      ecomap patches status --year 2022 --by township
      ecomap patches export --year 2022 -o 图斑核实整改.zip
      ecomap patches map --year 2022 --on 2023-03-31
    """


@patches_group.command("import", short_help="Store the province's patch layer (by ID).")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--year", type=int, required=True, help="The inspection year (e.g. 2022).")
@click.option("--encoding", default=None, metavar="E",
              help="Text encoding of a Shapefile without .cpg (default: detected).")
@click.option("--crs", default=None, metavar="CRS", help="CRS of a file that has none.")
@click.option("--layer", default=None, metavar="NAME", help="Layer of a multi-layer file.")
@_options.store
def import_cmd(file, year, encoding, crs, layer, store):
    """Store the province's patch layer for YEAR, through the checks plots go through.

    The patch ID (图斑编号, 变化图斑编号, TBBH, JCBH …) is the key: a patch without an
    ID, or an ID twice, rejects the file.  Every original field is kept as written.
    Importing a corrected layer of the same year again updates by ID and lists what
    changed; patches missing from it are kept (and listed), never deleted.

    \b
    Examples:
      ecomap patches import 2022年森林督查变化图斑.zip --year 2022
      ecomap patches import 图斑_更正.shp --year 2022 --encoding gbk
    """
    from ecomap.checks.report import problem_list
    from ecomap.errors import ValidationError
    from ecomap.patches.importing import import_patches

    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        outcome, result = import_patches(file, st, year=year, settings=s,
                                         name=Path(file).name, encoding=encoding, crs=crs,
                                         layer=layer)
    problems = outcome.report.problems
    if result is None:
        errors = [p for p in problems if p.severity == "error"]
        raise ValidationError(problem_list(Path(file).name, errors), [])
    for p in problems:
        click.echo(tr("注: {m}", "note: {m}", m=p.message), err=True)
    if result["batch_id"] is None:
        click.echo(tr("{year}年度图斑与库中相同（{n} 个），没有变化，未入库",
                      "the {year} patches are as stored ({n}): nothing changed, nothing "
                      "stored", year=year, n=len(result["unchanged"])))
    else:
        click.echo(tr("已入库批次 {batch}：{year}年度图斑 新增 {new} 个，变化 {changed} 个，"
                      "未变 {same} 个", "stored batch {batch}: {year} patches: {new} new, "
                      "{changed} changed, {same} unchanged", batch=result["batch_id"],
                      year=year, new=len(result["new"]), changed=len(result["changed"]),
                      same=len(result["unchanged"])))
    for pid, what in result["changed"].items():
        click.echo(tr("  变化 {id}：{what}", "  changed {id}: {what}", id=pid,
                      what="、".join(what)))
    if result["missing"]:
        click.echo(tr("  新文件中缺少 {n} 个已入库图斑（已保留，未删除）：{ids}",
                      "  {n} stored patch(es) missing from the new file (kept, not "
                      "deleted): {ids}", n=len(result["missing"]),
                      ids=", ".join(result["missing"])))


@patches_group.command("update", short_help="Update one patch's status.")
@click.argument("patch_id")
@click.option("--verification", type=click.Choice(["合法", "违法", "其他", "未核实"]),
              help="核实结果.")
@click.option("--unlawful-type", help="违法类型: 违法占用林地, 违法采伐林木, 违法开垦林地, 其他.")
@click.option("--status", help="整改状态: 未整改, 整改中, 已整改, 已销号 (forward only), 无需整改.")
@click.option("--deadline", metavar="YYYY-MM-DD", help="整改期限.")
@click.option("--rectified-on", metavar="YYYY-MM-DD", help="整改日期.")
@click.option("--closed-on", metavar="YYYY-MM-DD", help="销号日期.")
@click.option("--township-in-charge", help="责任乡镇 (default: the patch's township).")
@click.option("--note", help="备注.")
@click.option("--user", default=None, help="Who made the change (default: $ECOMAP_USER).")
@_options.store
def update_cmd(patch_id, verification, unlawful_type, status, deadline, rectified_on,
               closed_on, township_in_charge, note, user, store):
    """Record a change of one patch as events (who, when, what).

    \b
    Examples:
      ecomap patches update 360723-2022-001 --verification 违法 --unlawful-type 违法占用林地 \\
          --deadline 2023-06-30
      ecomap patches update 360723-2022-001 --status 已整改 --rectified-on 2023-05-20
    """
    from ecomap.patches.service import update_patch

    s = _options.settings(store)
    changes = {"verification": verification, "unlawful_type": unlawful_type,
               "status": status, "deadline": deadline, "rectified_on": rectified_on,
               "closed_on": closed_on, "township_in_charge": township_in_charge,
               "note": note}
    with _options.open_settings_store(s) as st:
        done = update_patch(st, patch_id, changes, user=user or s.user)
    if not done:
        click.echo(tr("图斑 {id}：没有变化", "patch {id}: nothing changed", id=patch_id))
        return
    click.echo(tr("图斑 {id} 已更新：{what}", "patch {id} updated: {what}", id=patch_id,
                  what="，".join(f"{f}={v}" for f, v in done)))


@patches_group.command("template", short_help="The XLSX sent to a township to fill in.")
@click.option("--year", type=int, required=True, help="The inspection year.")
@click.option("--township", default=None, help="Only the patches this township is in "
                                               "charge of (default: all).")
@click.option("-o", "--output", required=True, metavar="FILE.xlsx", help="Where to write.")
@_options.store
def template_cmd(year, township, output, store):
    """Write the patch list with its current state, drop-downs for 核实结果, 违法类型 and
    整改状态 and date cells; read it back with 'ecomap patches update-from'.

    \b
    Examples:
      ecomap patches template --year 2022 --township 南安镇 -o 南安镇.xlsx
      ecomap patches template --year 2022 -o 全县图斑.xlsx
    """
    from ecomap.io.export import atomic_write
    from ecomap.patches.workbook import template_bytes

    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        county = st.county()
        name = str(county["name"].iloc[0]) if len(county) else ""
        data = template_bytes(st, year=year, township=township, county=name)
    atomic_write(output, data)
    click.echo(tr("已写出 {file}", "wrote {file}", file=output))


@patches_group.command("update-from", short_help="Store a township's filled-in table.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", default=None, help="Who sent it (default: $ECOMAP_USER).")
@_options.store
def update_from_cmd(file, user, store):
    """Read a filled-in template row by row: every bad cell is listed (row, column,
    header) and then nothing is stored; unchanged rows make no events.

    \b
    Examples:
      ecomap patches update-from 南安镇.xlsx --user 南安镇林业站
    """
    from ecomap.patches.workbook import update_from

    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        batch, events = update_from(file, st, user=user or s.user, name=Path(file).name)
    if batch is None:
        click.echo(tr("{file}：没有变化，未入库", "{file}: nothing changed, nothing stored",
                      file=Path(file).name))
        return
    click.echo(tr("已入库批次 {batch}：{n} 个图斑的 {e} 项变化",
                  "stored batch {batch}: {e} change(s) to {n} patch(es)", batch=batch,
                  n=events["patch_id"].nunique(), e=len(events)))


@patches_group.command("status", short_help="Counts by status per township; overdue "
                                            "patches.")
@_options.year
@click.option("--by", type=click.Choice(["township", "county"]), default="township",
              show_default=True)
@click.option("--on", "on", default=None, metavar="YYYY-MM-DD",
              help="The state on a past date (default: now).")
@_options.store
@_options.table_format()
@_options.table_output
@_options.lang
def status_cmd(year, by, on, store, fmt, output, lang):
    """Counts by status per township responsible and for the county, the overdue
    patches with days late, then the report's sentence.

    \b
    Examples:
      ecomap patches status --year 2022
      ecomap patches status --year 2022 --on 2023-06-30
      ecomap patches status --format xlsx -o 图斑进度.xlsx
    """
    from ecomap.cli._output import resolve_format
    from ecomap.patches.service import latest_year, store_patch_table
    from ecomap.patches.status import overdue, patch_progress, patches_sentence, value_label

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        year = year or latest_year(st)
        table = store_patch_table(st, year=year, on=on) if year else None
    if table is None or not len(table):
        click.echo(tr("(没有入库的图斑；用 ecomap patches import 导入)",
                      "(no patches stored; import them with ecomap patches import)"))
        return
    prog = patch_progress(table, on=on)
    if by == "county":
        prog = prog[prog["township"].isna()]
    en = s.lang == "en"
    heads = (["Township", "Patches", "Unverified", "Lawful", "Not started", "In progress",
              "Rectified (incl. closed)", "Closed", "Overdue"] if en else
             ["乡镇", "图斑数", "未核实", "合法", "未整改", "整改中", "已整改(含销号)", "已销号", "逾期"])
    shown = prog.copy()
    shown["township"] = [t if isinstance(t, str) else ("County" if en else "全县")
                         for t in shown["township"]]
    shown.columns = heads
    late = overdue(table, on=on)
    records = {"year": year, "on": on, "progress": prog.to_dict(orient="records"),
               "overdue": late[["patch_id", "in_charge", "deadline", "status",
                                "days_late"]].to_dict(orient="records"),
               "sentence": patches_sentence(table, year, s.lang, on=on)}
    emit(shown, fmt=fmt, output=output, records=[records], sheet="图斑进度")
    if resolve_format(fmt, output) == "table":
        if len(late):
            click.echo()
            click.echo(tr("逾期未整改：", "Overdue:"))
            for r in late.itertuples():
                click.echo(tr("  {id}  {town}  期限 {d}  {s}  逾期 {n} 天",
                              "  {id}  {town}  deadline {d}  {s}  {n} days late",
                              id=r.patch_id, town=r.in_charge, d=r.deadline,
                              s=value_label(r.status, s.lang),
                              n=r.days_late))
        click.echo()
        click.echo(records["sentence"])


@patches_group.command("export", short_help="The report back: the province's table plus "
                                            "the status fields.")
@click.option("--year", type=int, required=True, help="The inspection year.")
@click.option("-o", "--output", required=True, metavar="FILE",
              help=".zip (Shapefile, GBK), .gpkg or .xlsx (no geometry).")
@_options.store
def export_cmd(year, output, store):
    """The province's fields and IDs as it wrote them, plus 核实结果, 违法类型, 整改状态,
    整改期限, 整改日期, 销号日期, 责任乡镇, 备注.

    \b
    Examples:
      ecomap patches export --year 2022 -o 2022年图斑核实整改.zip
      ecomap patches export --year 2022 -o 图斑核实整改.xlsx
    """
    from ecomap.patches.export import export_patches

    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        n = len(st.patches(year=year))
        export_patches(st, year=year, path=output)
    click.echo(tr("已写出 {file}：{n} 个图斑", "wrote {file}: {n} patches", file=output, n=n))


@patches_group.command("map", short_help="Map of the patches coloured by status, with "
                                         "history and photos.")
@_options.store
@_options.year
@click.option("--on", "on", default=None, metavar="YYYY-MM-DD",
              help="The statuses on a past date (default: today).")
@_options.output
@_options.lang
@_map_options
def map_cmd(store, year, on, output, lang, basemap, tianditu_key, fmt, embed, png, pdf, dpi):
    """The year's patches coloured by rectification status (overdue ones outlined in
    black); each patch's popup holds its state, its history and its photos.

    \b
    Examples:
      ecomap patches map --year 2022
      ecomap patches map --year 2022 --on 2023-03-31 -o 图斑_一季度.html
      ecomap patches map --pdf -o 图斑整改.pdf
    """
    from ecomap import api
    from ecomap.cli.map import _format, _write

    fmt = _format(fmt, embed, png, pdf)
    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        year = year or _latest(st)
        if not year or not len(st.patches(year=year)):
            click.echo(tr("注: 库中没有{year}年度的图斑（用 ecomap patches import 导入）",
                          "note: no patches of {year} in the store (import them with "
                          "ecomap patches import)", year=year) if year else
                       tr("注: 库中没有图斑（用 ecomap patches import 导入）",
                          "note: no patches in the store (import them with ecomap "
                          "patches import)"), err=True)
        m = api.patches_map(st, year=year, on=on, lang=s.lang, basemap=basemap,
                            tianditu_key=tianditu_key)
    path = _write(m, fmt, output, f"maps/patches_{year or ''}".rstrip("_"), dpi=dpi)
    click.echo(tr("已写出 {path}", "wrote {path}", path=path))


def _latest(store):
    from ecomap.patches.service import latest_year

    return latest_year(store)


COMMANDS = [patches_group]
