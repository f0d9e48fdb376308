"""Compact encoding of polygon layers for the browser (decoded by ``js/ecomap.js``).

GeoJSON written by ``folium.GeoJson`` / ``GeoDataFrame.explore()`` spends ~50 bytes per
vertex (two 17-digit decimals) and repeats every property name in every feature.  Here a
layer costs ~4 bytes per vertex and a few bytes per attribute value:

* **coordinates** are rounded to a grid of about half a metre (:class:`Grid`; a pixel at
  zoom 18), which every layer of a map shares, so shared borders stay shared; the ring
  closure is dropped, so are vertices that the rounding made repeat; the rest are
  written as differences from the previous vertex, zigzag LEB128 varints, base64;
* **simplification** only where it pays (densely digitised lines, see
  :func:`simplify_layer`): GEOS coverage simplification for layers that tile (township
  borders, patrol areas), so that neighbours keep one common border, and per-feature
  topology-preserving simplification otherwise;
* **attributes** are stored by column: numbers as scaled integers, repeated strings
  (village, township, species…) as a dictionary and codes, near-unique strings (plot
  IDs) front-coded against the previous value.

Nothing here escapes HTML: values are data and ``ecomap.js`` escapes them where it
puts them into HTML.  :func:`script_json` makes the JSON safe inside ``<script>``.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "Field",
    "Grid",
    "decode_columns",
    "decode_polygons",
    "encode_columns",
    "encode_layer",
    "encode_polygons",
    "script_json",
    "simplify_layer",
]

#: Metres per degree of latitude (mean); good to 0.5 % for a grid size.
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Grid:
    """The integer grid coordinates are rounded to: ``qx`` × ``qy`` degrees."""

    qx: float
    qy: float

    @classmethod
    def for_bounds(cls, bounds, *, quantum_m: float = 0.5) -> Grid:
        """A grid of ``quantum_m`` metres in both directions at the centre of ``bounds``."""
        lat = (bounds[1] + bounds[3]) / 2 if np.all(np.isfinite(bounds)) else 0.0
        qy = quantum_m / _M_PER_DEG
        qx = qy / max(math.cos(math.radians(lat)), 0.05)
        return cls(qx, qy)

    @property
    def metres(self) -> float:
        return self.qy * _M_PER_DEG


@dataclass(frozen=True)
class Field:
    """An attribute shown in popups: column ``key``, display ``label``, number ``decimals``.

    ``grouping=False`` writes numbers without thousands separators (years, codes).
    """

    key: str
    label: str
    decimals: int = 2
    grouping: bool = True


# ------------------------------------------------------------------------- varints


def _zigzag(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _unzigzag(u: np.ndarray) -> np.ndarray:
    u = np.asarray(u, dtype=np.uint64)
    return ((u >> np.uint64(1)).astype(np.int64)) ^ -((u & np.uint64(1)).astype(np.int64))


def _varint_bytes(values: np.ndarray) -> bytes:
    """Unsigned LEB128 of each value (vectorised)."""
    u = np.asarray(values, dtype=np.uint64)
    if u.size == 0:
        return b""
    top = int(u.max())
    if top < 1 << 32:
        u = u.astype(np.uint32)
    width = max(1, -(-top.bit_length() // 7))
    n = np.ones(u.shape, dtype=np.int64)
    for k in range(1, width):
        n += u >= u.dtype.type(1 << (7 * k))
    starts = np.cumsum(n) - n
    out = np.empty(int(starts[-1] + n[-1]), dtype=np.uint8)
    out[starts] = (u & 0x7F).astype(np.uint8) | np.where(n > 1, 0x80, 0).astype(np.uint8)
    for k in range(1, width):
        m = n > k
        byte = ((u[m] >> u.dtype.type(7 * k)) & 0x7F).astype(np.uint8)
        out[starts[m] + k] = byte | np.where(n[m] > k + 1, 0x80, 0).astype(np.uint8)
    return out.tobytes()


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(_varint_bytes(values)).decode("ascii")


def _unb64(text: str) -> np.ndarray:
    """Inverse of :func:`_b64` (used by tests and :func:`decode_polygons`)."""
    b = np.frombuffer(base64.b64decode(text), dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, dtype=np.uint64)
    last = (b & 0x80) == 0
    group = np.concatenate([[0], np.cumsum(last)[:-1]])
    first = np.flatnonzero(np.concatenate([[True], last[:-1]]))
    shift = (np.arange(b.size) - first[group]) * 7
    out = np.zeros(int(last.sum()), dtype=np.uint64)
    np.add.at(out, group, (b & 0x7F).astype(np.uint64) << shift.astype(np.uint64))
    return out


# ------------------------------------------------------------------------ geometry


def simplify_layer(geoms, tolerance: float, *, coverage: bool = False,
                   min_spacing_factor: float = 8.0) -> np.ndarray:
    """Simplify a polygon layer by ``tolerance`` degrees where that removes vertices.

    Skipped when the median vertex spacing is more than ``min_spacing_factor`` ×
    ``tolerance`` (nothing would go, and checking costs time on 50,000 plots).  Layers
    that tile (``coverage=True``: townships, patrol areas) are simplified as a coverage
    (``shapely.coverage_simplify``), so neighbours keep one shared border; other
    layers per feature, topology preserved.
    """
    geoms = np.asarray(geoms, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any() or tolerance <= 0:
        return geoms
    n = shapely.get_num_coordinates(geoms[ok])
    spacing = np.median(shapely.length(geoms[ok]) / np.maximum(n, 1))
    if spacing > min_spacing_factor * tolerance:
        return geoms
    out = geoms.copy()
    if coverage:
        out[ok] = shapely.coverage_simplify(geoms[ok], tolerance, simplify_boundary=True)
    else:
        out[ok] = shapely.simplify(geoms[ok], tolerance, preserve_topology=True)
    return out


def _rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(coords, ring sizes, exterior flag per ring, rings per feature)``, closed rings.

    Plain polygons (no holes, one part: nearly all plots) take a fast path that builds
    no ring geometries.
    """
    n = len(geoms)
    types = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms)
    simple = np.all((types == 3) | empty) and not np.any(
        shapely.get_num_interior_rings(geoms[~empty]))
    if simple:
        coords = shapely.get_coordinates(geoms)
        sizes = shapely.get_num_coordinates(geoms)[~empty]
        per_feature = (~empty).astype(np.int64)
        return coords, sizes, np.ones(len(sizes), dtype=bool), per_feature
    polys, poly_feature = shapely.get_parts(geoms, return_index=True)
    keep = ~shapely.is_empty(polys)
    polys, poly_feature = polys[keep], poly_feature[keep]
    per_feature = np.bincount(poly_feature, weights=shapely.get_num_interior_rings(polys) + 1,
                              minlength=n).astype(np.int64)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    exterior = np.ones(len(rings), dtype=bool)
    exterior[1:] = ring_poly[1:] != ring_poly[:-1]
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    return coords, np.bincount(ring_of, minlength=len(rings)), exterior, per_feature


