"""The Dayu County demo: build a store from ``geodata/`` the way users' files go in,
then write every map and table.

Each geodata file goes through the same reader, checks and store calls as an upload;
the store is built beside its final place and moved there only when complete.
"""

from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ecomap import api
from ecomap.aggregate import county_totals
from ecomap.errors import InputError, StoreError
from ecomap.i18n import tr
from ecomap.ingest import ingest_file
from ecomap.io.export import atomic_write
from ecomap.io.vector import file_sha256, read_vector
from ecomap.settings import Settings
from ecomap.store import Provenance, Store, open_store
from ecomap.water.ingest import ingest_water

__all__ = ["DEMO_ISSUER", "DemoResult", "build_demo_store", "find_geodata", "run_demo", "write_ndvi_change",
           "write_outputs"]

log = logging.getLogger(__name__)

_DEMO_NOTE = "ecomap demo"
#: The issuing unit the demo's briefing names, marked as an example (编制单位).
DEMO_ISSUER = tr("大余县林业局（示例）", "Dayu County Forestry Bureau (example)")


@dataclass
class DemoResult:
    store: str
    written: list[str] = field(default_factory=list)
    totals: list[dict] = field(default_factory=list)
    #: Progress against the report year's targets (labelled table) and its sentence.
    progress: object = None
    progress_sentence: str = ""
    #: The sentence on the inspection patches' rectification (none stored: "").
    patches_sentence: str = ""


def find_geodata(explicit: str | os.PathLike | None = None) -> Path:
    """The demo data folder: ``explicit``, ``./geodata``, or the one beside the sources."""
    candidates = [Path(explicit)] if explicit else [
        Path("geodata"), Path(__file__).resolve().parents[2] / "geodata"]
    for c in candidates:
        if (c / "county.geojson").exists():
            return c
    raise InputError(tr("找不到演示数据 (查找的是 geodata/county.geojson); 请在 ecomap 源码目录"
                        "中运行 ecomap demo, 或用 --geodata 目录 指定",
                        "no demo data found (looked for geodata/county.geojson); run ecomap "
                        "demo from the ecomap checkout or pass --geodata DIR"))


def _provenance(path: Path, root: Path, user: str) -> Provenance:
    return Provenance(f"geodata/{path.relative_to(root).as_posix()}", file_sha256(path), user)


def build_demo_store(geodata: Path, target: Path, *, user: str, overwrite: bool = False) -> Path:
    """Build the demo store at ``target`` from ``geodata``; nothing half-built is left."""
    target = Path(target)
    if target.exists() and not overwrite and not _is_demo_store(target):
        raise StoreError(tr("{target} 中有不是演示生成的数据; 不加 --overwrite 不会覆盖它 "
                            "(或改用 --store demo.gpkg)",
                            "{target} holds data that did not come from the demo; it won't be "
                            "overwritten without --overwrite (or use --store demo.gpkg)",
                            target=target))
    tmp = target.with_name(f".{target.stem}.building.gpkg")
    tmp.unlink(missing_ok=True)
    try:
        with open_store(tmp, create=True) as st:
            _load(st, geodata, user)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _is_demo_store(path: Path) -> bool:
    try:
        with open_store(path) as st:
            files = st.batches()["source_file"].dropna()
    except Exception:
        return False
    return bool(len(files)) and all(f.startswith("geodata/") for f in files)


