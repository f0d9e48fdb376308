"""Small vectorised geometry helpers shared by the checks and the store."""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["as_multipolygons"]


def as_multipolygons(geoms) -> np.ndarray:
    """Polygons promoted to one-part MultiPolygons (others unchanged), vectorised."""
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    single = np.flatnonzero(shapely.get_type_id(geoms) == 3)
    if len(single):
        out[single] = shapely.multipolygons(geoms[single], indices=np.arange(len(single)))
    return out
