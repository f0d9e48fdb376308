"""Reading the vector files users send: zipped or loose Shapefiles, GeoPackage, GeoJSON,
KML/KMZ, and CSV/XLSX point tables.

:func:`read_upload` finds the layer (inside archives too), decides the text encoding and
the CRS, and says how it decided; problems with the *file* raise :class:`InputError`
naming the file and the fix.  Problems with single features are left to
:mod:`ecomap.validate`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from ecomap import crs as _crs
from ecomap.errors import CRSError, InputError, TooManyFeatures
from ecomap.i18n import tr
from ecomap.io.archive import extract_zip, find_datasets
from ecomap.io.encoding import detect_dbf_encoding
from ecomap.settings import Settings

__all__ = ["ACCEPTED", "ReadResult", "file_sha256", "read_upload", "read_vector"]

log = logging.getLogger(__name__)

#: Accepted upload types, for messages and the web form.
ACCEPTED = (".zip", ".shp", ".gpkg", ".geojson", ".json", ".kml", ".kmz", ".csv", ".xlsx")
_LON_NAMES = ("经度", "lon", "lng", "longitude", "x", "东经", "x坐标")
_LAT_NAMES = ("纬度", "lat", "latitude", "y", "北纬", "y坐标")
_OLD_DATUMS = {"Xian 1980": "西安80", "Beijing 1954": "北京54"}


@dataclass
class ReadResult:
    """A layer as read, and how ecomap decided what it is."""

    frame: gpd.GeoDataFrame
    file: str
    layer: str | None
    crs: str
    crs_source: str  # "prj", "assumed" or "option"
    encoding: str | None
    notes: list[tuple[str, str, str]] = field(default_factory=list)  # severity, code, text


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, recorded with every stored batch."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_vector(path: str | os.PathLike, *, layer: str | None = None,
                crs: str | None = None) -> gpd.GeoDataFrame:
    """Read one layer as a GeoDataFrame in its own CRS (see :func:`read_upload`)."""
    return read_upload(path, layer=layer, crs=crs).frame


def read_upload(path: str | os.PathLike, *, layer: str | None = None,
                encoding: str | None = None, crs: str | None = None,
                near: tuple[float, float, float, float] | None = None,
                settings: Settings | None = None, name: str | None = None) -> ReadResult:
    """Read the plot layer of an upload.

    Parameters
    ----------
    path
        The file: ``.zip`` (Shapefile or others inside, nested folders fine), ``.shp``
        with its sidecars, ``.gpkg``, ``.geojson``, ``.kml``/``.kmz``, ``.csv``/``.xlsx``.
    layer
        Layer name (or file name inside an archive) when there are several.
    encoding
        Text encoding to use instead of detecting it.
    crs
        CRS of the coordinates (``--crs``); overrides the file's own.
    near
        County bounds (lon/lat) used to infer a CRS when the file declares none.
    settings
        Limits (upload size, archive size).
    name
        The file name as the user sent it, for messages (defaults to ``path``'s name).
    """
    settings = settings or Settings()
    path = Path(path)
    shown = name or path.name
    if not path.exists():
        raise InputError(f"{shown}: no such file; check the path")
    size_mb = path.stat().st_size / 1e6
    if size_mb > settings.max_upload_mb:
        raise InputError(f"{shown}: {size_mb:,.0f} MB is more than the {settings.max_upload_mb:,.0f}"
                         " MB allowed; split the file or zip it")
    suffix = path.suffix.lower()
    if suffix not in ACCEPTED:
        raise InputError(f"{shown}: files of type {path.suffix or '(none)'} are not accepted; "
                         f"send one of {', '.join(ACCEPTED)}")
    with ExitStack() as stack:
        dataset, layer_name = path, layer
        if suffix in (".zip", ".kmz"):
            folder = stack.enter_context(extract_zip(
                path, max_bytes=settings.max_unzipped_mb * 1e6,
                max_members=settings.max_zip_members))
            dataset, layer_name = _pick_dataset(folder, layer, shown)
        result = _read_dataset(dataset, layer_name, shown, encoding=encoding,
                               max_features=settings.max_features)
        result = _decide_crs(result, crs, near)
    return result


def _pick_dataset(folder: Path, layer: str | None, shown: str) -> tuple[Path, str | None]:
    found = find_datasets(folder)
    if not found:
        raise InputError(f"{shown}: the archive holds no Shapefile, GeoPackage, GeoJSON, KML or "
                         "table; check that the .shp and its .dbf/.shx are inside")
    names = {p.relative_to(folder).as_posix(): p for p in found}
    if len(found) == 1:
        return found[0], layer
    if layer is not None:
        for rel, p in names.items():
            if layer in (rel, p.name, p.stem):
                return p, None
        # A layer of a single multi-layer dataset inside the archive.
    listed = ", ".join(names)
    raise InputError(f"{shown} holds several layers ({listed}); choose one with --layer NAME")


def _read_dataset(dataset: Path, layer: str | None, shown: str, *,
                  encoding: str | None, max_features: int | None = None) -> ReadResult:
    import pyogrio

    suffix = dataset.suffix.lower()
    notes: list[tuple[str, str, str]] = []
    where = shown if dataset.name == shown else f"{shown}: {dataset.name}"
    if suffix in (".csv", ".xlsx"):
        result = _read_points_table(dataset, where, encoding=encoding)
        _check_count(len(result.frame), max_features, where)
        return result
    if suffix == ".gpkg":
        # Before GDAL opens it: layers that are SQL views are refused, unread.
        from ecomap.io.gpkg_guard import check_gpkg_tables

        check_gpkg_tables(dataset, layer, where)
    if suffix == ".kmz":
        raise InputError(f"{where}: a KMZ inside an archive; unzip it and send the KMZ itself")
    read_kwargs: dict = {}
    used_encoding = None
    if suffix == ".shp":
        _check_sidecars(dataset, where)
        _check_shp_length(dataset, where)
        if encoding:
            used_encoding, source = encoding, "option"
        else:
            decided = detect_dbf_encoding(dataset)
            used_encoding, source = decided.encoding, decided.source
            if decided.note:
                notes.append(("warning", "encoding", f"{where}: {decided.note}"))
        read_kwargs["encoding"] = used_encoding
        log.info("%s: reading as %s (%s)", where, used_encoding, source)
    elif encoding:
        read_kwargs["encoding"] = used_encoding = encoding
    try:
        layers = pyogrio.list_layers(dataset)
    except Exception as exc:
        raise InputError(f"{where}: cannot be read ({_gdal_message(exc)}); the file may be "
                         "damaged or truncated — export it again") from exc
    if layer is None and len(layers) > 1 and suffix != ".shp":
        listed = ", ".join(str(n) for n in layers[:, 0])
        raise InputError(f"{where} holds several layers ({listed}); choose one with --layer NAME")
    if layer is not None and suffix != ".shp" and layer not in set(layers[:, 0]):
        listed = ", ".join(str(n) for n in layers[:, 0])
        raise InputError(f"{where}: no layer {layer!r}; the layers are: {listed}")
    chosen = layer if suffix != ".shp" else None
    if max_features is not None:
        # Counted from the header or index, before any geometry is read.
        try:
            counted = int(pyogrio.read_info(dataset, layer=chosen, **read_kwargs)["features"])
        except Exception as exc:
            raise InputError(f"{where}: cannot be read ({_gdal_message(exc)}); the file may "
                             "be damaged or truncated — export it again") from exc
        _check_count(counted, max_features, where)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Through Arrow: the same frame, read faster.
            frame = pyogrio.read_dataframe(dataset, layer=chosen, use_arrow=True,
                                           **read_kwargs)
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: text is not in {used_encoding}; pass --encoding "
                         "GB18030 or UTF-8") from exc
    except Exception as exc:
        raise InputError(f"{where}: cannot be read ({_gdal_message(exc)}); the file may be "
                         "damaged or truncated — export it again") from exc
    for w in caught:
        text = str(w.message)
        if "truncat" in text.lower() or "error" in text.lower():
            raise InputError(f"{where}: {text}; the file looks damaged or truncated — export "
                             "it again")
        log.debug("%s: %s", where, text)
    if frame.empty:
        raise InputError(f"{where}: the layer has no features; check that you sent the "
                         "right file")
    _check_count(len(frame), max_features, where)
    crs = frame.crs.to_string() if frame.crs is not None else ""
    return ReadResult(frame, shown, chosen or (dataset.stem if dataset.name != shown else None),
                      crs, "prj" if frame.crs is not None else "", used_encoding, notes)


def _check_count(count: int, limit: int | None, where: str) -> None:
    if limit is not None and count > limit:
        raise TooManyFeatures(tr(
            "{file}: {count:,} 个要素, 超过允许的 {limit:,} 个; 请按乡镇或年度拆分成几个文件分别上传",
            "{file}: {count:,} features, more than the {limit:,} allowed; split the file (by "
            "township or year) and upload the parts", file=where, count=count, limit=limit))


def _gdal_message(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__


def _check_shp_length(shp: Path, where: str) -> None:
    """A .shp shorter than its header says was cut off in transfer."""
    with open(shp, "rb") as f:
        head = f.read(28)
    if len(head) < 28 or head[:4] != b"\x00\x00\x27\x0a":
        raise InputError(f"{where}: not a Shapefile (bad header); export it again")
    declared = struct.unpack(">i", head[24:28])[0] * 2
    actual = shp.stat().st_size
    if actual < declared:
        raise InputError(f"{where}: the file is truncated ({actual:,} of {declared:,} bytes); "
                         "it was cut off in transfer — send it again")


def _check_sidecars(shp: Path, where: str) -> None:
    have = {p.suffix.lower() for p in shp.parent.iterdir() if p.stem == shp.stem}
    missing = [s for s in (".shx", ".dbf") if s not in have]
    if missing:
        raise InputError(f"{where}: the Shapefile lacks its {' and '.join(missing)} file(s); "
                         f"send {shp.stem}.shp together with {shp.stem}.shx, .dbf and .prj "
                         "(zip them)")


def _read_points_table(path: Path, where: str, *, encoding: str | None) -> ReadResult:
    from ecomap.io.tables import parse_coordinate, read_table

    table = read_table(path, encoding=encoding)
    cols = {str(c).strip().lower(): c for c in table.columns}
    lon = next((cols[n] for n in _LON_NAMES if n in cols), None)
    lat = next((cols[n] for n in _LAT_NAMES if n in cols), None)
    if lon is None or lat is None:
        raise InputError(f"{where}: no coordinate columns; name them 经度 and 纬度 (degrees) "
                         "or X and Y (metres, with --crs)")
    xs, ys, bad = [], [], []
    for i, (x, y) in enumerate(zip(table[lon], table[lat], strict=True)):
        try:
            xs.append(parse_coordinate(x, axis="lon") if x not in ("", None) else np.nan)
            ys.append(parse_coordinate(y, axis="lat") if y not in ("", None) else np.nan)
        except ValueError:
            try:
                xs.append(float(str(x).replace(",", "")))
                ys.append(float(str(y).replace(",", "")))
            except ValueError:
                xs.append(np.nan)
                ys.append(np.nan)
                bad.append(i + 2)
    frame = gpd.GeoDataFrame(table.drop(columns=[lon, lat]),
                             geometry=gpd.points_from_xy(xs, ys))
    frame.loc[np.isnan(xs) | np.isnan(ys), "geometry"] = None
    notes = [("error", "bad_coordinate", f"{where}: row {r}: unreadable coordinates")
             for r in bad]
    return ReadResult(frame, where, None, "", "", encoding, notes)


def _decide_crs(result: ReadResult, option: str | None,
                near: tuple[float, float, float, float] | None) -> ReadResult:
    frame = result.frame
    where = result.file
    if option:
        parsed = _crs.parse_crs(option)
        if frame.crs is not None and not frame.crs.equals(parsed):
            result.notes.append(("warning", "crs_overridden",
                                 f"{where}: --crs {option} used instead of the file's "
                                 f"{frame.crs.name}"))
        result.frame = frame.set_crs(parsed, allow_override=True)
        result.crs, result.crs_source = _crs_text(parsed), "option"
    elif frame.crs is None:
        geoms = frame.geometry.values
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not ok.any():
            raise InputError(f"{where}: no feature has coordinates; check the file")
        bounds = shapely.total_bounds(geoms[ok])
        near_lon = (near[0] + near[2]) / 2 if near is not None else None
        guessed, reason, certain = _crs.guess_crs(bounds, near_lon=near_lon, near=near)
        if guessed is None or not certain:
            hint = f" pass --crs {guessed} if that is right," if guessed else ""
            raise CRSError(f"{where}: no .prj and the CRS cannot be told for sure: {reason};"
                           f"{hint} or send the .prj with the file")
        result.frame = frame.set_crs(guessed)
        result.crs, result.crs_source = guessed, "assumed"
        result.notes.append(("warning", "crs_assumed",
                             f"{where}: no .prj; assumed {guessed} because {reason}"))
    else:
        result.crs = _crs_text(frame.crs)
        result.crs_source = "prj"
    datum = _crs.datum_name(result.frame.crs)
    if datum in _OLD_DATUMS:
        result.notes.append((
            "warning", "old_datum",
            f"{where}: coordinates are in {_OLD_DATUMS[datum]} ({datum}); converted to CGCS2000 "
            "without local transformation parameters, so positions may be off by tens of "
            "metres — ask the sender for CGCS2000 data"))
    geoms = result.frame.geometry.values
    z = shapely.has_z(geoms)
    if z.any():
        # KML and GPS tracks carry Z = 0 everywhere: dropped silently; real heights noted.
        heights = shapely.get_coordinates(geoms[z], include_z=True)[:, 2]
        result.frame = result.frame.set_geometry(shapely.force_2d(geoms))
        if np.nanmax(np.abs(heights), initial=0) > 0:
            result.notes.append(("warning", "z_dropped",
                                 f"{where}: heights (Z) of {int(z.sum())} feature(s) dropped; "
                                 "areas are measured on the map plane"))
    return result


def _crs_text(crs) -> str:
    epsg = _crs.epsg_of(crs)
    return f"EPSG:{epsg}" if epsg else crs.name
