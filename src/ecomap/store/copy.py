"""Copying a whole store between backends (GeoPackage ⇄ PostGIS), numbers unchanged.

Everything is read through the :class:`~ecomap.store.base.Store` interface and written
into an empty target in one transaction, with the stored ids, areas and township
splits as they are — nothing is recomputed, so summaries of both stores agree exactly.
"""

from __future__ import annotations

import logging
import os

import pandas as pd

from ecomap.errors import StoreError
from ecomap.i18n import tr
from ecomap.store import is_postgis_url, open_store
from ecomap.store.base import Store

__all__ = ["copy_store", "read_dump"]

log = logging.getLogger(__name__)


def read_dump(store: Store) -> dict:
    """Every layer of ``store``, as frames keyed by layer name."""
    splits = store.plot_splits()
    return {
        "batches": store.batches(),
        "county": store.county(),
        "townships": store.townships(),
        "plots": store.plots(),
        "plot_townships": splits,
        "water_sites": store.water_sites(),
        "water_samples": store.water_samples(),
        "targets": store.targets(),
        "patches": store.patches(),
        "patch_events": store.patch_events().rename(columns={"event_id": "fid"}),
        "photos": store.photos(thumbnails=True, images=True),
    }


def _load_gpkg(store, dump: dict) -> None:
    """The GeoPackage side of :func:`copy_store` (through the store's own writers)."""
    with store._transaction() as con:
        n = con.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        if n:
            raise StoreError(tr("{location} 中已有 {n} 个批次; 请复制到新的 .gpkg 文件",
                                "{location} already holds {n} batches; copy into a new "
                                ".gpkg file", location=store.location, n=n))
        store._insert(con, "batches", dump["batches"].rename(columns={"batch_id": "fid"}))
        for layer in ("county", "townships", "plots", "water_sites"):
            gdf = dump[layer]
            frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
            store._insert(con, layer, frame, gdf.geometry.values)
            store._layer_written(con, layer)
        store._insert(con, "plot_townships", dump["plot_townships"])
        store._insert(con, "water_samples", dump["water_samples"])
        store._insert(con, "targets", dump["targets"])
        _load_patches(store, con, dump)
        store._insert(con, "photos", dump["photos"])


def _load_patches(store, con, dump: dict) -> None:
    """The patches and their events, ids as they are (both backends)."""
    gdf = dump["patches"]
    store._insert(con, "patches", pd.DataFrame(gdf.drop(columns=gdf.geometry.name)),
                  gdf.geometry.values)
    store._insert(con, "patch_events", dump["patch_events"])


def copy_store(source: str | os.PathLike, target: str | os.PathLike) -> dict:
    """Copy the store at ``source`` into a new (or empty) store at ``target``.

    Returns the number of rows copied per layer.  The target is created when missing;
    one that already holds batches is refused, and a failed copy leaves it empty.
    """
    if os.fspath(source) == os.fspath(target):
        raise StoreError(tr("源和目标是同一个数据库 ({source}); 请指定另一个目标",
                            "source and target are the same store ({source}); name another "
                            "target", source=source))
    with open_store(source) as src:
        dump = read_dump(src)
    with open_store(target, create=True) as dst:
        from ecomap.store.postgis import PostGISStore

        if isinstance(dst, PostGISStore):
            dst._load(dump)
        else:
            _load_gpkg(dst, dump)
    if not is_postgis_url(target):  # QGIS styles and project framed to the copied county
        from ecomap.qgis import write_qgis
        write_qgis(target)
    counts = {k: len(v) for k, v in dump.items()}
    log.info("copied %s to %s: %s", source, target, counts)
    return counts
