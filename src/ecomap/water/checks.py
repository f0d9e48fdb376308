"""Monitoring data in the store's shapes: sites as points, samples in long form, and the
checks an upload passes before it is stored.

The store keeps sites as points and samples in long form (one row per site, date and
parameter), so that new parameters need no schema change.

Upload rules (applied by :func:`upload_from_tables`, enforced again by the store):

* every sample names a site that is stored or comes with the upload;
* one value per site, date and parameter: a value already stored (or given twice in
  the file) is refused, naming the batch and the fix (roll it back first); values of
  *other* parameters for a stored site and date are added (a laboratory's second
  report, e.g. the metals);
* a new site needs coordinates and a site type (or a name telling river from lake);
  a stored site listed again must agree with the store (type, waterbody, river,
  target, position within 0.001°) — the store's record is not changed by an upload.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecomap.errors import InputError
from ecomap.i18n import Text, tr
from ecomap.water.columns import (
    COLUMN_ALIASES,
    SITE_COLUMNS,
    _match_column,
    normalize_samples,
    problem,
)
from ecomap.water.gb3838 import MEASURES

__all__ = ["WaterUpload", "samples_long", "samples_wide", "sites_from_table",
           "upload_from_tables"]

_STORED_SITE_COLUMNS = ("site_name", "site_type", "waterbody", "river", "target_class")
_SAME_PLACE_DEG = 0.001
_ZH = {"site_type": "点位类型", "waterbody": "水体类型", "river": "河流",
       "target_class": "水质目标", "position": "经纬度"}


def sites_from_table(table: pd.DataFrame) -> tuple[Any, list[dict]]:
    """Monitoring sites as points (EPSG:4490) from a site table with 经度/纬度.

    Returns the GeoDataFrame of sites with readable coordinates and the problems found
    (a site without coordinates is an error naming its row).
    """
    frame, problems = normalize_samples(table)
    for col in ("lon", "lat"):
        if col not in frame:
            raise InputError(tr("点位表没有 {name} 列；请加上经度、纬度（度）",
                                "the site table has no {name} column; add longitude and "
                                "latitude in degrees", name="经度" if col == "lon" else "纬度"))
    missing = frame["lon"].isna() | frame["lat"].isna()
    for row in frame.loc[missing, "source_row"]:
        problems.append(problem(int(row), "经度/纬度", "missing_value", tr(
            "第{row}行没有坐标；请填写经度和纬度(度)",
            "row {row} has no coordinates; fill in 经度 and 纬度 (longitude and latitude, in "
            "degrees)", row=row)))
    frame = frame[~missing]
    return _points(frame), problems


def _points(frame: pd.DataFrame):
    import geopandas as gpd

    cols = [c for c in (*_STORED_SITE_COLUMNS, "township") if c in frame]
    xy = [frame[c] if c in frame else pd.Series(np.nan, frame.index) for c in ("lon", "lat")]
    return gpd.GeoDataFrame(frame[cols].reset_index(drop=True),
                            geometry=gpd.points_from_xy(*(a.astype(float) for a in xy)),
                            crs="EPSG:4490")


def samples_long(samples: pd.DataFrame) -> pd.DataFrame:
    """Normalised samples (wide) → ``site_name, date, param, value, below_dl`` rows."""
    return _melt(samples)


def _melt(samples: pd.DataFrame, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    rows = []
    dates = samples["date"].dt.strftime("%Y-%m-%d") if "date" in samples else None
    for code in (c for c in MEASURES if c in samples):
        values = samples[code]
        below = samples.get(f"{code}_below_dl", pd.Series(False, index=samples.index))
        keep = values.notna() | below.fillna(False).astype(bool)
        rows.append(pd.DataFrame({
            "site_name": samples.loc[keep, "site_name"].astype(object),
            "date": None if dates is None else dates[keep].astype(object),
            "param": code,
            "value": values[keep].astype(float),
            "below_dl": below[keep].fillna(False).astype(int),
            **{c: samples.loc[keep, c] for c in extra},
        }))
    if not rows:
        return pd.DataFrame(columns=["site_name", "date", "param", "value", "below_dl", *extra])
    return pd.concat(rows, ignore_index=True)


def samples_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Stored long samples → the wide frame :func:`ecomap.water.annual_site_classes` takes."""
    if long.empty:
        return pd.DataFrame({"site_name": pd.Series(dtype=object),
                             "date": pd.Series(dtype="datetime64[ns]")})
    grouped = long.groupby(["site_name", "date", "param"], sort=False)
    values = grouped["value"].first().unstack("param")   # keeps ND values (NaN, below DL)
    below = grouped["below_dl"].max().unstack("param")
    below = below.fillna(0).astype(bool).add_suffix("_below_dl")
    wide = values.join(below).reset_index()
    wide.columns.name = None
    wide["date"] = pd.to_datetime(wide["date"], errors="coerce")
    return wide


