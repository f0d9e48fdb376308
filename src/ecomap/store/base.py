"""The store interface: layers, batches with provenance, and the queries summaries need.

One interface, several backends.  The GeoPackage (:mod:`ecomap.store.gpkg`) is the
embedded default; a PostGIS backend will implement the same methods.  Domain code
sees GeoDataFrames and DataFrames only — never SQL, paths or connections.

Every write is one batch in one transaction: all of it is stored, or nothing.
Derived values (each plot's area and its township split) are computed when a plot
is stored, so summaries are sums over stored rows.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

__all__ = ["LAYERS", "PLOT_COLUMNS", "Provenance", "Store"]

#: Canonical plot columns as stored, besides geometry and the computed ones.
PLOT_COLUMNS = [
    "plot_id", "category", "year", "status", "township_reported", "village", "method",
    "species", "area_mu_reported", "implementer",
]

#: Layer names, as QGIS lists them.
LAYERS = ("county", "townships", "plots", "plot_townships", "water_sites", "water_samples",
          "batches")


@dataclass(frozen=True)
class Provenance:
    """Where a batch came from: recorded with it and shown by ``ecomap batches``."""

    source_file: str
    sha256: str | None = None
    user: str = "unknown"


class Store(abc.ABC):
    """A county's data: county and township boundaries, plots, water sites and samples."""

    #: Where the store lives (a path or a URL), for messages.
    location: str

    # --- reading ------------------------------------------------------------------
    @abc.abstractmethod
    def county(self) -> gpd.GeoDataFrame:
        """The county boundary (EPSG:4490)."""

    @abc.abstractmethod
    def townships(self) -> gpd.GeoDataFrame:
        """Township polygons with ``name``, ``name_en``, ``illustrative``, ``area_m2``."""

    @abc.abstractmethod
    def plots(self, *, category: str | None = None, year: int | None = None,
              township: str | None = None, batch: int | None = None) -> gpd.GeoDataFrame:
        """Stored plots, filtered; ``township`` selects plots with any area in it."""

    @abc.abstractmethod
    def plot_splits(self, *, year: int | None = None) -> pd.DataFrame:
        """Per plot and township: ``plot_fid, batch_id, category, year, township,
        area_m2, is_primary``."""

    @abc.abstractmethod
    def township_areas(self, *, year: int | None = None) -> pd.DataFrame:
        """Sums by ``township, category, year``: ``count`` (plots counted where most of
        their area lies) and ``area_m2``."""

    @abc.abstractmethod
    def water_sites(self) -> gpd.GeoDataFrame:
        """Water-quality monitoring sites."""

    @abc.abstractmethod
    def water_samples(self, *, year: int | None = None) -> pd.DataFrame:
        """Samples in long form: ``site_name, date, param, value, below_dl``."""

    @abc.abstractmethod
    def batches(self) -> pd.DataFrame:
        """Batch history: id, kind, file, SHA-256, time, user, counts, area."""

    # --- writing (each call is one batch, one transaction) ---------------------------
    @abc.abstractmethod
    def write_county(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance) -> int:
        """Replace the county boundary."""

    @abc.abstractmethod
    def write_townships(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance) -> int:
        """Replace the township layer and re-split every stored plot."""

    @abc.abstractmethod
    def add_plots(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance,
                  splits: pd.DataFrame | None = None, replace: int | None = None) -> int:
        """Store canonical plots (see :data:`PLOT_COLUMNS`) as one batch; returns its id.

        ``area_m2`` and ``splits`` (from :func:`ecomap.split.split_by_township`, by
        position) are used when given — computed during validation — and computed here
        otherwise.

        A file is stored once: when another plot batch has the SHA-256 of
        ``provenance``, :class:`~ecomap.errors.ValidationError` is raised and nothing is
        stored.  ``replace`` names a plot batch that the new one replaces: it is rolled
        back in the same transaction (see :func:`ecomap.store._common.check_new_batch`).
        """

    @abc.abstractmethod
    def add_water_sites(self, gdf: gpd.GeoDataFrame, *, provenance: Provenance) -> int:
        """Store monitoring sites as one batch."""

    @abc.abstractmethod
    def add_water_samples(self, df: pd.DataFrame, *, provenance: Provenance) -> int:
        """Store samples (long form) as one batch."""

    @abc.abstractmethod
    def add_water(self, sites: gpd.GeoDataFrame | None, samples: pd.DataFrame | None, *,
                  provenance: Provenance) -> int:
        """Store new monitoring sites and samples (long form) as one batch of kind
        ``water``, in one transaction; returns the batch id.

        Raises :class:`~ecomap.errors.ValidationError`, storing nothing, when a site
        name is already stored or given twice, a sample's site is neither stored nor
        among ``sites``, or a value (site, date, parameter) is already stored or given
        twice.
        """

    @abc.abstractmethod
    def rollback(self, batch_id: int) -> dict:
        """Remove exactly one batch; returns what was removed."""

    @abc.abstractmethod
    def resplit(self) -> int:
        """Recompute every plot's township split; returns the number of plots."""

    def close(self) -> None:  # noqa: B027 - optional for backends
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
