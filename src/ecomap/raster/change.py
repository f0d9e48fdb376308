"""Change of a raster between two dates (e.g. NDVI before and after restoration):
the per-zone table and the difference overlay."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecomap.raster.overlay import Overlay, _overlay, _with_nan

__all__ = ["change_overlay", "change_table"]


def change_table(before: pd.Series, after: pd.Series, *, min_gain: float = 0.0
                 ) -> pd.DataFrame:
    """Per-zone change of a mean (e.g. NDVI after − before), flagging zones with no gain.

    Returns
    -------
    DataFrame
        ``before``, ``after``, ``change`` and ``status``: ``"gain"`` when the change is
        above ``min_gain``, ``"no_gain"`` when it is not, ``"no_data"`` when either mean
        is missing (off the raster or nodata only).
    """
    before = before.astype(float)
    after = after.astype(float).reindex(before.index)
    change = after - before
    status = np.where(change.isna(), "no_data", np.where(change > min_gain, "gain", "no_gain"))
    return pd.DataFrame({"before": before, "after": after, "change": change,
                         "status": status}, index=before.index)


def change_overlay(before: tuple, after: tuple, *, colormap: str = "change",
                   vmax: float | None = None, max_size: int = 1024,
                   fade: float | None = 0.25) -> Overlay:
    """The difference after − before of two rasters as an overlay centred on 0.

    ``before`` and ``after`` are ``(array, transform, crs)``, on any grids: both are
    warped onto the Web Mercator grid of ``before`` before subtracting (for display).
    Changes smaller than ``fade`` × the scale fade out (see
    :func:`ecomap.raster.overlay.colorize`).
    """
    from ecomap.crs import reproject_array

    b, mt = reproject_array(_with_nan(before[0], None), before[1], before[2], "EPSG:3857",
                            max_size=max_size)
    a, _ = reproject_array(_with_nan(after[0], None), after[1], after[2], "EPSG:3857",
                           dst_grid=(mt, b.shape))
    return _overlay(a - b, mt, colormap=colormap, vmin=None if vmax is None else -vmax,
                    vmax=vmax, symmetric=True, fade=fade)
