"""``ecomap photos``: evidence photos (现场照片) attached to patches and plots."""

from __future__ import annotations

import click

from ecomap.cli import _options
from ecomap.cli._output import emit
from ecomap.i18n import tr


@click.group("photos", short_help="Evidence photos (现场照片): add, list.")
def photos_group():
    """Evidence photos (现场照片) from phones, attached to patches and plots.

    \b
    Examples:
      ecomap photos add 现场照片/
      ecomap photos add DY2022-007_现场.jpg IMG_0012.jpg
      ecomap photos add 照片/ --patch DY2022-007
      ecomap photos list --patch DY2022-007
    """


def _where(kind, key, lang: str, name=None) -> str:
    if kind is None:
        return ""
    from ecomap.i18n import use_lang
    from ecomap.photos import target_label

    with use_lang(lang):
        return str(target_label(kind, key, name))


def _how(result, lang: str) -> str:
    zh = {"patch option": "--patch 指定", "name": "文件名", "inside": "位置在内",
          "nearest": "最近 {d:.0f} 米"}
    en = {"patch option": "--patch", "name": "file name", "inside": "inside",
          "nearest": "nearest, {d:.0f} m"}
    text = (zh if lang == "zh" else en).get(result.how, result.how or "")
    return text.format(d=result.distance_m or 0.0)


@photos_group.command("add", short_help="Attach photos to patches or plots, as one batch.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--patch", default=None, metavar="ID",
              help="Attach every photo to this patch (whatever its position or name).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=None, metavar="M",
              help="How far (m) a photo may be from a patch or plot and still attach to it "
                   "(default 50, or $ECOMAP_PHOTO_TOLERANCE_M).")
@_options.store
@_options.table_format()
@_options.table_output
@_options.lang
@click.pass_context
def add_cmd(ctx, paths, patch, tolerance, store, fmt, output, lang):
    """Store photos (JPEG files, or folders of them) as one batch.

    \b
    Each photo goes to, in this order:
      1. the patch of --patch;
      2. the patch its file name starts with (DY2022-007_现场.jpg → DY2022-007), or
         the plot whose 小班号 it starts with, even when its position is elsewhere
         (a warning says how far);
      3. the patch, else the plot, that contains its EXIF GPS position;
      4. the nearest patch, else plot, within the tolerance (50 m; the nearest of
         several, with a warning).
    A photo that cannot be read, has nowhere to go or is already stored is refused
    with the reason, and the others are stored.  The table lists every photo.

    \b
    Exit codes: 0 all stored; 1 some photos refused, the others stored;
    2 nothing stored (every photo refused).

    \b
    Examples:
      ecomap photos add 现场照片/
      ecomap photos add DY2022-007_现场.jpg IMG_0012.jpg --tolerance 30
      ecomap photos add 照片/ --patch DY2022-007 --format json
    """
    import pandas as pd

    from ecomap.errors import ValidationError
    from ecomap.photos import add_photos, photo_files

    s = _options.settings(store, lang)
    tol = s.photo_tolerance_m if tolerance is None else float(tolerance)
    files = photo_files(paths)
    with _options.open_settings_store(s) as st:
        added = add_photos(files, st, user=s.user, tolerance_m=tol, timezone=s.timezone,
                           patch=patch)
    results = added.results
    records = [{"file": r.file_name, "stored": r.stored, "target_kind": r.kind,
                "target_key": r.key, "target_name": r.name, "how": r.how,
                "distance_m": r.distance_m,
                "taken_at": r.taken_at, "warning": r.warning, "reason": r.reason}
               for r in results]
    zh = s.lang == "zh"
    shown = pd.DataFrame({
        "照片" if zh else "photo": [r.file_name for r in results],
        "挂接到" if zh else "attached to": [_where(r.kind, r.key, s.lang, r.name) or
                                         ("未入库" if zh else "not stored") for r in results],
        "依据" if zh else "by": [_how(r, s.lang) if r.stored else "" for r in results],
        "拍摄时间" if zh else "taken": [(r.taken_at or "")[:16].replace("T", " ")
                                    for r in results],
        "说明" if zh else "note": [r.reason or r.warning or "" for r in results],
    })
    emit(shown, fmt=fmt, output=output, records=records, sheet="照片" if zh else "Photos")
    n_ok = sum(r.stored for r in results)
    if added.batch_id is None:
        raise ValidationError(tr("{n} 张照片均未入库 (原因见上表)",
                                 "none of the {n} photo(s) was stored (see the table for why)",
                                 n=len(results)))
    click.echo(tr("已入库批次 {batch}: {ok} 张照片; {bad} 张未入库",
                  "stored batch {batch}: {ok} photo(s); {bad} refused",
                  batch=added.batch_id, ok=n_ok, bad=len(results) - n_ok), err=True)
    if n_ok < len(results):
        ctx.exit(1)


@photos_group.command("list", short_help="The stored photos.")
@click.option("--patch", default=None, metavar="ID", help="Only the photos of this patch.")
@click.option("--plot", "plot", type=int, default=None, metavar="FID",
              help="Only the photos of this plot (its fid).")
@_options.store
@_options.table_format()
@_options.table_output
@_options.lang
def list_cmd(patch, plot, store, fmt, output, lang):
    """The stored photos: where each is attached, when it was taken, its batch.

    \b
    Examples:
      ecomap photos list
      ecomap photos list --patch DY2022-007 --format json
    """
    import pandas as pd

    s = _options.settings(store, lang)
    kind, key = (("patch", patch) if patch is not None else
                 ("plot", str(plot)) if plot is not None else (None, None))
    with _options.open_settings_store(s) as st:
        df = st.photos(target_kind=kind, target_key=key)
        targets = st.photo_targets() if len(df) else None
    names = {} if targets is None else dict(zip(
        zip(targets["kind"], targets["key"], strict=True), targets["name"], strict=True))
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()}
               for row in df.to_dict(orient="records")]
    zh = s.lang == "zh"
    shown = pd.DataFrame({
        "照片编号" if zh else "photo": df["photo_id"].tolist(),
        "挂接到" if zh else "attached to": [_where(k, v, s.lang, names.get((k, v))) for k, v in
                                         zip(df["target_kind"], df["target_key"], strict=True)],
        "拍摄时间" if zh else "taken": [str(t or "")[:16].replace("T", " ")
                                    for t in df["taken_at"]],
        "文件名" if zh else "file": df["file_name"].tolist(),
        "经度" if zh else "lon": [None if pd.isna(v) else round(v, 6) for v in df["lon"]],
        "纬度" if zh else "lat": [None if pd.isna(v) else round(v, 6) for v in df["lat"]],
        "批次" if zh else "batch": df["batch_id"].tolist(),
    })
    emit(shown, fmt=fmt, output=output, records=records, sheet="照片" if zh else "Photos",
         empty=tr("(没有入库的照片; 用 ecomap photos add 添加)",
                  "(no photos stored; add them with ecomap photos add)"))


COMMANDS = [photos_group]