def _orient(coords: np.ndarray, sizes: np.ndarray, exterior: np.ndarray) -> np.ndarray:
    """``coords`` with exteriors counter-clockwise and holes clockwise (closed rings)."""
    if not len(coords):
        return coords
    ends = np.cumsum(sizes)
    starts = ends - sizes
    x, y = coords[:, 0], coords[:, 1]
    cross = np.zeros(len(coords))
    cross[:-1] = x[:-1] * y[1:] - x[1:] * y[:-1]
    cross[ends[sizes > 0] - 1] = 0.0  # no edge from a ring's last vertex to the next ring
    area2 = np.add.reduceat(cross, np.minimum(starts, len(cross) - 1)) * (sizes > 0)
    flip = np.where(exterior, area2 < 0, area2 > 0)
    if not flip.any():
        return coords
    ring_id = np.repeat(np.arange(len(sizes)), sizes)
    j = np.arange(len(coords))
    f = flip[ring_id]
    j[f] = 2 * starts[ring_id[f]] + sizes[ring_id[f]] - 1 - j[f]
    return coords[j]


def encode_polygons(geoms, grid: Grid) -> dict:
    """Polygons/MultiPolygons (lon/lat) → ``{"grid", "nr", "nv", "xy"}`` (see module doc).

    Missing or empty geometries become features without rings (drawn as nothing).
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = np.where(shapely.is_missing(geoms), shapely.Polygon(), geoms)
    bad = ~np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_empty(geoms)
    if bad.any():
        kinds = sorted(set(shapely.get_type_id(geoms[bad]).tolist()))
        raise ValueError(f"encode_polygons takes Polygon/MultiPolygon, got type ids {kinds}")
    coords, sizes, exterior, rings_per_feature = _rings(geoms)
    coords = _orient(coords, sizes, exterior)
    ix = np.rint(coords[:, 0] / grid.qx).astype(np.int64)
    iy = np.rint(coords[:, 1] / grid.qy).astype(np.int64)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    keep = np.ones(len(coords), dtype=bool)
    keep[ends[sizes > 0] - 1] = False  # the closing vertex repeats the first
    repeat = np.zeros(len(coords), dtype=bool)
    repeat[1:] = (ix[1:] == ix[:-1]) & (iy[1:] == iy[:-1])
    repeat[starts[sizes > 0]] = False
    keep &= ~repeat
    ring_id = np.repeat(np.arange(len(sizes)), sizes)
    sizes = np.bincount(ring_id[keep], minlength=len(sizes))
    ix, iy = ix[keep], iy[keep]
    d = np.empty(2 * len(ix), dtype=np.int64)
    d[0::2] = np.diff(ix, prepend=0)
    d[1::2] = np.diff(iy, prepend=0)
    single = bool(np.all(rings_per_feature == 1))
    return {
        "grid": [grid.qx, grid.qy],
        "nr": None if single else _b64(rings_per_feature),
        "nv": _b64(sizes),
        "xy": _b64(_zigzag(d)),
    }


def decode_polygons(enc: dict, n: int) -> list:
    """Shapely geometries back from :func:`encode_polygons` (for tests and checks).

    Counter-clockwise rings start a polygon, clockwise ones are its holes.
    """
    qx, qy = enc["grid"]
    nr = _unb64(enc["nr"]).astype(int) if enc["nr"] else np.ones(n, dtype=int)
    nv = _unb64(enc["nv"]).astype(int)
    d = _unzigzag(_unb64(enc["xy"]))
    ix = np.cumsum(d[0::2])
    iy = np.cumsum(d[1::2])
    xy = np.column_stack([ix * qx, iy * qy])
    starts = np.concatenate([[0], np.cumsum(nv)])
    out, ring = [], 0
    for f in range(n):
        polys: list[list] = []
        for r in range(ring, ring + nr[f]):
            pts = xy[starts[r]:starts[r + 1]]
            if len(pts) < 3:
                continue
            lr = shapely.LinearRing(pts)
            if lr.is_ccw or not polys:
                polys.append([lr, []])
            else:
                polys[-1][1].append(lr)
        ring += nr[f]
        geoms = [shapely.Polygon(ext, holes) for ext, holes in polys]
        out.append(geoms[0] if len(geoms) == 1 else shapely.MultiPolygon(geoms) if geoms
                   else shapely.Polygon())
    return out


# ------------------------------------------------------------------------- columns


def _is_number(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def encode_columns(frame: pd.DataFrame, fields: list[Field]) -> list[dict]:
    """Each field of ``frame`` as one compact column (see module doc)."""
    cols = []
    n = len(frame)
    for f in fields:
        s = frame[f.key]
        spec: dict = {"key": f.key, "label": f.label}
        if _is_number(s):
            vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
            nulls = ~np.isfinite(vals)
            ints = np.rint(np.where(nulls, 0, vals) * 10 ** f.decimals).astype(np.int64)
            codes = np.where(nulls, 0, _zigzag(ints).astype(np.int64) + 1)
            spec.update(k="num", d=f.decimals, v=_b64(codes))
            if not f.grouping:
                spec["g"] = 0
        else:
            codes, distinct = pd.factorize(s.astype(object).where(s.notna(), None),
                                           use_na_sentinel=True)
            distinct = [str(v) for v in distinct]
            if len(distinct) <= max(64, n // 4):
                spec.update(k="dict", u=distinct, v=_b64(codes.astype(np.int64) + 1))
            else:
                prefix, suffix = _front_code(s)
                spec.update(k="front", p=_b64(prefix), s=suffix)
        cols.append(spec)
    return cols


def _front_code(s: pd.Series) -> tuple[np.ndarray, list[str | None]]:
    """Shared-prefix length with the previous non-empty value, and the rest of each."""
    prefix = np.zeros(len(s), dtype=np.int64)
    suffix: list[str | None] = [None] * len(s)
    ok = np.flatnonzero(s.notna().to_numpy())
    values = [str(v) for v in s.to_numpy()[ok]]
    if not values:
        return prefix, suffix
    arr = np.array(values, dtype=str)  # fixed width: compare as code points
    width = arr.dtype.itemsize // 4
    cp = arr.view(np.uint32).reshape(len(values), width)
    lengths = np.char.str_len(arr)
    same = cp[1:] == cp[:-1]
    first_diff = np.where(same.all(axis=1), width, np.argmin(same, axis=1))
    common = np.minimum(first_diff, np.minimum(lengths[1:], lengths[:-1]))
    pre = np.concatenate([[0], common])
    prefix[ok] = pre
    for i, v, k in zip(ok.tolist(), values, pre.tolist(), strict=True):
        suffix[i] = v[k:]
    return prefix, suffix


def decode_columns(cols: list[dict], n: int) -> dict[str, list]:
    """``{key: values}`` back from :func:`encode_columns` (for tests)."""
    out: dict[str, list] = {}
    for c in cols:
        if c["k"] == "num":
            raw = _unb64(c["v"]).astype(np.int64)
            vals = _unzigzag(np.maximum(raw - 1, 0).astype(np.uint64)) / 10 ** c["d"]
            out[c["key"]] = [None if r == 0 else float(v) for r, v in zip(raw, vals, strict=True)]
        elif c["k"] == "dict":
            codes = _unb64(c["v"]).astype(int)
            out[c["key"]] = [None if k == 0 else c["u"][k - 1] for k in codes]
        else:
            prefix = _unb64(c["p"]).astype(int)
            values: list[str | None] = []
            prev = ""
            for p, s in zip(prefix, c["s"], strict=True):
                if s is None:
                    values.append(None)
                    continue
                prev = prev[:p] + s
                values.append(prev)
            out[c["key"]] = values
    return out


def encode_layer(gdf, fields: list[Field], grid: Grid) -> dict:
    """A layer for ``ecomap.plotLayer``: ``{"n", "geom", "cols"}``."""
    return {"n": len(gdf), "geom": encode_polygons(gdf.geometry.values, grid),
            "cols": encode_columns(gdf, fields)}


_SCRIPT_UNSAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                  ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def script_json(obj) -> str:
    """Compact JSON that is safe inside ``<script>`` (no ``</script>``, no U+2028)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escaped in _SCRIPT_UNSAFE:
        if char in text:
            text = text.replace(char, escaped)
    return text
