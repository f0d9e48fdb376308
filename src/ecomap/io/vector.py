"""Reading the vector files users send: zipped or loose Shapefiles, GeoPackage, GeoJSON,
KML/KMZ, and CSV/XLSX point tables.

:func:`read_upload` finds the layer (inside archives too), decides the text encoding and
the CRS, and says how it decided; problems with the *file* raise :class:`InputError`
naming the file and the fix.  Problems with single features are left to
:mod:`ecomap.checks`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import struct
import warnings
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyogrio.errors
import shapely
import shapely.errors

from ecomap import crs as _crs
from ecomap.errors import CRSError, InputError, TooManyFeatures
from ecomap.i18n import tr
from ecomap.io.archive import extract_zip, find_datasets, scrub_paths
from ecomap.io.cad import CAD_SUFFIXES, cad_error, cad_members
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
    #: "kml" for a GPS app's KML read folder by folder (see :mod:`ecomap.io.kml`).
    kind: str = ""


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
        raise InputError(tr("{file}: 文件不存在; 请检查路径", "{file}: no such file; check the path",
                            file=shown))
    size_mb = path.stat().st_size / 1e6
    if size_mb > settings.max_upload_mb:
        raise InputError(tr("{file}: {mb:,.0f} MB, 超过允许的 {limit:,.0f} MB; 请拆分文件或压缩后再发送",
                            "{file}: {mb:,.0f} MB is more than the {limit:,.0f} MB allowed; "
                            "split the file or zip it", file=shown, mb=size_mb,
                            limit=settings.max_upload_mb))
    suffix = path.suffix.lower()
    if suffix in CAD_SUFFIXES:
        raise cad_error(shown)
    if suffix not in ACCEPTED:
        raise InputError(tr("{file}: 不接受 {suffix} 类型的文件; 请发送以下格式之一: {accepted}",
                            "{file}: files of type {suffix} are not accepted; send one of "
                            "{accepted}", file=shown, suffix=path.suffix or "(none)",
                            accepted=", ".join(ACCEPTED)))
    with ExitStack() as stack:
        dataset, layer_name = path, layer
        if suffix in (".zip", ".kmz"):
            folder = stack.enter_context(extract_zip(
                path, max_bytes=settings.max_unzipped_mb * 1e6,
                max_members=settings.max_zip_members, name=shown))
            dataset, layer_name = _pick_dataset(folder, layer, shown)
        result = _read_dataset(dataset, layer_name, shown, encoding=encoding,
                               max_features=settings.max_features)
        result = _decide_crs(result, crs, near)
    return result


def _pick_dataset(folder: Path, layer: str | None, shown: str) -> tuple[Path, str | None]:
    found = find_datasets(folder)
    if not found and (cad := cad_members(folder)):
        raise cad_error(shown, cad[0])
    if not found:
        raise InputError(tr("{file}: 压缩包中没有 Shapefile、GeoPackage、GeoJSON、KML 或表格; "
                            "请检查 .shp 及其 .dbf/.shx 是否都在包内",
                            "{file}: the archive holds no Shapefile, GeoPackage, GeoJSON, KML "
                            "or table; check that the .shp and its .dbf/.shx are inside",
                            file=shown))
    names = {p.relative_to(folder).as_posix(): p for p in found}
    if len(found) == 1:
        return found[0], layer
    if layer is not None:
        for rel, p in names.items():
            if layer in (rel, p.name, p.stem):
                return p, None
        # A layer of a single multi-layer dataset inside the archive.
    raise InputError(_several_layers(shown, ", ".join(names)))


def _read_dataset(dataset: Path, layer: str | None, shown: str, *,
                  encoding: str | None, max_features: int | None = None) -> ReadResult:
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
        raise InputError(tr("{file}：压缩包里套着 KMZ；请解压后直接发送该 KMZ 文件",
                            "{file}: a KMZ inside an archive; unzip it and send the KMZ itself",
                            file=where))
    if suffix == ".kml" and layer is None:
        from ecomap.io.kml import read_kml

        frame, kml_notes = read_kml(dataset, shown, where)
        return ReadResult(frame, shown, None if dataset.name == shown else dataset.stem,
                          "", "prj", encoding, kml_notes, kind="kml")
    read_kwargs: dict = {}
    used_encoding = None
    if suffix == ".shp":
        _check_sidecars(dataset, where)
        _check_shp_length(dataset, where)
        _check_prj(dataset, where)
        if encoding:
            used_encoding, source = encoding, "option"
        else:
            decided = detect_dbf_encoding(dataset)
            used_encoding, source = decided.encoding, decided.source
            if decided.note:
                notes.append(("warning", "encoding", tr("{file}: {note}", "{file}: {note}",
                                                        file=where, note=decided.note)))
        read_kwargs["encoding"] = used_encoding
        log.info("%s: reading as %s (%s)", where, used_encoding, source)
    elif encoding:
        read_kwargs["encoding"] = used_encoding = encoding
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # GDAL's warnings name server paths: logged
            layers = pyogrio.list_layers(dataset)
        for w in caught:
            log.debug("%s: %s", where, scrub_paths(str(w.message)))
    except _READ_ERRORS as exc:
        raise _damaged(where, exc, dataset) from exc
    if layer is None and len(layers) > 1 and suffix != ".shp":
        raise InputError(_several_layers(where, ", ".join(str(n) for n in layers[:, 0])))
    if layer is not None and suffix != ".shp" and layer not in set(layers[:, 0]):
        listed = ", ".join(str(n) for n in layers[:, 0])
        raise InputError(tr("{file}: 没有名为 {layer!r} 的图层; 现有图层: {listed}",
                            "{file}: no layer {layer!r}; the layers are: {listed}",
                            file=where, layer=layer, listed=listed))
    chosen = layer if suffix != ".shp" else None
    if max_features is not None:
        # Counted from the header or index, before any geometry is read.
        try:
            counted = int(pyogrio.read_info(dataset, layer=chosen, **read_kwargs)["features"])
        except UnicodeDecodeError as exc:
            raise _not_in_encoding(where, used_encoding) from exc
        except _READ_ERRORS as exc:
            raise _damaged(where, exc, dataset) from exc
        _check_count(counted, max_features, where)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # Through Arrow when pyarrow is installed: the same frame, read faster.
            frame = pyogrio.read_dataframe(dataset, layer=chosen, use_arrow=have_arrow(),
                                           **read_kwargs)
    except UnicodeDecodeError as exc:
        raise _not_in_encoding(where, used_encoding) from exc
    except _READ_ERRORS as exc:
        raise _damaged(where, exc, dataset) from exc
    for w in caught:
        text = str(w.message)
        if "truncat" in text.lower() or "error" in text.lower():
            raise _damaged(where, text, dataset)
        log.debug("%s: %s", where, scrub_paths(text))
    if frame.empty:
        raise InputError(tr("{file}: 图层中没有要素; 请确认发送的文件是否正确",
                            "{file}: the layer has no features; check that you sent the right "
                            "file", file=where))
    _check_count(len(frame), max_features, where)
    crs = frame.crs.to_string() if frame.crs is not None else ""
    return ReadResult(frame, shown, chosen or (dataset.stem if dataset.name != shown else None),
                      crs, "prj" if frame.crs is not None else "", used_encoding, notes)


@functools.cache
def have_arrow() -> bool:
    """True when pyarrow is installed (the ``scale`` extra); found without importing it."""
    return importlib.util.find_spec("pyarrow") is not None


#: What GDAL (through pyogrio) and the libraries under it raise for a damaged or
#: unreadable file; anything else is a bug and is left to surface as one.
#: (GEOSException: a geometry whose bytes do not decode, e.g. a ring cut open.)
_READ_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                shapely.errors.GEOSException, zipfile.BadZipFile, zlib.error, EOFError, OSError)
def _gdal_message(exc: BaseException | str, dataset: Path | None = None) -> str:
    text = str(exc).strip()
    if dataset is not None:
        text = text.replace(str(dataset), dataset.name)
    text = text.split("; It might help to specify the correct driver")[0]
    first = text.splitlines()[0][:200] if text else type(exc).__name__
    return scrub_paths(first)


def _damaged(where: str, exc: BaseException | str, dataset: Path | None = None) -> InputError:
    return InputError(tr("{where}：无法读取（{detail}）；文件可能已损坏或不完整，请重新导出后再上传",
                         "{where}: cannot be read ({detail}); the file may be damaged or "
                         "truncated — export it again", where=where,
                         detail=_gdal_message(exc, dataset)))


def _not_in_encoding(where: str, encoding: str | None) -> InputError:
    return InputError(tr("{where}：文字不是 {enc} 编码；请加 --encoding GB18030 或 UTF-8 再试",
                         "{where}: text is not in {enc}; pass --encoding GB18030 or UTF-8",
                         where=where, enc=encoding or "UTF-8"))


def _several_layers(where: str, listed: str):
    return tr("{file} 中有多个图层 ({listed}); 请用 --layer 名称 选择其一",
              "{file} holds several layers ({listed}); choose one with --layer NAME",
              file=where, listed=listed)


def _check_count(count: int, limit: int | None, where: str) -> None:
    if limit is not None and count > limit:
        raise TooManyFeatures(tr(
            "{file}: {count:,} 个要素, 超过允许的 {limit:,} 个; 请按乡镇或年度拆分成几个文件分别上传",
            "{file}: {count:,} features, more than the {limit:,} allowed; split the file (by "
            "township or year) and upload the parts", file=where, count=count, limit=limit))


def _check_shp_length(shp: Path, where: str) -> None:
    """A .shp shorter than its header says was cut off in transfer."""
    with open(shp, "rb") as f:
        head = f.read(28)
    if len(head) < 28 or head[:4] != b"\x00\x00\x27\x0a":
        raise InputError(tr("{file}: 不是 Shapefile (文件头错误); 请重新导出",
                            "{file}: not a Shapefile (bad header); export it again", file=where))
    declared = struct.unpack(">i", head[24:28])[0] * 2
    actual = shp.stat().st_size
    if actual < declared:
        raise InputError(tr("{file}: 文件不完整 (只有 {actual:,} / {declared:,} 字节), 传输中被截断"
                            " — 请重新发送",
                            "{file}: the file is truncated ({actual:,} of {declared:,} bytes); "
                            "it was cut off in transfer — send it again", file=where,
                            actual=actual, declared=declared))


def _check_prj(shp: Path, where: str) -> None:
    """A .prj is ASCII WKT (UTF-8 at most); other bytes mean it was damaged, and GDAL's
    reader fails on it without saying so."""
    prj = next((p for p in shp.parent.iterdir()
                if p.stem == shp.stem and p.suffix.lower() == ".prj"), None)
    if prj is None:
        return
    try:
        prj.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(tr(
            "{where}：{prj} 已损坏（第 {pos} 字节不是文本）；请重新导出 Shapefile，或删去 {prj} 并用 "
            "--crs 指明坐标系",
            "{where}: {prj} is damaged (byte {pos} is not text); export the Shapefile again, "
            "or leave {prj} out and pass --crs", where=where, prj=prj.name,
            pos=exc.start + 1)) from exc


def _check_sidecars(shp: Path, where: str) -> None:
    have = {p.suffix.lower() for p in shp.parent.iterdir() if p.stem == shp.stem}
    missing = [s for s in (".shx", ".dbf") if s not in have]
    if missing:
        raise InputError(tr("{file}: Shapefile 缺少 {missing} 文件; 请将 {stem}.shp 与 "
                            "{stem}.shx、.dbf、.prj 一起发送 (打包成 zip)",
                            "{file}: the Shapefile lacks its {missing_en} file(s); send "
                            "{stem}.shp together with {stem}.shx, .dbf and .prj (zip them)",
                            file=where, missing="、".join(missing),
                            missing_en=" and ".join(missing), stem=shp.stem))


def _read_points_table(path: Path, where: str, *, encoding: str | None) -> ReadResult:
    from ecomap.io.tables import read_table

    table = read_table(path, encoding=encoding, name=where)
    cols = {str(c).strip().lower(): c for c in table.columns}
    lon = next((cols[n] for n in _LON_NAMES if n in cols), None)
    lat = next((cols[n] for n in _LAT_NAMES if n in cols), None)
    if lon is None or lat is None:
        raise InputError(tr("{file}：没有坐标列；请命名为 经度 和 纬度（度），或 X 和 Y（米，同时用 "
                            "--crs 指定坐标系）",
                            "{file}: no coordinate columns; name them 经度 and 纬度 (degrees) "
                            "or X and Y (metres, with --crs)", file=where))
    xs, ys, notes = [], [], []
    for row, x, y in zip(table.index, table[lon], table[lat], strict=True):
        px, py = _table_coordinate(x, "lon"), _table_coordinate(y, "lat")
        if px is None or py is None:
            notes.append(("error", "bad_coordinate", tr(
                "{where}：第{row}行：坐标「{x}, {y}」无法读取；请填十进制度（114.3583）或度分秒"
                "（114°21'30\"E），米坐标请用 --crs 指明坐标系",
                "{where}: row {row}: coordinates \"{x}, {y}\" cannot be read; write decimal "
                "degrees (114.3583) or degrees-minutes-seconds (114°21'30\"E), or metres with "
                "--crs", where=where, row=int(row) + 2, x=x, y=y)))
            px = py = np.nan
        xs.append(px)
        ys.append(py)
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    frame = gpd.GeoDataFrame(table.drop(columns=[lon, lat]),
                             geometry=gpd.points_from_xy(xs, ys))
    frame.loc[np.isnan(xs) | np.isnan(ys), "geometry"] = None
    return ReadResult(frame, where, None, "", "", encoding, notes)


def _table_coordinate(cell, axis: str) -> float | None:
    """A coordinate cell: degrees (decimal or DMS) or plain metres; NaN when blank,
    None when it cannot be read."""
    from ecomap.io.tables import parse_coordinate

    text = "" if cell is None else str(cell).strip()
    if not text or text.lower() == "nan":
        return np.nan
    try:
        return parse_coordinate(text, axis=axis)
    except ValueError:
        pass
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _decide_crs(result: ReadResult, option: str | None,
                near: tuple[float, float, float, float] | None) -> ReadResult:
    frame = result.frame
    where = result.file
    if option:
        parsed = _crs.parse_crs(option)
        if frame.crs is not None and not frame.crs.equals(parsed):
            result.notes.append(("warning", "crs_overridden", tr(
                "{file}: 按 --crs {option} 读取, 而不是文件自带的坐标系 {own}",
                "{file}: --crs {option} used instead of the file's {own}", file=where,
                option=option, own=frame.crs.name)))
        result.frame = frame.set_crs(parsed, allow_override=True)
        result.crs, result.crs_source = _crs_text(parsed), "option"
    elif frame.crs is None:
        geoms = frame.geometry.values
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if not ok.any():
            raise InputError(tr("{file}: 没有任何要素带坐标; 请检查文件",
                                "{file}: no feature has coordinates; check the file",
                                file=where))
        bounds = shapely.total_bounds(geoms[ok])
        near_lon = (near[0] + near[2]) / 2 if near is not None else None
        guessed, reason, certain = _crs.guess_crs(bounds, near_lon=near_lon, near=near)
        if guessed is None or not certain:
            hint = tr(" 若是请用 --crs {crs} 指定,", " pass --crs {crs} if that is right,",
                      crs=guessed) if guessed else ""
            raise CRSError(tr("{file}: 缺少投影文件(.prj), 无法确定坐标系: {reason};{hint} "
                              "或随文件一起发送 .prj",
                              "{file}: no .prj and the CRS cannot be told for sure: {reason};"
                              "{hint} or send the .prj with the file", file=where,
                              reason=reason, hint=hint))
        result.frame = frame.set_crs(guessed)
        result.crs, result.crs_source = guessed, "assumed"
        result.notes.append(("warning", "crs_assumed", tr(
            "{file}: 缺少投影文件(.prj); 按 {crs} 读取, 因为{reason}",
            "{file}: no .prj; assumed {crs} because {reason}", file=where, crs=guessed,
            reason=reason)))
    else:
        _check_declared(result, near)
        result.crs = _crs_text(frame.crs)
        result.crs_source = "prj"
    datum = _crs.datum_name(result.frame.crs)
    if datum in _OLD_DATUMS:
        result.notes.append((
            "warning", "old_datum",
            tr("{file}: 坐标为 {old} ({datum}); 已在没有本地转换参数的情况下转换为 CGCS2000, "
               "位置可能偏差数十米 — 请向发送方索取 CGCS2000 数据",
               "{file}: coordinates are in {old} ({datum}); converted to CGCS2000 without "
               "local transformation parameters, so positions may be off by tens of metres — "
               "ask the sender for CGCS2000 data", file=where, old=_OLD_DATUMS[datum],
               datum=datum)))
    geoms = result.frame.geometry.values
    z = shapely.has_z(geoms)
    if z.any():
        # KML and GPS tracks carry Z = 0 everywhere: dropped silently; real heights noted.
        heights = shapely.get_coordinates(geoms[z], include_z=True)[:, 2]
        result.frame = result.frame.set_geometry(shapely.force_2d(geoms))
        if np.nanmax(np.abs(heights), initial=0) > 0:
            result.notes.append(("warning", "z_dropped", tr(
                "{file}: 已去掉 {n} 个要素的高程 (Z); 面积按平面量算",
                "{file}: heights (Z) of {n} feature(s) dropped; areas are measured on the map "
                "plane", file=where, n=int(z.sum()))))
    return result


def _check_declared(result: ReadResult, near) -> None:
    """A .prj contradicting the coordinates is refused, naming the CRS they fit."""
    geoms = result.frame.geometry.values
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        near_lon = (near[0] + near[2]) / 2 if near is not None else None
        _crs.check_declared_crs(result.frame.crs, shapely.total_bounds(geoms[ok]),
                                where=result.file, near_lon=near_lon)


def _crs_text(crs) -> str:
    epsg = _crs.epsg_of(crs)
    return f"EPSG:{epsg}" if epsg else crs.name
