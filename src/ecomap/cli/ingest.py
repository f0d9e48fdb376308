"""``ecomap validate`` (a dry run) and ``ecomap ingest`` (store one batch)."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.i18n import render, tr, use_lang

_EXIT = {"accept": 0, "warn": 1, "reject": 2}


def _upload_options(f):
    for opt in reversed([
        click.argument("file", type=click.Path(dir_okay=False)),
        _options.store,
        click.option("--crs", default=None, metavar="EPSG",
                     help="CRS of the coordinates, e.g. EPSG:4547 (overrides the .prj)."),
        click.option("--encoding", default=None, metavar="E",
                     help="Text encoding of the attributes (GB18030, UTF-8); detected if "
                          "not given."),
        click.option("--layer", default=None, metavar="NAME",
                     help="Layer to read when the file holds several."),
        click.option("--strict", is_flag=True, help="Reject the file on any warning."),
        click.option("--report", "report_path", default=None, metavar="PATH.json|.html",
                     help="Also write the report as JSON (for other tools) or HTML."),
        click.option("--replace", type=int, default=None, metavar="BATCH",
                     help="Replace the plot batch BATCH with this file (e.g. a corrected "
                          "one): the old batch is rolled back as the new one is stored, in "
                          "one transaction; its plots do not count as stored in the checks."),
        _options.lang,
    ]):
        f = opt(f)
    return f


def _run(file, store, category, year, crs, encoding, layer, strict, report_path, lang,
         replace, *, write: bool):
    from ecomap import ingest
    from ecomap.checks import report_formats as reporting
    from ecomap.io.export import write_text

    s = _options.settings(store, lang)
    with use_lang(s.lang), _options.open_settings_store(s) as st, _progress(file) as step:
        options = dict(category=category, year=year, crs=crs, encoding=encoding,
                       layer=layer, strict=strict, settings=s, replace=replace)
        if write:
            outcome, batch = ingest.ingest_file(file, st, **options)
        else:
            outcome, batch = ingest.validate_file(file, st, **options), None
        step()
        html_report = bool(report_path) and report_path.endswith(".html")
        # The HTML report's map draws the file inside the county and township outlines.
        around = dict(townships=st.townships(), county=st.county()) if html_report else {}
    _print(outcome, s.lang)
    if report_path:
        text = (reporting.report_html(outcome, lang=s.lang, **around) if html_report
                else reporting.report_json(outcome, lang=s.lang))
        write_text(report_path, text)
        click.echo(tr("报告: {path}", "report: {path}", path=report_path).render(s.lang))
    if batch is not None and replace is not None:
        click.echo(tr("已入库为批次 {batch}, 并撤销了被替换的批次 {old}('ecomap rollback "
                      "{batch}' 可删除新批次)",
                      "stored as batch {batch}, replacing batch {old}, which was rolled "
                      "back ('ecomap rollback {batch}' removes the new one)",
                      batch=batch, old=replace).render(s.lang))
    elif batch is not None:
        click.echo(tr("已入库为批次 {batch} ('ecomap rollback {batch}' 可撤销)",
                      "stored as batch {batch} ('ecomap rollback {batch}' removes it)",
                      batch=batch).render(s.lang))
    elif write:
        click.echo(tr("未入库", "nothing stored").render(s.lang), err=True)
    raise SystemExit(_EXIT[outcome.status])


class _progress:
    """A progress display for large files (a spinner with elapsed time on a terminal)."""

    def __init__(self, file):
        import os

        self.big = os.path.getsize(file) > 2_000_000
        self.live = None

    def __enter__(self):
        if self.big:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.live = Progress(SpinnerColumn(), TextColumn("reading and checking …"),
                                 TimeElapsedColumn(), transient=True)
            self.live.start()
            self.live.add_task("check", total=None)
        return lambda: None

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.stop()


def _print(outcome, lang: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from ecomap.checks import severity_word, status_line

    console = Console(highlight=False, soft_wrap=True)
    color = {"accept": "green", "warn": "yellow", "reject": "red"}[outcome.status]
    console.print(f"[{color}]{status_line(outcome, lang=lang)}[/{color}]")
    problems = outcome.report.problems
    if not problems:
        return
    zh = lang == "zh"
    table = Table(show_lines=False)
    for h in (("级别", "代码", "要素", "字段", "说明") if zh else
              ("Severity", "Code", "Feature", "Field", "Message")):
        table.add_column(h)
    for p in problems[:200]:
        table.add_row(severity_word(p.severity, lang), p.code, str(p.feature or ""),
                      str(p.field or ""), escape(render(p.message, lang)))
    console.print(table)
    if len(problems) > 200:
        console.print(tr("… 另有 {n} 个 (用 --report 写出全部)",
                         "… {n} more (write them all with --report)",
                         n=len(problems) - 200).render(lang))


@click.command("validate", short_help="Check a plot file against the store, storing "
                                      "nothing (a dry run).")
@_upload_options
@click.option("--category", default="afforestation", show_default=True,
              help="Category code or name (人工造林, mine_remediation …).")
@click.option("--year", type=int, default=None, help="Year of the work (else from 年度).")
def validate_cmd(file, store, crs, encoding, layer, strict, replace, report_path, lang,
                 category, year):
    """Check a plot file against the store without storing anything (a dry run).

    Exit code 0: would be accepted; 1: accepted with warnings; 2: rejected.

    \b
    Examples:
      ecomap validate 2023造林小班.zip --category 人工造林
      ecomap validate plots.shp --crs EPSG:4547 --report report.html
    """
    _run(file, store, category, year, crs, encoding, layer, strict, report_path, lang,
         replace, write=False)


@click.command("ingest", short_help="Check a plot file and store its accepted plots as one "
                                    "batch.")
@_upload_options
@click.option("--category", required=True, help="Category code or name (人工造林 …).")
@click.option("--year", type=int, required=True, help="Year of the work.")
def ingest_cmd(file, store, crs, encoding, layer, strict, replace, report_path, lang,
               category, year):
    """Check a plot file and store its accepted plots as one batch (all or nothing).

    Exit code 0: stored; 1: stored with warnings (repaired or left-out features are
    listed); 2: rejected, nothing stored.

    \b
    Examples:
      ecomap ingest 2023造林小班.zip --category 人工造林 --year 2023
      ecomap ingest corrected.zip --category afforestation --year 2023 --replace 4
    """
    _run(file, store, category, year, crs, encoding, layer, strict, report_path, lang,
         replace, write=True)


COMMANDS = [validate_cmd, ingest_cmd]
