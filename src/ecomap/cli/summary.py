"""``ecomap summary``: restoration area by township, category and year."""

from __future__ import annotations

import json

import click

from ecomap.cli import _options


@click.command("summary")
@_options.store
@_options.year
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "xlsx", "json"]),
              default="table", show_default=True, help="Output format.")
@_options.output
@_options.lang
def summary_cmd(store, year, fmt, output, lang):
    """Area (mu, ha) and plot count by township × category × year.

    A plot that crosses a township border is split between the townships by area; it
    is counted once, in the township holding most of it.
    """
    from ecomap import api
    from ecomap.aggregate import display_table, summary_records
    from ecomap.io.export import write_table

    s = _options.settings(store, lang)
    with _options.open_settings_store(s) as st:
        table = api.summary(st, year=year)
    if fmt == "json":
        records = summary_records(table)
        if output:
            write_table(table, output if output.endswith(".json") else output + ".json",
                        records=records)
            click.echo(f"wrote {output}", err=True)
        else:
            click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    shown = display_table(table, lang=s.lang)
    if fmt == "table":
        if output:
            raise click.UsageError("--format table prints to the terminal; use csv or xlsx "
                                   "with -o")
        with __import__("pandas").option_context("display.max_rows", None,
                                                 "display.width", 200):
            click.echo(shown.to_string(index=False) if len(shown) else "(no plots stored)")
        return
    path = output or f"summary.{fmt}"
    if not path.lower().endswith("." + fmt):
        path += "." + fmt
    write_table(shown, path)
    click.echo(f"wrote {path}")


COMMANDS = [summary_cmd]
