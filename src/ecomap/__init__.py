"""ecomap — ecological-restoration plots on the map, by township, offline.

Read → validate → store → aggregate → render.  The public Python API::

    import ecomap
    store = ecomap.open_store("ecomap.gpkg")
    table = ecomap.summary(store, year=2023)
    html = ecomap.to_html(ecomap.county_map(store, year=2023))
"""

from __future__ import annotations

__version__ = "0.1.0"

from ecomap.api import (
    briefing,
    county_map,
    latest_year,
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
    "summary",
    "to_embed",
    "to_html",
    "to_pdf",
    "to_png",
    "township_map",
    "water_site_classes",
]
