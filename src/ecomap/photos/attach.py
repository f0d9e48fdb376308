"""Which patch (or plot) a photo documents: the one named, else the one at its position.

Targets are a frame of ``kind`` ("patch" or "plot"), ``key`` (the patch ID, or the
plot's fid as text), ``geometry`` (EPSG:4490) and optionally ``name`` (the plot's
小班号) — :meth:`Store.photo_targets`.

The rules, in order:

1. ``--patch ID`` (an explicit choice for every photo of the upload) wins.
2. A file name starting with a stored patch ID (``DY2022-007_现场.jpg``), else with the
   小班号 of one stored plot, wins over the position: the person who took the photo
   said what it shows, a phone's fix can be tens of metres off, and a patch is often
   photographed from outside it.  When the position is farther than the tolerance from
   the named target, a warning says so.
3. The position: the target containing it (patches before plots), else the nearest
   within the tolerance (default 50 m), measured area-true in the Gauss-Kruger zone
   (:mod:`ecomap.crs`).  Inside two or more (overlapping plots): the smallest, with a
   warning.  Two or more within the tolerance, none containing: the nearest, with a
   warning naming the others.
4. Otherwise the photo is refused with the reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecomap import crs as _crs
from ecomap.i18n import tr
from ecomap.photos.read import PhotoInfo, id_in_name

__all__ = ["Attachment", "attach_photo", "target_label"]

#: Patches are matched before plots.
_TIERS = ("patch", "plot")


@dataclass(frozen=True)
class Attachment:
    """Where a photo goes: ``kind``/``key`` (None: refused, ``reason`` says why), how it was
    found (``"patch option"``, ``"name"``, ``"inside"``, ``"nearest"``), the distance
    in metres from the position to the target (None without a position) and a
    warning."""

    kind: str | None
    key: str | None
    how: str | None = None
    distance_m: float | None = None
    warning: str | None = None
    reason: str | None = None


def target_label(kind: str, key: str, name: str | None = None):
    """``图斑 DY2022-007`` / ``地块 12`` (patch / plot; ``地块 12 (小班号)`` with the plot's
    ``name``), for messages."""
    if kind == "patch":
        return tr("图斑 {key}", "patch {key}", key=key)
    if name and name != key:
        return tr("地块 {key} ({name})", "plot {key} ({name})", key=key, name=name)
    return tr("地块 {key}", "plot {key}", key=key)


class _Projected:
    """The targets in the Gauss-Kruger zone of the county, with a spatial index."""

    def __init__(self, targets) -> None:
        import shapely

        self.kinds = targets["kind"].astype(str).to_numpy(dtype=object)
        self.keys = targets["key"].astype(str).to_numpy(dtype=object)
        geoms = np.asarray(targets.geometry.values, dtype=object)
        if len(geoms):
            bounds = shapely.total_bounds(geoms)
            self.zone = _crs.area_crs_epsg((bounds[0] + bounds[2]) / 2)
            self.geoms = _crs.transform_geometries(geoms, _crs.STORE_CRS, f"EPSG:{self.zone}")
        else:
            self.zone, self.geoms = _crs.area_crs_epsg(114.0), geoms
        self.tree = shapely.STRtree(self.geoms)
        self.index = {(k, key): i for i, (k, key) in enumerate(
            zip(self.kinds, self.keys, strict=True))}
        # Plots by their 小班号 (``name``), when it names one plot only.
        names = targets["name"] if "name" in targets else pd.Series(None, targets.index)
        plots = [(str(n), i) for i, (k, n) in enumerate(zip(self.kinds, names, strict=True))
                 if k == "plot" and isinstance(n, str) and n]
        counts = Counter(n for n, _ in plots)
        self.plot_names = {n: i for n, i in plots if counts[n] == 1}

    def point(self, lon: float, lat: float):
        import shapely

        x, y = _crs.transform_xy([lon], [lat], _crs.STORE_CRS, f"EPSG:{self.zone}")
        return shapely.Point(float(x[0]), float(y[0]))

    def distance(self, i: int, point) -> float:
        return float(self.geoms[i].distance(point))


def attach_photo(photo: PhotoInfo, targets, *, tolerance_m: float = 50.0,
                 patch: str | None = None, _projected: _Projected | None = None
                 ) -> Attachment:
    """Where ``photo`` goes among ``targets`` (see the module's rules)."""
    proj = _projected or _Projected(targets)
    point = proj.point(photo.lon, photo.lat) if photo.has_position else None
    if patch is not None:
        i = proj.index.get(("patch", str(patch)))
        if i is None:
            return Attachment(None, None, reason=tr(
                "库中没有图斑 {key}; 用 ecomap patches list 查看图斑编号",
                "there is no patch {key} in the store; ecomap patches list shows the IDs",
                key=patch))
        return _named(proj, point, i, "patch option", tolerance_m)
    name_id = id_in_name(photo.file_name)
    if name_id is not None:  # a patch ID, else the 小班号 of one plot
        i = proj.index.get(("patch", name_id), proj.plot_names.get(name_id))
        if i is not None:
            return _named(proj, point, i, "name", tolerance_m)
    if point is None:
        return Attachment(None, None, reason=tr(
            "照片 {file} 没有位置信息; 请在文件名中写明图斑编号 (如 图斑编号_说明.jpg)",
            "photo {file} has no position; put the patch ID in its file name "
            "(e.g. PATCHID_note.jpg)", file=photo.file_name))
    for tier in _TIERS:
        found = _by_position(proj, point, tier, tolerance_m)
        if found is not None:
            return found
    return Attachment(None, None, reason=tr(
        "照片 {file} 的位置 ({lon:.6f}, {lat:.6f}) 不在任何图斑或地块内, 最近的也超过 {tol:g} 米; "
        "请在文件名中写明图斑编号 (如 图斑编号_说明.jpg) 或用 --patch 指定",
        "photo {file} at ({lon:.6f}, {lat:.6f}) is in no patch or plot and more than "
        "{tol:g} m from the nearest; put the patch ID in its file name (e.g. "
        "PATCHID_note.jpg) or pass --patch", file=photo.file_name, lon=photo.lon,
        lat=photo.lat, tol=tolerance_m))


def _named(proj: _Projected, point, i: int, how: str, tolerance_m: float) -> Attachment:
    kind, key = str(proj.kinds[i]), str(proj.keys[i])
    if point is None:
        return Attachment(kind, key, how)
    dist = proj.distance(i, point)
    warning = None
    if dist > tolerance_m:
        warning = tr("照片位置距所指定的{target}有 {d:.0f} 米 (超过 {tol:g} 米), 仍按指定挂接",
                     "the photo was taken {d:.0f} m from the {target} it names (more than "
                     "{tol:g} m); attached as named", target=target_label(kind, key), d=dist,
                     tol=tolerance_m)
    return Attachment(kind, key, how, dist, warning)


def _by_position(proj: _Projected, point, tier: str, tolerance_m: float) -> Attachment | None:
    hits = [int(i) for i in proj.tree.query(point, predicate="intersects")
            if proj.kinds[i] == tier]
    if hits:  # the smallest: the most specific of overlapping targets
        hits.sort(key=lambda j: (proj.geoms[j].area, proj.keys[j]))
        i = hits[0]
        warning = None
        if len(hits) > 1:
            others = "、".join(str(target_label(tier, proj.keys[j])) for j in hits[1:])
            warning = tr("位置同时在 {others} 内; 挂接到其中最小的 {target}",
                         "the position is also inside {others}; attached to the smallest, "
                         "{target}", others=others, target=target_label(tier, proj.keys[i]))
        return Attachment(tier, str(proj.keys[i]), "inside", 0.0, warning)
    near = [int(i) for i in proj.tree.query(point, predicate="dwithin", distance=tolerance_m)
            if proj.kinds[i] == tier]
    if not near:
        return None
    dists = {j: proj.distance(j, point) for j in near}
    ranked = sorted(near, key=lambda j: (dists[j], proj.keys[j]))
    i = ranked[0]
    warning = None
    if len(ranked) > 1:
        others = "、".join(f"{proj.keys[j]} ({dists[j]:.0f} m)" for j in ranked[1:])
        warning = tr("{tol:g} 米内有多个目标, 挂接到最近的 {target} ({d:.0f} 米); 另有 {others}",
                     "several targets within {tol:g} m; attached to the nearest, {target} "
                     "({d:.0f} m); also {others}", tol=tolerance_m, d=dists[i], others=others,
                     target=target_label(tier, proj.keys[i]))
    return Attachment(tier, str(proj.keys[i]), "nearest", dists[i], warning)
