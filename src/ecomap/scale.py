"""Province scale: township splits and summaries of millions of plots on a dask cluster.

A province's plots do not fit in one process (geopandas holds about 4 GB per million
plots), so they are kept as spatially partitioned GeoParquet — each partition a
compact area — and split among the townships partition by partition on a
``dask.distributed`` cluster: a :class:`~distributed.LocalCluster` by default, or a
running scheduler (``scheduler="tcp://host:8786"``).  Each partition is split by
:func:`ecomap.split.split_by_township`, the function the stores use, against only the
townships its plots can touch, so every plot's pieces are exactly those the store
computes, and each worker holds one partition at a time whatever the total.

Needs the ``scale`` extra (dask-geopandas, distributed, pyarrow).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ecomap import crs as _crs
from ecomap.errors import EcomapError
from ecomap.i18n import tr
from ecomap.split import plot_areas_m2, split_by_township

__all__ = [
    "SUMMARY_COLUMNS", "connect", "read_plots_parquet", "split_plots", "synthetic_plots",
    "synthetic_townships", "township_areas", "township_areas_in_memory",
    "write_plots_parquet", "write_synthetic_plots",
]

log = logging.getLogger(__name__)

#: What :func:`township_areas` returns — the columns of ``Store.township_areas``.
SUMMARY_COLUMNS = ["township", "category", "year", "count", "area_m2"]
_SPLIT_META = pd.DataFrame({"township": pd.Series([], dtype=object),
                            "category": pd.Series([], dtype=object),
                            "year": pd.Series([], dtype="int64"),
                            "count": pd.Series([], dtype="int64"),
                            "area_m2": pd.Series([], dtype="float64")})


def _need_dask():
    try:
        import dask_geopandas  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EcomapError(tr("全省尺度计算需要 dask-geopandas 和 distributed; 请运行 "
                             "pip install 'ecomap[scale]' 安装",
                             "the province-scale path needs dask-geopandas and distributed; "
                             "install them with: pip install 'ecomap[scale]'")) from exc


@contextlib.contextmanager
def connect(scheduler: str | None = None, *, n_workers: int | None = None,
            threads_per_worker: int = 1, memory_limit: str | float = "auto",
            processes: bool = True):
    """A ``distributed.Client``: to ``scheduler`` when given, else to a new local cluster.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); ``None`` starts a
        :class:`~distributed.LocalCluster` for the duration of the ``with`` block.
    n_workers, threads_per_worker, memory_limit, processes
        The local cluster's shape (default: one single-threaded worker per core).
    """
    _need_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(n_workers=n_workers or os.cpu_count() or 1,
                      threads_per_worker=threads_per_worker, memory_limit=memory_limit,
                      processes=processes, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


# --- storage: spatially partitioned GeoParquet ----------------------------------------
def _part_name(i: int) -> str:
    return f"part.{i:05d}.parquet"


def write_plots_parquet(plots: gpd.GeoDataFrame, path: str | os.PathLike, *,
                        rows_per_partition: int = 250_000) -> Path:
    """Write plots (EPSG:4490 after conversion) as GeoParquet partitions in Hilbert
    order, so each partition covers a compact area.

    ``area_m2`` is computed when missing, as the stores do, so the splits need no
    second projection of every vertex.
    """
    plots = _crs.to_store_crs(plots).reset_index(drop=True)
    if "area_m2" not in plots:
        plots = plots.assign(area_m2=plot_areas_m2(plots.geometry.values))
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if len(plots) > rows_per_partition:
        order = np.argsort(plots.geometry.hilbert_distance(), kind="stable")
        plots = plots.iloc[order].reset_index(drop=True)
    for i, start in enumerate(range(0, max(len(plots), 1), rows_per_partition)):
        plots.iloc[start:start + rows_per_partition].to_parquet(path / _part_name(i),
                                                                index=False)
    return path


def read_plots_parquet(path: str | os.PathLike):
    """The plots of a GeoParquet directory (or file) as a lazy dask-geopandas frame,
    one partition per file."""
    _need_dask()
    import dask.dataframe as dd
    import dask_geopandas  # noqa: F401 - registers the GeoDataFrame backend

    files = _parquet_files(path)
    meta = gpd.read_parquet(files[0]).iloc[:0]
    return dd.from_map(gpd.read_parquet, files, meta=meta, enforce_metadata=False)


# --- splits and summaries ---------------------------------------------------------------
def _summarise(plots: gpd.GeoDataFrame, names: np.ndarray, town_geoms: np.ndarray,
               year: int | None = None) -> pd.DataFrame:
    """Area and count by township, category and year of one partition of plots."""
    if year is not None:
        plots = plots[plots["year"] == year]
    if not len(plots):
        return _SPLIT_META.copy()
    geoms = np.asarray(plots.geometry.values, dtype=object)
    # Only the townships these plots can touch: each township is diced on its own
    # bounds, so leaving the others out changes no piece of any plot.
    near = shapely.STRtree(town_geoms).query(shapely.box(*shapely.total_bounds(geoms)))
    near = np.sort(near)
    areas = (plots["area_m2"].to_numpy(dtype=float) if "area_m2" in plots
             else plot_areas_m2(geoms))
    splits = split_by_township(geoms, names[near], town_geoms[near], areas_m2=areas)
    pos = splits["plot"].to_numpy()
    rows = pd.DataFrame({
        "township": splits["township"].to_numpy(dtype=object),
        "category": plots["category"].to_numpy(dtype=object)[pos],
        "year": plots["year"].to_numpy(dtype="int64")[pos],
        "count": splits["primary"].to_numpy().astype("int64"),
        "area_m2": splits["area_m2"].to_numpy(dtype=float),
    })
    return _group(rows)


def _group(rows: pd.DataFrame) -> pd.DataFrame:
    out = (rows.groupby(["township", "category", "year"], dropna=False, sort=False)
           [["count", "area_m2"]].sum().reset_index())
    return out.astype({"year": "int64", "count": "int64", "area_m2": "float64"})


def _finish(parts: pd.DataFrame) -> pd.DataFrame:
    out = _group(parts)
    key = out["township"].map(lambda t: (t is not None and t == t, t if t == t else ""))
    out = out.assign(_k=key).sort_values(["_k", "category", "year"], kind="stable")
    out = out.drop(columns="_k").reset_index(drop=True)[SUMMARY_COLUMNS]
    # Area outside every township keeps township None, as the stores give it.
    out["township"] = out["township"].astype(object).where(out["township"].notna(), None)
    return out


def _township_arrays(townships: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    towns = _crs.to_store_crs(townships)
    return (towns["name"].to_numpy(dtype=object),
            np.asarray(towns.geometry.values, dtype=object))


def _summarise_file(file: str, towns: tuple, year: int | None) -> pd.DataFrame:
    """Read one GeoParquet partition and summarise it: one task, one partition in memory."""
    return _summarise(gpd.read_parquet(file), towns[0], towns[1], year)


def _parquet_files(path: str | os.PathLike) -> list[str]:
    path = Path(path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise EcomapError(tr("{path} 中没有 .parquet 文件; 请先用 'ecomap store parquet' "
                             "或 ecomap.scale.write_plots_parquet 写出",
                             "no .parquet files in {path}; write them with 'ecomap store "
                             "parquet' or ecomap.scale.write_plots_parquet", path=path))
    return [str(f) for f in files]


def split_plots(plots, townships: gpd.GeoDataFrame, *, year: int | None = None) -> list:
    """Lazy per-partition township sums of ``plots``: a GeoParquet path (one task per
    file: read and summarise) or a dask-geopandas frame (one task per partition).

    :func:`township_areas` adds the partial sums up.
    """
    import dask

    names, town_geoms = _township_arrays(townships)
    towns = dask.delayed((names, town_geoms), pure=True)
    if isinstance(plots, str | os.PathLike):
        return [dask.delayed(_summarise_file, pure=True)(f, towns, year)
                for f in _parquet_files(plots)]
    return plots.map_partitions(lambda part, t: _summarise(part, t[0], t[1], year), towns,
                                meta=_SPLIT_META, align_dataframes=False).to_delayed()


def township_areas(plots, townships: gpd.GeoDataFrame, *, year: int | None = None,
                   client=None) -> pd.DataFrame:
    """Sums by ``township, category, year`` of ``count`` (plots counted where most of
    their area lies) and ``area_m2``, as :meth:`ecomap.store.Store.township_areas` gives
    for the same plots.

    Parameters
    ----------
    plots
        A GeoParquet directory (:func:`write_plots_parquet`) — each worker then reads
        one file at a time — or a dask-geopandas frame (:func:`read_plots_parquet`).
    townships
        Township polygons with ``name``.
    client
        A ``distributed.Client`` (:func:`connect`); dask's current scheduler when ``None``.
    """
    import dask

    _need_dask()
    with dask.config.set({"dataframe.convert-string": False}):
        parts = split_plots(plots, townships, year=year)
        if client is not None:
            results = client.gather(client.compute(parts))
        else:
            results = dask.compute(*parts)
    return _finish(pd.concat([_SPLIT_META, *results], ignore_index=True))


def township_areas_in_memory(plots: gpd.GeoDataFrame, townships: gpd.GeoDataFrame, *,
                             year: int | None = None) -> pd.DataFrame:
    """The same sums on one machine with geopandas alone (the reference path)."""
    plots = _crs.to_store_crs(plots)
    names, town_geoms = _township_arrays(townships)
    if year is not None:
        plots = plots[plots["year"] == year]
    areas = (plots["area_m2"].to_numpy(dtype=float) if "area_m2" in plots
             else plot_areas_m2(plots.geometry.values))
    geoms = np.asarray(plots.geometry.values, dtype=object)
    splits = split_by_township(geoms, names, town_geoms, areas_m2=areas)
    pos = splits["plot"].to_numpy()
    rows = pd.DataFrame({
        "township": splits["township"].to_numpy(dtype=object),
        "category": plots["category"].to_numpy(dtype=object)[pos],
        "year": plots["year"].to_numpy(dtype="int64")[pos],
        "count": splits["primary"].to_numpy().astype("int64"),
        "area_m2": splits["area_m2"].to_numpy(dtype=float),
    })
    return _finish(rows)


# --- generated data (tests and benchmarks) ------------------------------------------------
#: A province-sized extent (about Jiangxi's, degrees of EPSG:4490).
PROVINCE_BOUNDS = (113.6, 24.5, 118.4, 30.0)
_CATEGORIES = np.array(["afforestation", "degraded_forest_restoration", "camellia_planting",
                        "low_quality_forest_improvement", "mine_remediation"], dtype=object)


def synthetic_townships(n: int = 1500, *, bounds=PROVINCE_BOUNDS,
                        seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` townships tiling ``bounds``: Voronoi cells of random seeds, densified."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = bounds
    pts = shapely.points(rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n))
    extent = shapely.box(*bounds)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts),
                                                       extend_to=extent))
    cells = shapely.segmentize(shapely.intersection(cells, extent), 0.005)
    return gpd.GeoDataFrame({"name": [f"T{i:04d}镇" for i in range(len(cells))]},
                            geometry=cells, crs=_crs.STORE_CRS)


def synthetic_plots(n: int, *, bounds=PROVINCE_BOUNDS, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` rectangular plots of 40–250 m sides, uniformly in ``bounds``."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = bounds
    x = rng.uniform(minx, maxx, n)
    y = rng.uniform(miny, maxy, n)
    w = rng.uniform(40, 250, n) / (111_320 * np.cos(np.radians(y)))
    h = rng.uniform(40, 250, n) / 110_574
    return gpd.GeoDataFrame({
        "plot_id": [f"{seed}-{i}" for i in range(n)],
        "category": _CATEGORIES[rng.integers(0, len(_CATEGORIES), n)],
        "year": rng.integers(2019, 2024, n).astype("int64"),
    }, geometry=shapely.box(x, y, x + w, y + h), crs=_crs.STORE_CRS)


def _tile(i: int, tiles: int, bounds) -> tuple[float, float, float, float]:
    """Bounds of tile ``i`` of a ``tiles``-by-``tiles`` grid over ``bounds``."""
    minx, miny, maxx, maxy = bounds
    col, row = i % tiles, i // tiles
    dx, dy = (maxx - minx) / tiles, (maxy - miny) / tiles
    return (minx + col * dx, miny + row * dy, minx + (col + 1) * dx, miny + (row + 1) * dy)


def _synthetic_partition(i: int, *, per: int, tiles: int, bounds, seed: int,
                         path: str) -> int:
    plots = synthetic_plots(per, bounds=_tile(i, tiles, bounds), seed=seed * 100_003 + i)
    plots = plots.assign(area_m2=plot_areas_m2(plots.geometry.values))
    plots.to_parquet(Path(path) / _part_name(i), index=False)
    return len(plots)


def write_synthetic_plots(n: int, path: str | os.PathLike, *, rows_per_partition=250_000,
                          bounds=PROVINCE_BOUNDS, seed: int = 0, client=None) -> Path:
    """Generate about ``n`` plots (rounded up to fill a square grid of tiles) straight
    into spatially partitioned GeoParquet, one tile of the extent per partition, on the
    cluster: no process ever holds them all."""
    _need_dask()
    import dask

    parts = max(1, -(-n // rows_per_partition))
    tiles = int(np.ceil(np.sqrt(parts)))
    per = -(-n // (tiles * tiles))
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    jobs = [dask.delayed(_synthetic_partition)(i, per=per, tiles=tiles, bounds=bounds,
                                               seed=seed, path=str(path))
            for i in range(tiles * tiles)]
    if client is not None:
        client.compute(jobs, sync=True)
    else:
        dask.compute(*jobs)
    return path