# ---------------------------------------------------------------- uploads
@dataclass
class WaterUpload:
    """What an upload would store, and every problem found in it."""

    #: New monitoring sites (EPSG:4490 points); sites already stored are left out.
    sites: Any
    #: Samples in long form (:func:`samples_long`), for :meth:`ecomap.store.Store.add_water`.
    samples: pd.DataFrame
    #: Problem records; ``severity`` "error" refuses the upload, "warning" informs (and
    #: refuses with ``strict``), "note" only informs.
    problems: list[dict] = field(default_factory=list)
    #: Sample rows read (one per site and date).
    n_samples: int = 0

    @property
    def errors(self) -> list[dict]:
        return [p for p in self.problems if p["severity"] == "error"]

    @property
    def warnings(self) -> list[dict]:
        return [p for p in self.problems if p["severity"] != "error"]


def upload_from_tables(table: pd.DataFrame, sites_table: pd.DataFrame | None = None, *,
                       stored_sites: pd.DataFrame | None = None,
                       stored_samples: pd.DataFrame | None = None,
                       townships: Any = None, names: tuple[str, str] = ("样品表", "点位表"),
                       detection_limits: dict[str, float] | None = None) -> WaterUpload:
    """Sites and samples of monitoring tables, checked against what the store holds.

    Parameters
    ----------
    table
        Samples (site, date, parameters), sites (site, type, target, 经度/纬度), or both
        in one table, as :func:`ecomap.io.tables.read_table` reads them.
    sites_table
        A separate site table uploaded with the samples.
    stored_sites, stored_samples
        ``Store.water_sites()`` and ``Store.water_samples()`` (with ``batch_id``).
    townships
        Township polygons (``name``), to warn when a new site lies outside every
        township or in another one than its 乡镇 cell says.
    names
        File names of ``table`` and ``sites_table``, prefixed to the messages.
    detection_limits
        DL by parameter code for ``ND`` cells that give none (mg/L).

    Returns
    -------
    WaterUpload
        New sites, samples in long form and the problems (rules in the module docstring).
    """
    up = _Upload(names, stored_sites, stored_samples)
    frame = up.read(table, 0, detection_limits)
    if "site_name" not in frame:
        up.add(0, None, None, "missing_column", "没有 断面名称/点位名称 列；请在表头加上")
        return WaterUpload(_points(pd.DataFrame(columns=["lon", "lat"])), samples_long(
            frame.iloc[:0].assign(site_name=None)), up.problems)
    given = [up.site_rows(frame, 0)]
    if sites_table is not None:
        site_frame = up.read(sites_table, 1, None)
        if "site_name" not in site_frame or "lon" not in site_frame:
            up.add(1, None, None, "missing_column", "点位表须有 点位名称、点位类型、水质目标、"
                   "经度、纬度 列")
        given.insert(0, up.site_rows(site_frame, 1))
    sites = up.sites([g for g in given if g is not None], townships)
    has_samples = "date" in frame or any(c in frame for c in MEASURES)
    if has_samples:
        samples = up.samples(frame, set(sites["site_name"]))
    else:
        samples = frame.iloc[:0]
        if sites_table is not None:
            up.add(0, None, None, "no_samples", "没有采样日期或监测项目列，不是样品表；点位表请直接"
                   "作为 FILE 导入")
    n = len(samples.drop_duplicates(["site_name", "date"])) if len(samples) else 0
    return WaterUpload(_points(sites[sites["_new"]]), samples_long(samples), up.problems, n)


