"""Stores: where a county's plots, boundaries and water data live.

:func:`open_store` picks the backend from the location: a ``.gpkg`` path is the
embedded GeoPackage, a ``postgresql://`` URL the shared PostGIS store.
"""

from __future__ import annotations

import os

from ecomap.errors import StoreError
from ecomap.i18n import tr
from ecomap.store.base import LAYERS, PLOT_COLUMNS, Provenance, Store

__all__ = ["LAYERS", "PLOT_COLUMNS", "Provenance", "Store", "is_postgis_url", "open_store"]


def is_postgis_url(location: str | os.PathLike) -> bool:
    """Whether ``location`` names a PostGIS store (a ``postgresql://`` URL)."""
    return os.fspath(location).startswith(("postgresql://", "postgres://"))


def open_store(location: str | os.PathLike, *, create: bool = False) -> Store:
    """Open the store at ``location``.

    Parameters
    ----------
    location
        Path of a GeoPackage (``.gpkg``), or a PostGIS URL
        ``postgresql://user@host/db[?schema=NAME]`` (see :mod:`ecomap.store.postgis`).
    create
        Create an empty store when none exists there.
    """
    text = os.fspath(location)
    if is_postgis_url(text):
        from ecomap.store.postgis import PostGISStore

        return PostGISStore(text, create=create)
    if not text.lower().endswith(".gpkg"):
        raise StoreError(tr("数据库 {text!r} 须为以 .gpkg 结尾的 GeoPackage 文件, 或 PostGIS "
                            "URL postgresql://user@host/database",
                            "store {text!r} must be a GeoPackage file ending in .gpkg or a "
                            "PostGIS URL postgresql://user@host/database", text=text))
    from ecomap.store.gpkg import GeoPackageStore

    return GeoPackageStore(text, create=create)
