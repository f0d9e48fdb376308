"""The demo's other years, for ``make_geodata.py``: illustrative 2021 and 2022 plots, and
the 2023 targets table (任务分解表) of the county.

Both are derived from the 2023 plots and the townships that ``make_geodata.py`` has just
made, with fixed seeds, so two runs give byte-identical files.  See ``geodata/README.md``.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import shapely
from shapely import affinity

from ecomap.crs import areas_m2
from ecomap.schema import CATEGORIES, RESTORATION
from ecomap.units import m2_from_mu, mu_from_m2

LL = "EPSG:4490"
PRIOR_YEARS = (2021, 2022)
#: Property ``note`` of every illustrative plot of an earlier year.
PRIOR_NOTE = "{year}年示意数据（按2023年规模随机生成），非实际作业小班"
#: Share of each category's 2023 total drawn for an earlier year, and the spread of the
#: townships' shares around their 2023 ones.
PRIOR_FACTOR, TOWN_SPREAD = (0.7, 1.1), (0.5, 1.5)

TARGETS_NAME = "targets_2023.xlsx"
TARGETS_TITLE = "大余县2023年造林绿化和生态修复任务分解表（示例）"
TARGETS_HEADERS = ["序号", "乡镇", "任务类别", "年度", "任务量", "单位", "备注"]
#: Categories the county keeps whole (one 全县 row), the others are split by township.
COUNTY_ONLY = ("mine_remediation", "soil_erosion_control")
UNIT_TEXT = {"mu": "亩", "km2": "平方公里"}
#: A township's target is its 2023 done rounded down to this many 亩.
TARGET_STEP_MU = 10
COUNTY_ROW_NOTE = "全县统筹实施，不分解到乡镇"
SPLIT_NOTE = "全县任务；已分解到乡镇{split}亩，其余{rest}亩由县级统筹安排"
FIXED_TIME = datetime(2023, 1, 10, 9, 0, 0)  # workbook created/modified (fixed)
ZIP_TIME = (2023, 1, 10, 9, 0, 0)


# --- done per township ------------------------------------------------------------------

def township_done_mu(ctx, geoms) -> np.ndarray:
    """亩 of ``geoms`` (EPSG:4490) lying in each township: each plot's pieces, cut by the
    township cells and measured with ``ecomap.crs.areas_m2`` (a border plot counts in
    every township by the area of its piece there)."""
    geoms = np.asarray(geoms, dtype=object)
    town, plot = shapely.STRtree(geoms).query(ctx.towns, predicate="intersects")
    m2 = areas_m2(shapely.intersection(geoms[plot], ctx.towns[town]), LL)
    return mu_from_m2(np.bincount(town, weights=m2, minlength=len(ctx.towns)))


# --- illustrative earlier years -----------------------------------------------------------

def place_in(gen, rng, ctx, region, town: int, area: float, placed: list, exact: bool):
    """A plot of about ``area`` m² centred in ``region`` (EPSG:4547) and wholly inside
    township ``town``, disjoint from ``placed``; scaled to exactly ``area`` with
    ``exact`` (the helpers of ``make_geodata`` are ``gen``'s)."""
    tree = shapely.STRtree(placed) if placed else None
    for _ in range(5000):
        centre = gen.random_point(rng, region)
        local = gen.plot_shape(rng, area)
        geom = gen.to_ll(affinity.translate(local, centre.x, centre.y))[0]
        if exact and gen.fits(ctx, geom, False, tree, town):
            geom = gen.scaled_to(local, centre, area)
        if geom is not None and gen.fits(ctx, geom, False, tree, town):
            return geom
    raise RuntimeError(f"could not place a plot in township {town}")


def prior_amounts(rng, done_mu: np.ndarray, step: float = 1.0) -> np.ndarray:
    """亩 per township for an earlier year, in multiples of ``step`` 亩: the 2023 amounts
    scaled by a factor of the category (``PRIOR_FACTOR``) and one of each township
    (``TOWN_SPREAD``)."""
    factor = rng.uniform(*PRIOR_FACTOR)
    raw = done_mu * rng.uniform(*TOWN_SPREAD, len(done_mu))
    total = round(factor * done_mu.sum() / step)
    quota = raw / raw.sum() * total
    out = np.floor(quota)
    out[np.argsort(-(quota - out), kind="stable")[: int(total - out.sum())]] += 1
    return out * step


def prior_year(gen, ctx, spec, done_mu: np.ndarray, year: int, seed: int):
    """Illustrative plots of ``spec`` for ``year``: per township, plots drawn like the
    2023 ones (same sizes and region) until its amount is reached, the last one scaled
    to fill it.  Returns geometries (4490) and attribute rows."""
    rng = np.random.default_rng(seed)
    step = 15.0 if CATEGORIES[spec.code].report_unit == "km2" else 1.0  # 0.01 km² or 1 亩
    amounts = prior_amounts(rng, done_mu, step)
    lo, hi = (m2_from_mu(v) for v in spec.size_mu)
    region = ctx.region(spec.region)
    placed: list = []
    town_of: list[int] = []
    for t in np.flatnonzero(amounts):
        inside = region.intersection(ctx.towns_gk[t])
        assert not inside.is_empty, (spec.code, t)
        target, total = m2_from_mu(amounts[t]), 0.0
        while True:
            want = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            final = False
            if target - total - want < lo:  # no room for one more
                remaining = target - total
                want, final = (remaining, True) if remaining <= hi else (remaining / 2, False)
            placed.append(place_in(gen, rng, ctx, inside, int(t), want, placed, final))
            town_of.append(int(t))
            total += float(areas_m2([placed[-1]], LL)[0])
            if final:
                break
    geoms, rows = gen.attributes(ctx, spec, placed, rng, town_of, year=year)
    for row in rows:
        row.update({"illustrative": 1, "note": PRIOR_NOTE.format(year=year)})
    return geoms, rows


def write_prior_years(gen, ctx, out: Path, done: dict) -> dict:
    """Write ``plots/illustrative/<code>_<year>.geojson`` for every restoration category
    and earlier year; returns {(code, year): 亩}."""
    folder = out / "plots" / "illustrative"
    folder.mkdir(parents=True, exist_ok=True)
    totals = {}
    specs = [s for s in gen.SPECS if s.code in RESTORATION]
    for year in PRIOR_YEARS:
        for k, spec in enumerate(specs):
            geoms, rows = prior_year(gen, ctx, spec, done[spec.code], year, seed=year * 100 + k)
            gen.write_geojson(folder / f"{spec.code}_{year}.geojson", rows, geoms)
            totals[spec.code, year] = float(mu_from_m2(areas_m2(geoms, LL).sum()))
            print(f"  {year} {spec.code}: {len(geoms)} plots, {totals[spec.code, year]:.2f} mu "
                  f"({totals[spec.code, year] / done[spec.code].sum():.0%} of 2023)")
    return totals


# --- 2023 targets -------------------------------------------------------------------------

def target_rows(names: list[str], report, done: dict) -> list[list]:
    """Rows (乡镇, 任务类别, 年度, 任务量, 单位, 备注) of the 2023 targets.

    Every category has one 全县 row, the county's task: the report's figure.  A split
    category then gives each township with 2023 plots its done rounded down to
    ``TARGET_STEP_MU`` 亩, so every township's target is at most its done; the few 亩
    the townships are not given stay with the county (县级统筹), as the 备注 says.  (The
    townships' done adds up to the report's figure, so round township targets adding up
    to it exactly could not all be met.)
    """
    rows = []
    for code in RESTORATION:
        if code not in report.index:
            continue
        cat, q = CATEGORIES[code], report.loc[code]
        unit, qty = str(q.unit), float(q.quantity)
        qty = int(qty) if qty == int(qty) else qty
        if code in COUNTY_ONLY:
            rows.append(["全县", cat.zh, 2023, qty, UNIT_TEXT[unit], COUNTY_ROW_NOTE])
            continue
        assert unit == "mu", code
        split = np.floor(done[code] / TARGET_STEP_MU) * TARGET_STEP_MU
        rest = round(qty - split.sum(), 1)
        assert 0 <= rest, code
        rest = int(rest) if rest == int(rest) else rest
        rows.append(["全县", cat.zh, 2023, qty, "亩", SPLIT_NOTE.format(
            split=int(split.sum()), rest=rest)])
        for name, mu in zip(names, split, strict=True):
            if mu > 0:
                rows.append([name, cat.zh, 2023, int(mu), "亩", None])
    return rows


def write_targets(path: Path, rows: list[list]) -> None:
    """The targets sheet as a county bureau writes it, byte-identical from run to run:
    a merged title row, a blank row, the header, the rows; fixed workbook properties and
    fixed zip entry times."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    wb = Workbook()
    ws = wb.active
    ws.title = "任务分解"
    ncol = len(TARGETS_HEADERS)
    ws.cell(1, 1, TARGETS_TITLE).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncol)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    for c, h in enumerate(TARGETS_HEADERS, 1):
        cell = ws.cell(3, c, h)
        cell.font, cell.border = Font(bold=True), box
        cell.alignment = Alignment(horizontal="center")
    for r, row in enumerate(rows, 4):
        for c, v in enumerate([r - 3, *row], 1):
            ws.cell(r, c, v).border = box
    for letter, width in zip("ABCDEFG", (6, 10, 26, 8, 10, 10, 34), strict=True):
        ws.column_dimensions[letter].width = width
    path.write_bytes(workbook_bytes(wb, title=TARGETS_TITLE))


def workbook_bytes(wb, *, title: str, modified: datetime = FIXED_TIME) -> bytes:
    """``wb`` as XLSX bytes that are the same on every run: fixed document properties and
    zip entry times (openpyxl and zipfile stamp the clock otherwise)."""
    from openpyxl.writer.excel import ExcelWriter

    props = wb.properties
    props.creator = props.lastModifiedBy = "大余县林业局"
    props.title = title
    props.created = props.modified = modified
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()
    # Same entries, in the same order, with a fixed time.
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