class _Upload:
    """The checks of :func:`upload_from_tables`; each adds to ``problems``."""

    def __init__(self, names, stored_sites, stored_samples):
        self.names, self.problems, self.stored, self.bad_cells = names, [], None, set()
        if stored_sites is not None and len(stored_sites):
            geom = stored_sites.geometry
            self.stored = pd.DataFrame(stored_sites.drop(columns=geom.name)).assign(
                lon=geom.x, lat=geom.y).set_index("site_name")
        self.stored_samples = stored_samples

    def add(self, src, row, field_, code, message, severity="error"):
        self.problems.append(problem(row, field_, code, tr(
            "{file}：{message}", "{file}: {message}", file=self.names[src], message=message),
            severity))

    def read(self, table, src, dls):
        frame, problems = normalize_samples(table, detection_limits=dls)
        for p in problems:
            self.add(src, p["feature"], p["field"], p["code"], p["message"], p["severity"])
            if p["severity"] == "error":
                self.bad_cells.add((src, p["feature"], _match_column(p["field"])[0]))
        known = {c for code in COLUMN_ALIASES for c in (code, f"{code}_below_dl")}
        for col in frame.columns.difference([*known, "source_row"]):
            if frame[col].map(lambda v: _blank(v) is False and bool(str(v).strip())).any():
                self.add(src, None, str(col), "unused_column", tr(
                    "列「{col}」不是 GB 3838-2002 表1 的项目，也不是点位属性；未入库",
                    "column “{col}” is neither an item of GB 3838-2002 Table 1 nor a site "
                    "attribute; not stored", col=col), "warning")
        return frame

    def site_rows(self, frame, src) -> pd.DataFrame | None:
        """The site attributes a table gives, one row per table row; None when it gives none.

        ``waterbody`` counts as given with a 点位类型/水体类型 column; the name rule's
        guess goes to ``_guess``, used for new sites only."""
        headers = frame.attrs.get("headers", {})
        cols = [c for c in SITE_COLUMNS if c in headers or (
            c == "waterbody" and "site_type" in headers)]
        if "site_name" not in frame or not cols:
            return None
        rows = frame.dropna(subset=["site_name"])
        return rows[["site_name", "source_row", *cols]].assign(
            _src=src, _guess=rows.get("waterbody"))

    def sites(self, given, townships) -> pd.DataFrame:
        """One row per site that a table describes, with ``_new`` (not yet stored)."""
        rows = pd.concat(given) if given else pd.DataFrame(columns=["site_name", "_guess"])
        attrs = [c for c in SITE_COLUMNS if c in rows]
        out = []
        for name, group in rows.groupby("site_name", sort=False):
            site = {"site_name": name, **{c: self._one_value(name, group, c) for c in attrs}}
            where = int(group["_src"].iloc[0]), int(group["source_row"].iloc[0])
            if self.stored is not None and name in self.stored.index:
                self._compare(site, self.stored.loc[name], *where)
            else:
                guess = group["_guess"].dropna()
                site["waterbody"] = site.get("waterbody") or (guess.iloc[0] if len(guess) else None)
                self._check_new(site, *where)
            out.append(site)
        sites = pd.DataFrame(out, columns=list(dict.fromkeys(
            ["site_name", *attrs, "waterbody", "_new"])))
        sites["_new"] = sites["_new"].eq(True)
        if townships is not None and len(townships) and sites["_new"].any():
            self._check_townships(sites[sites["_new"]], townships)
        return sites

    def _one_value(self, name, group, col):
        values = group[col].dropna()
        if not len(values):
            return None
        spread = values.astype(float).max() - values.astype(float).min() \
            if col in ("lon", "lat") else 0
        if (spread > _SAME_PLACE_DEG if col in ("lon", "lat")
                else values.nunique() > 1):
            pairs = list(zip(group.loc[values.index, "source_row"], values, strict=True))
            seen = tr("，".join(f"第{r}行 {v}" for r, v in pairs),
                      ", ".join(f"row {r}: {v}" for r, v in pairs))
            self.add(int(group["_src"].iloc[0]), int(group["source_row"].iloc[0]), col,
                     "conflicting_site", tr(
                         "点位「{name}」的{what}前后不一：{seen}；请统一",
                         "site “{name}” has different {what} values: {seen}; make them agree",
                         name=name, what=_ZH.get(col, col), seen=seen))
        return values.iloc[0]

    def _compare(self, site, have, src, row):
        """A stored site listed again: differences are errors, the store is not changed."""
        site["_new"], batch, name = False, have.get("batch_id"), site["site_name"]
        for col in ("site_type", "waterbody", "river", "target_class", "position"):
            mine, theirs = site.get(col), have.get(col)
            if col == "position":
                if _blank(site.get("lon")) or _blank(site.get("lat")):
                    continue
                far = max(abs(site["lon"] - have["lon"]), abs(site["lat"] - have["lat"]))
                theirs = f"{have['lon']:.5f}, {have['lat']:.5f}"
                mine = f"{site['lon']:.5f}, {site['lat']:.5f}" if far > _SAME_PLACE_DEG else theirs
            if _blank(mine) or mine == theirs:
                continue
            if _blank(theirs):
                self.add(src, row, col, "site_unchanged", tr(
                    "点位「{name}」已在库中（批次 {batch}），库中没有{what}，本表的 {mine} 不会写入",
                    "site “{name}” is stored already (batch {batch}) without {what}; this "
                    "table's {mine} is not written", name=name, batch=batch, what=_ZH[col],
                    mine=mine), "warning")
            else:
                self.add(src, row, col, "site_differs", tr(
                    "点位「{name}」已在库中（批次 {batch}），{what}为 {theirs}，本表为 {mine}；"
                    "若要更正点位，先运行 ecomap rollback {batch} 再导入，否则请改为与库中一致",
                    "site “{name}” is stored already (batch {batch}) with {what} {theirs}, "
                    "this table says {mine}; to correct the site run ecomap rollback {batch} "
                    "and import again, else make it agree with the store", name=name,
                    batch=batch, what=_ZH[col], theirs=theirs, mine=mine))

    def _check_new(self, site, src, row):
        site["_new"], name = True, site["site_name"]
        unread = {(src, row, "lon"), (src, row, "lat")} & self.bad_cells   # reported already
        if (_blank(site.get("lon")) or _blank(site.get("lat"))) and not unread:
            self.add(src, row, "经度/纬度", "missing_value", tr(
                "第{row}行：点位「{name}」不在库中，且没有经度、纬度；请补上坐标（度或度分秒）",
                "row {row}: site “{name}” is not stored and has no 经度/纬度; add its "
                "coordinates (degrees, or degrees-minutes-seconds)", row=row, name=name))
        if _blank(site.get("waterbody")):
            self.add(src, row, "点位类型", "missing_value", tr(
                "第{row}行：点位「{name}」无法判断是河流还是湖库（总磷、总氮限值不同）；"
                "请填 点位类型（河流/湖库/饮用水源）",
                "row {row}: site “{name}” cannot be told a river or a lake (their total "
                "phosphorus and nitrogen limits differ); fill in 点位类型 (河流/湖库/饮用水源)",
                row=row, name=name))
        elif _blank(site.get("site_type")):
            site["site_type"] = site["waterbody"]
            kind = tr("湖库", "lake (湖库)") if site["waterbody"] == "lake" else \
                tr("河流", "river (河流)")
            self.add(src, row, "点位类型", "guessed_type", tr(
                "第{row}行：点位「{name}」没有点位类型，按名称记为{kind}；饮用水源请填 点位类型",
                "row {row}: site “{name}” has no 点位类型; taken as a {kind} from its name; "
                "fill in 点位类型 for a drinking-water source", row=row, name=name, kind=kind),
                "warning")
        if _blank(site.get("target_class")):
            self.add(src, row, "水质目标", "missing_value", tr(
                "第{row}行：点位「{name}」没有水质目标，不参与达标评价；如有请填 水质目标（如 III）",
                "row {row}: site “{name}” has no 水质目标 (target class) and is left out of "
                "the compliance figures; fill it in if it has one (e.g. III)", row=row,
                name=name), "warning")

    def _check_townships(self, new, townships):
        import geopandas as gpd

        if "lon" not in new or "lat" not in new:  # no coordinate columns: reported already
            return
        new = new.dropna(subset=["lon", "lat"])
        pts = gpd.GeoDataFrame(new, geometry=gpd.points_from_xy(new["lon"], new["lat"]),
                               crs="EPSG:4490")
        towns = townships[["name", townships.geometry.name]].to_crs("EPSG:4490")
        hit = gpd.sjoin(pts, towns, how="left", predicate="intersects")
        for _, s in hit[~hit.index.duplicated()].iterrows():
            if _blank(s["name"]):
                self.add(0, None, "经度/纬度", "outside_townships", tr(
                    "点位「{name}」({lon:.5f}, {lat:.5f}) 不在任何乡镇内，乡镇留空；请核对经纬度"
                    "（是否填反）",
                    "site “{name}” ({lon:.5f}, {lat:.5f}) lies in no township; township left "
                    "empty; check its longitude and latitude (swapped?)", name=s["site_name"],
                    lon=s["lon"], lat=s["lat"]), "warning")
            elif not _blank(s.get("township")) and s["township"] != s["name"]:
                self.add(0, None, "乡镇", "township_differs", tr(
                    "点位「{name}」乡镇填「{said}」，坐标落在「{lies}」；入库以坐标为准",
                    "site “{name}” says township “{said}” but lies in “{lies}”; stored as its "
                    "coordinates say", name=s["site_name"], said=s["township"],
                    lies=s["name"]), "warning")

    def samples(self, frame: pd.DataFrame, listed: set) -> pd.DataFrame:
        """The rows that can be stored; a problem for every other row holding a value."""
        measures = [c for c in MEASURES if c in frame]
        flags = [f"{c}_below_dl" for c in measures if f"{c}_below_dl" in frame]
        has_value = frame[measures].notna().any(axis=1) | frame[flags].any(axis=1)
        bad_rows = {p["feature"] for p in self.problems if p["feature"] is not None}
        if "date" not in frame:
            self.add(0, None, "采样日期", "missing_column", tr(
                "没有 采样日期 列；请加上（如 2023-05-06）",
                "no 采样日期 (sampling date) column; add it (e.g. 2023-05-06)"))
            frame = frame.assign(date=pd.NaT)
        for r in frame.loc[frame["site_name"].isna() & has_value, "source_row"]:
            self.add(0, int(r), "断面名称", "missing_value", tr(
                "第{row}行有监测值但没有断面名称；请填写",
                "row {row} has values but no 断面名称 (site name); fill it in", row=r))
        for r in frame.loc[frame["date"].isna() & has_value, "source_row"]:
            if int(r) not in bad_rows and "date" in frame.attrs.get("headers", {}):
                self.add(0, int(r), "采样日期", "missing_value", tr(
                    "第{row}行没有采样日期；请填写",
                    "row {row} has no 采样日期 (sampling date); fill it in", row=r))
        for r in frame.loc[~has_value & ~frame["source_row"].isin(bad_rows), "source_row"]:
            self.add(0, int(r), None, "empty_sample", tr(
                "第{row}行没有任何监测值，未入库", "row {row} holds no value; not stored", row=r),
                "warning")
        rows = frame[has_value & frame["site_name"].notna() & frame["date"].notna()]
        self._unknown_sites(rows, listed)
        self._duplicates(_melt(rows, ("source_row",)))
        return rows

    def _unknown_sites(self, rows, listed):
        known = listed | set(self.stored.index if self.stored is not None else ())
        for name, group in rows[~rows["site_name"].isin(known)].groupby("site_name", sort=False):
            near = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
            hint = tr("是否应为「{near}」？", "Did you mean “{near}”? ", near=near[0]) \
                if near else ""
            self.add(0, int(group["source_row"].iloc[0]), "断面名称", "unknown_site", tr(
                "断面「{name}」（第{rows}行）不在点位库中。{hint}请先导入点位表"
                "（ecomap water ingest 点位.csv），或用 --sites 点位.csv 与样品一起导入，"
                "或在本表加 经度、纬度、点位类型、水质目标 列",
                "site “{name}” (rows {rows}) is not stored. {hint}Import the site table "
                "first (ecomap water ingest 点位.csv), or with the samples (--sites 点位.csv), "
                "or add the columns 经度, 纬度, 点位类型, 水质目标 to this table", name=name,
                rows=_rows(group), hint=hint))

    def _duplicates(self, long):
        keys = ["site_name", "date", "param"]
        twice = long[long.duplicated(keys, keep=False)]
        for (name, date), group in twice.groupby(["site_name", "date"], sort=False):
            self.add(0, int(group["source_row"].min()), None, "duplicate_sample", tr(
                "第{rows}行是断面「{name}」{date} 的同一项目（{params}）；每个断面、日期、项目"
                "只能有一个值：平行样请先取均值，重复行请删除",
                "rows {rows} give the same items of site “{name}” on {date} ({params}); one "
                "value per site, date and item: average parallel samples first, delete "
                "repeated rows", rows=_rows(group), name=name, date=date,
                params=_params(group)))
        if self.stored_samples is None or not len(self.stored_samples) or not len(long):
            return
        old = long.merge(self.stored_samples[[*keys, "batch_id"]], on=keys)
        for batch, group in old.groupby("batch_id"):
            n = len(group.drop_duplicates(["site_name", "date"]))
            self.add(0, int(group["source_row"].min()), None, "sample_stored", tr(
                "第{rows}行（{n} 个样品）的 {params} 已在批次 {batch} 中入库（同一断面、日期、"
                "项目）；若本表是更正或重发，先运行 ecomap rollback {batch} 再导入，否则请删去"
                "这些值",
                "{params} of rows {rows} ({n} samples) are stored already in batch {batch} "
                "(same site, date and item); if this table corrects or resends them run "
                "ecomap rollback {batch} and import again, else delete those values",
                rows=_rows(group), n=n, params=_params(group), batch=batch))


def _blank(v) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v))


def _rows(group: pd.DataFrame, col: str = "source_row") -> Text:
    """Row numbers as 2、5–9、12 (runs joined), at most ten runs."""
    runs: list[list[int]] = []
    for r in sorted({int(r) for r in group[col]}):
        if runs and r == runs[-1][-1] + 1:
            runs[-1].append(r)
        else:
            runs.append([r])
    parts = [str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs[:10]]
    more = "…" if len(runs) > 10 else ""
    return tr("、".join(parts) + more, ", ".join(parts) + more)


def _params(group: pd.DataFrame) -> str:
    from ecomap.water.gb3838 import PARAMETERS

    return "、".join(PARAMETERS[c].label if c in PARAMETERS else "水温"
                    for c in group["param"].unique())