def _load(st: Store, root: Path, user: str) -> None:
    county = root / "county.geojson"
    st.write_county(read_vector(county), provenance=_provenance(county, root, user))

    towns_path = root / "townships.geojson"
    towns = read_vector(towns_path).rename(columns={"乡镇名称": "name", "name_pinyin": "name_en"})
    st.write_townships(towns, provenance=_provenance(towns_path, root, user))

    settings = Settings(user=user)
    # The report year's plots, then the illustrative earlier years (year over year).
    plot_files = sorted((root / "plots").glob("*.geojson"))
    plot_files += sorted((root / "plots" / "illustrative").glob("*.geojson"))
    for path in plot_files:
        category, _, year = path.stem.rpartition("_")
        name = f"geodata/{path.relative_to(root).as_posix()}"
        outcome, _ = ingest_file(path, st, category=category, year=int(year),
                                 settings=settings, name=name)
        if outcome.status != "accept":
            from ecomap.errors import ValidationError

            lines = "\n".join(f"  - {p.message}" for p in outcome.report.problems[:10])
            raise ValidationError(tr("{name}: 演示数据未通过检查:\n{lines}",
                                     "{name}: the demo data did not pass its checks:\n{lines}",
                                     name=name, lines=lines), outcome.report.problems)

    # The tasks assigned for the report year, as `ecomap targets import` stores them.
    from ecomap.targets import import_targets

    for path in sorted(root.glob("targets_*.xlsx")):
        import_targets(path, st, user=user, name=f"geodata/{path.name}")

    # Sites and each year's samples, through the same checks as `ecomap water ingest`.
    sites_path = root / "water_sites.csv"
    for samples_path in sorted(root.glob("water_samples_*.csv")):
        ingest_water(samples_path, st, sites_path=sites_path if sites_path.exists() else None,
                     settings=settings, name=f"geodata/{samples_path.name}",
                     sites_name=f"geodata/{sites_path.name}")

    # The province's inspection patches and the townships' reports on them, as
    # `ecomap patches import` and `ecomap patches update-from` store them.
    _load_patches(st, root, settings)


def _load_patches(st: Store, root: Path, settings: Settings) -> None:
    from ecomap.errors import ValidationError
    from ecomap.patches.importing import import_patches
    from ecomap.patches.workbook import update_from

    for path in sorted(root.glob("patches_*.zip")):
        year = int(path.stem.rpartition("_")[2])
        name = f"geodata/{path.name}"
        outcome, result = import_patches(path, st, year=year, settings=settings, name=name)
        if result is None:
            raise ValidationError(tr("{name}: 演示数据未通过检查", "{name}: the demo data did "
                                     "not pass its checks", name=name), outcome.report.problems)
        events = root / f"patch_events_{year}.xlsx"
        if events.exists():
            update_from(events, st, user=settings.user, name=f"geodata/{events.name}")
    # The townships' evidence photos, as `ecomap photos add geodata/photos` stores them
    # (Pillow is the `photos` extra: without it the demo goes on without photos).
    import importlib.util

    photos = sorted((root / "photos").glob("*.jpg"))
    if photos and importlib.util.find_spec("PIL") is not None:
        from ecomap.photos.service import add_photos

        add_photos(photos, st, user=settings.user, timezone=settings.timezone,
                   source="geodata/photos")


#: The year of the county's report (``report_2023.csv``) that the demo reproduces; the
#: earlier years' plots are illustrative.
REPORT_YEAR = 2023


def _progress(st: Store, lang: str):
    """The county's completion of the report year's targets, and the sentence."""
    from ecomap.schema import label
    from ecomap.targets import progress_display, progress_sentence, store_progress

    by_town = store_progress(st, year=REPORT_YEAR, by="township")
    county = by_town[by_town["township"].isna() & by_town["target"].notna()]
    shown = progress_display(county, lang=lang).drop(
        columns=[label("township", lang), label("year", lang)])
    return shown, progress_sentence(by_town, lang=lang)


def read_report(geodata: Path) -> dict[str, tuple[float, str]]:
    """The county's reported figures (``report_2023.csv``): code → (quantity, unit)."""
    path = geodata / "report_2023.csv"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        return {r["code"]: (float(r["quantity"]), r["unit"]) for r in csv.DictReader(f)
                if _is_number(r["quantity"])}


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_outputs(st: Store, out: Path, *, lang: str = "zh", year: int | None = None,
                  **briefing_options) -> list[str]:
    """Every demo map and table under ``out``; returns the paths written.

    ``briefing_options``: ``issuer``, ``date``, ``timezone`` of :func:`ecomap.api.briefing`
    (default issuer: :data:`DEMO_ISSUER`)."""
    briefing_options.setdefault("issuer", DEMO_ISSUER.render(lang))
    out = Path(out)
    year = year or api.latest_year(st)
    # The county map carries the NDVI change 2022→2023 of the remediated mines and the
    # afforested plots as layers (off at first); ndvi_change.html shows them switched on.
    county = api.county_map(st, year=year, lang=lang)
    written = write_ndvi_change(st, out, lang=lang, year=year, add_to=county)
    for name, data in api.briefing_files(st, year=year, lang=lang, county=county,
                                         **briefing_options).items():
        written.append(str(atomic_write(out / name, data)))
    written += write_ndvi_change(st, out, lang=lang, year=year)
    for y in sorted(set(st.patches()["year"].dropna().astype(int))):  # the patches' map
        html = api.maps.to_html(api.patches_map(st, year=y, lang=lang))
        written.append(str(atomic_write(out / f"patches_{y}.html", html.encode("utf-8"))))
    return written


