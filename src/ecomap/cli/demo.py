"""``ecomap demo``: the Dayu County demo, end to end."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.i18n import tr

# Report units that count features rather than area: the word shown after the count.
_COUNTED = {"patches": tr("块", "patches"), "persons": tr("片", "areas")}


@click.command("demo", short_help="Build the demo store from the embedded Dayu County data, "
                                  "with every map and table.")
@_options.store
@click.option("--geodata", default=None, metavar="DIR",
              help="Demo data folder (default: ./geodata of the checkout).")
@click.option("--out", default="maps", show_default=True, metavar="DIR",
              help="Where maps and tables go.")
@click.option("--overwrite", is_flag=True,
              help="Replace a store that holds other data than the demo's.")
@_options.lang
def demo_cmd(store, geodata, out, overwrite, lang):
    """Build the store from the embedded Dayu data and write every map and table.

    \b
    Examples:
      ecomap demo
      ecomap demo --store /tmp/dayu.gpkg --out /tmp/maps --lang en
    """
    from ecomap.demo import REPORT_YEAR, run_demo
    from ecomap.schema import category_label

    s = _options.settings(store, lang)
    result = run_demo(s, geodata=geodata, out=out, overwrite=overwrite)
    click.echo(tr("数据库: {store}", "store: {store}", store=result.store))
    click.echo(tr("已写出 {n} 个文件:", "wrote {n} files:", n=len(result.written)))
    for path in result.written:
        click.echo(f"  {path}")
    click.echo("")
    click.echo(tr("全县汇总 (按入库小班计算; 方括号内为报告数):",
                  "county totals (computed from the stored plots; reported figure in brackets):"))
    names = [category_label(t["category"], s.lang) for t in result.totals]
    width = max((_width(n) for n in names), default=0)
    for t, name in zip(result.totals, names, strict=True):
        name += " " * (width - _width(name))  # aligned in a terminal, Chinese or not
        rep = t["reported"]
        if rep and rep[1] == "km2":
            mine, theirs = f"{t['area_km2']:.2f} km²", f"{rep[0]:g} km²"
        elif rep and rep[1] in _COUNTED:
            mine, theirs = f"{t['count']} {_COUNTED[rep[1]].render(s.lang)}", f"{rep[0]:g}"
        else:
            mu = "亩" if s.lang == "zh" else "mu"
            mine, theirs = f"{t['area_mu']:,.1f} {mu}", f"{rep[0]:,.1f}" if rep else "-"
        ok = ""
        if rep:
            value = t["area_km2"] if rep[1] == "km2" else (
                t["count"] if rep[1] in _COUNTED else t["area_mu"])
            ok = "  ✓" if abs(value - rep[0]) < (0.005 if rep[1] == "km2" else 0.05) else "  ✗"
        click.echo(tr("  {year} {name} {count:>5} 个图斑  {mine:>16}  [{theirs}]{ok}",
                      "  {year} {name} {count:>5} plots  {mine:>16}  [{theirs}]{ok}",
                      year=t["year"], name=name, count=t["count"], mine=mine,
                      theirs=theirs, ok=ok))
    if result.progress is not None and len(result.progress):
        click.echo("")
        click.echo(tr("{year} 年任务完成情况 (全县; 按入库小班计算):",
                      "{year} targets (county; computed from the stored plots):",
                      year=REPORT_YEAR))
        for line in result.progress.to_string(index=False).splitlines():
            click.echo(f"  {line}")
        click.echo(f"  {result.progress_sentence}")
    if result.patches_sentence:
        click.echo("")
        click.echo(tr("森林督查问题图斑 (按入库的核实整改状态计算):",
                      "forest-inspection patches (computed from the stored statuses):"))
        click.echo(f"  {result.patches_sentence}")
    _echo_water(result.store, geodata, s.lang)


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (Chinese characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _echo_water(store: str, geodata: str | None, lang: str | None = None) -> None:
    """The report's two water statements, recomputed from the stored demo samples, in
    ``lang`` (default: the language of the command)."""
    import csv

    from ecomap import api, water
    from ecomap.demo import find_geodata
    from ecomap.i18n import current_lang
    from ecomap.store import open_store

    with open_store(store) as st:
        year = api.latest_year(st)
        sites = api.water_site_classes(st, year=year)
    if sites.empty:
        return
    fig = water.headline_figures(sites)
    report = find_geodata(geodata) / "report_2023.csv"
    rep = {}
    if report.exists():
        with open(report, encoding="utf-8") as f:
            rep = {r["code"]: r["quantity"] for r in csv.DictReader(f)}
    pct, worst = fig["drinking"]["pct"], fig["surface"]["worst"]
    rep_pct, rep_cls = rep.get("drinking_water_compliance"), rep.get("surface_water_class")
    lang = lang or current_lang()
    drinking, surface = water.headline_text(fig, lang=lang)
    click.echo("")
    click.echo(tr("{year} 年水质 (GB 3838-2002, 按入库样品年均值评价; 方括号内为报告表述):",
                  "water quality {year} (GB 3838-2002, annual means of the stored samples; "
                  "reported statement in brackets):", year=year).render(lang))
    ok = "" if rep_pct is None else "  ✓" if pct is not None and abs(pct - float(rep_pct)) < 0.05 \
        else "  ✗"
    click.echo(f"  {drinking}  [{rep_pct or '-'}%]{ok}")
    ok = "" if rep_cls not in water.CLASSES else "  ✓" if worst and water.CLASSES.index(
        worst) <= water.CLASSES.index(rep_cls) else "  ✗"
    click.echo(tr("  {surface}  [{cls} 类或更好]{ok}", "  {surface}  [class {cls} or better]{ok}",
                  surface=surface, cls=rep_cls or "-", ok=ok).render(lang))


COMMANDS = [demo_cmd]
