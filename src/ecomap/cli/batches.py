"""``ecomap batches`` and ``ecomap rollback``: what was stored, and undoing one batch."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.cli._output import emit
from ecomap.i18n import tr


@click.command("batches")
@_options.store
@_options.table_format()
@_options.table_output
def batches_cmd(store, fmt, output):
    """List stored batches: file, SHA-256, time, user, counts, area.

    \b
    Examples:
      ecomap batches --store /data/dayu.gpkg
      ecomap batches --format json > batches.json
    """
    import pandas as pd

    from ecomap.units import mu_from_m2

    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        df = st.batches()
    if df.empty:
        emit(df, fmt=fmt, output=output, empty=tr("(没有批次)", "(no batches)"))
        return
    records = df.to_dict(orient="records")  # JSON: every field as stored
    df["area_mu"] = mu_from_m2(df["area_m2"].astype(float)).round(1)
    df["sha256"] = df["sha256"].fillna("").str[:12]
    df["year"] = [str(int(y)) if pd.notna(y) else "" for y in df["year"]]
    df = df.fillna("")
    cols = ["batch_id", "kind", "category", "year", "feature_count", "area_mu", "created_at",
            "user", "source_file", "sha256"]
    emit(df[cols], fmt=fmt, output=output, records=records, sheet="批次")


@click.command("rollback")
@click.argument("batch", type=int)
@_options.store
def rollback_cmd(batch, store):
    """Remove exactly one batch (see 'ecomap batches') from the store.

    \b
    Examples:
      ecomap rollback 4
      ecomap --store /data/dayu.gpkg rollback 4
    """
    s = _options.settings(store)
    with _options.open_settings_store(s) as st:
        result = st.rollback(batch)

    removed = ", ".join(f"{n} {t}" for t, n in result["removed"].items())
    click.echo(tr("已撤销批次 {batch} ({kind}): 删除 {removed}",
                  "rolled back batch {batch} ({kind}): removed {removed}", batch=batch,
                  kind=result["kind"], removed=removed))


COMMANDS = [batches_cmd, rollback_cmd]
