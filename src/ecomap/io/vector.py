"""Reading vector files users send: GeoJSON, GeoPackage, Shapefile (more in later work)."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import geopandas as gpd

from ecomap import crs as _crs
from ecomap.errors import CRSError, InputError

__all__ = ["file_sha256", "read_vector"]

log = logging.getLogger(__name__)

_VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".kml", ".zip"}


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, recorded with every stored batch."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_vector(path: str | os.PathLike, *, layer: str | None = None,
                crs: str | None = None) -> gpd.GeoDataFrame:
    """Read one vector layer as a GeoDataFrame in its own CRS.

    Parameters
    ----------
    path
        The file.
    layer
        Layer name, for files holding several.
    crs
        CRS to assume when the file declares none (``--crs``).
    """
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.suffix.lower() not in _VECTOR_SUFFIXES:
        raise InputError(f"{path.name}: unsupported file type {path.suffix!r}; send a zipped "
                         "Shapefile, GeoPackage, GeoJSON or KML")
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:
        raise InputError(f"{path.name}: cannot be read as a vector file ({exc})") from exc
    if layer is None and len(layers) > 1:
        names = ", ".join(str(n) for n in layers[:, 0])
        raise InputError(f"{path.name} holds several layers ({names}); choose one with --layer")
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:
        raise InputError(f"{path.name}: cannot read layer {layer or 0!r} ({exc})") from exc
    if gdf.crs is None:
        if crs is None:
            raise CRSError(f"{path.name}: no coordinate reference system; pass --crs EPSG:4490 "
                           "for longitude/latitude or the Gauss-Kruger zone, e.g. EPSG:4547")
        gdf = gdf.set_crs(_crs.parse_crs(crs))
    return gdf