#: The demo's NDVI pair (written by geodata/make_ndvi.py) and the plots it is about.
NDVI_PAIR = ("ndvi_2022.tif", "ndvi_2023.tif")
NDVI_CATEGORIES = ("mine_remediation", "afforestation")


def write_ndvi_change(store: Store, out: Path, *, lang: str = "zh", year: int | None = None,
                      geodata: Path | None = None, add_to=None) -> list[str]:
    """NDVI change 2022→2023 of the demo's remediated mines and afforestation plots:
    ``ndvi_change.csv`` and ``ndvi_change.html`` under ``out``; nothing without the pair.

    ``add_to``: put the NDVI layers (hidden at first) on this folium map, e.g. the
    county map, instead of writing ``ndvi_change.html``.
    """
    import importlib.util

    if importlib.util.find_spec("rasterio") is None:
        log.warning("%s", tr("未安装 rasterio (pip install 'ecomap[raster]'): 跳过 NDVI 变化图",
                             "rasterio is not installed (pip install 'ecomap[raster]'): "
                             "NDVI change skipped"))
        return []
    root = Path(geodata) if geodata else find_geodata()
    before, after = (root / NDVI_PAIR[0], root / NDVI_PAIR[1])
    if not (before.exists() and after.exists()):
        log.info("no %s / %s in %s: NDVI change skipped", *NDVI_PAIR, root)
        return []

    import geopandas as gpd
    import pandas as pd

    from ecomap.io.export import write_table, write_text
    from ecomap.maps import to_html
    from ecomap.raster.service import change, change_map, display_table

    tables = [change(store, before, after, category=c, year=year) for c in NDVI_CATEGORIES]
    table = gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), crs=tables[0].crs)
    written = [str(write_table(display_table(table, lang=lang), Path(out) / "ndvi_change.csv"))]
    if add_to is not None:
        change_map(store, before, after, table, year=year, lang=lang, m=add_to, show=False)
        return written
    m = change_map(store, before, after, table, year=year, lang=lang)
    written.append(str(write_text(Path(out) / "ndvi_change.html", to_html(m))))
    return written


def run_demo(settings: Settings, *, geodata=None, out="maps", overwrite: bool = False
             ) -> DemoResult:
    """Build the demo store and write all outputs."""
    root = find_geodata(geodata)
    path = build_demo_store(root, Path(settings.store), user=settings.user, overwrite=overwrite)
    from ecomap.qgis import write_qgis  # QGIS styles and project framed to the loaded county

    write_qgis(path, lang=settings.lang, date=settings.date or None, timezone=settings.timezone)
    result = DemoResult(store=str(path))
    with open_store(path) as st:
        result.written = write_outputs(
            st, Path(out), lang=settings.lang, issuer=settings.issuer or DEMO_ISSUER.render(
                settings.lang), date=settings.date, timezone=settings.timezone)
        totals = county_totals(api.summary(st, year=REPORT_YEAR))
        result.progress, result.progress_sentence = _progress(st, settings.lang)
        from ecomap.patches.service import store_sentence

        result.patches_sentence = store_sentence(st, lang=settings.lang) or ""
    report = read_report(root)
    for rec in totals.to_dict(orient="records"):
        reported = report.get(rec["category"])
        result.totals.append({**rec, "reported": reported})
    return result
