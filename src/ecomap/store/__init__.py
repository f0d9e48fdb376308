"""Stores: where a county's plots, boundaries and water data live.

:func:`open_store` picks the backend from the location; the GeoPackage is the
embedded default.
"""

from __future__ import annotations

import os

from ecomap.errors import StoreError
from ecomap.store.base import LAYERS, PLOT_COLUMNS, Provenance, Store

__all__ = ["LAYERS", "PLOT_COLUMNS", "Provenance", "Store", "open_store"]


def open_store(location: str | os.PathLike, *, create: bool = False) -> Store:
    """Open the store at ``location`` (a ``.gpkg`` path).

    Parameters
    ----------
    location
        Path of a GeoPackage.  (PostgreSQL URLs are reserved for the PostGIS backend.)
    create
        Create an empty store when none exists there.
    """
    text = os.fspath(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise StoreError(f"the PostGIS backend is not available yet; use a .gpkg path, not "
                         f"{text.split('@')[-1]!r}")
    if not text.lower().endswith(".gpkg"):
        raise StoreError(f"store {text!r} must be a GeoPackage file ending in .gpkg")
    from ecomap.store.gpkg import GeoPackageStore

    return GeoPackageStore(text, create=create)
