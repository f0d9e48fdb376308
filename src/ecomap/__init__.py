"""ecomap — ecological-restoration plots on the map, by township, offline.

Read → validate → store → aggregate → render.  The public Python API::

    import ecomap
    store = ecomap.open_store("ecomap.gpkg")
    table = ecomap.summary(store, year=2023)
    html = ecomap.to_html(ecomap.county_map(store, year=2023))

The names below are loaded on first use (PEP 562), so ``import ecomap`` — and with it
every ``ecomap`` command's start-up — loads none of the geo stack (geopandas, shapely,
pyproj, rasterio, folium, scipy, pandas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecomap._lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and IDEs see; nothing is imported at run time
    from ecomap.api import (
        briefing,
        county_map,
        latest_year,
        patches_map,
        summary,
        township_map,
        water_site_classes,
    )
    from ecomap.errors import EcomapError
    from ecomap.maps import to_embed, to_html, to_pdf, to_png
    from ecomap.settings import Settings
    from ecomap.store import Provenance, Store, open_store

__all__ = [
    "EcomapError",
    "Provenance",
    "Settings",
    "Store",
    "__version__",
    "briefing",
    "county_map",
    "latest_year",
    "open_store",
    "patches_map",
    "summary",
    "to_embed",
    "to_html",
    "to_pdf",
    "to_png",
    "township_map",
    "water_site_classes",
]

#: Public name → the module that defines it.
_LAZY = {
    **dict.fromkeys(["briefing", "county_map", "latest_year", "patches_map", "summary",
                     "township_map", "water_site_classes"], "ecomap.api"),
    "EcomapError": "ecomap.errors",
    **dict.fromkeys(["to_embed", "to_html", "to_pdf", "to_png"], "ecomap.maps"),
    "Settings": "ecomap.settings",
    **dict.fromkeys(["Provenance", "Store", "open_store"], "ecomap.store"),
}


def _version() -> str:
    """The installed distribution's version; ``0+unknown`` when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ecomap")
    except PackageNotFoundError:
        return "0+unknown"


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__,
                                   compute={"__version__": _version})
