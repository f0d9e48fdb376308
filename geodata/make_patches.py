"""The demo's forest-inspection patches of 2022 as the province sends them, and their
history as the townships report it back.

From ``plots/forest_inspection_patch_2023.geojson`` (the 35 patches the 2023 report
counts as rectified) this writes:

- ``patches_2022.zip``: a zipped Shapefile in GBK (with ``.cpg`` and ``.prj``) with the
  province's field names 图斑编号, 县, 乡镇, 村, 变化类型, 图斑面积, 前时相, 后时相;
- ``patch_events_2022.xlsx``: the bureau's table filled in (核实结果 违法 for all, the
  违法类型, 整改期限, 整改状态 已整改 — 已销号 for some, with 销号日期 —, 整改日期
  from the plots, 责任乡镇), read by ``ecomap patches update-from``.

Byte-identical from run to run (fixed dBASE date, zip entry times, workbook times).
Run: ``python geodata/make_patches.py`` (the demo reads both files as they are).
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import make_years  # beside this script: the deterministic workbook writer
import pyogrio

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "plots" / "forest_inspection_patch_2023.geojson"
PATCHES = HERE / "patches_2022.zip"
EVENTS = HERE / "patch_events_2022.xlsx"
ZIP_TIME = (2023, 1, 10, 9, 0, 0)
FIXED_TIME = dt.datetime(2023, 12, 15, 9, 0, 0)
#: The change seen from the satellite, by the kind of violation found on the ground.
CHANGE = {"毁林开垦": "乔木林地变为耕地", "违法采伐林木": "乔木林地变为无立木林地",
          "违法占用林地": "乔木林地变为建设用地"}
UNLAWFUL = {"毁林开垦": "违法开垦林地", "违法采伐林木": "违法采伐林木",
            "违法占用林地": "违法占用林地"}
TITLE = "大余县2022年度森林督查问题图斑核实整改情况表（示例）"
HEADERS = ["图斑编号", "乡镇", "村", "核实结果", "违法类型", "整改状态", "整改期限", "整改日期",
           "销号日期", "责任乡镇", "备注", "变更日期"]


def province_layer(src: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    rows = []
    for n, r in enumerate(src.itertuples(), start=1):
        rows.append({"图斑编号": f"360723-2022-{n:03d}", "县": "大余县", "乡镇": r.乡镇,
                     "村": r.村, "变化类型": CHANGE[r.问题类型], "图斑面积": round(r.面积_亩, 2),
                     "前时相": "2021-10-15", "后时相": "2022-10-20"})
    return gpd.GeoDataFrame(rows, geometry=list(src.geometry.values), crs=src.crs)


def write_zip(layer: gpd.GeoDataFrame) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        shp = Path(tmp) / "2022年森林督查变化图斑.shp"
        pyogrio.write_dataframe(layer, shp, encoding="GBK")
        dbf = shp.with_suffix(".dbf")
        data = bytearray(dbf.read_bytes())
        data[1:4] = bytes([123, 1, 10])  # dBASE "last update": 2023-01-10, not today
        dbf.write_bytes(bytes(data))
        if not shp.with_suffix(".cpg").exists():
            shp.with_suffix(".cpg").write_text("GBK", encoding="ascii")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for part in sorted(Path(tmp).iterdir()):
                info = zipfile.ZipInfo(part.name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.flag_bits |= 0x800  # UTF-8 names
                info.external_attr = 0o644 << 16
                zf.writestr(info, part.read_bytes())
        return buf.getvalue()


def event_rows(src: gpd.GeoDataFrame, layer: gpd.GeoDataFrame) -> list[list]:
    rows = []
    for i, (r, pid) in enumerate(zip(src.itertuples(), layer["图斑编号"], strict=True)):
        done = dt.date.fromisoformat(str(r.整改日期)[:10])
        deadline = dt.date(2023, 6, 30) if done <= dt.date(2023, 6, 30) else dt.date(2023, 11, 30)
        closed = done + dt.timedelta(days=30) if i % 3 == 0 and done < dt.date(2023, 9, 1) \
            else None
        rows.append([pid, r.乡镇, r.村, "违法", UNLAWFUL[r.问题类型],
                     "已销号" if closed else "已整改", deadline, done, closed, r.乡镇,
                     "2023年1月外业核实",
                     # Verified in the field in January 2023: the row's date of change;
                     # rectification and closing are dated by 整改日期 and 销号日期.
                     dt.date(2023, 1, 9 + i % 15)])
    return rows


def write_events(rows: list[list]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "图斑核实整改"
    ws.cell(1, 1, TITLE).font = Font(bold=True, size=14)
    ws.cell(1, 1).alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws.cell(2, 1, "说明：各乡镇林业站填报，县林业局汇总。日期格式 YYYY-MM-DD。")
    for c, h in enumerate(HEADERS, 1):
        ws.cell(3, c, h).font = Font(bold=True)
    for r, row in enumerate(rows, 4):
        for c, v in enumerate(row, 1):
            cell = ws.cell(r, c, v)
            if isinstance(v, dt.date):
                cell.number_format = "yyyy-mm-dd"
    for c, w in enumerate((16, 9, 9, 9, 14, 9, 12, 12, 12, 9, 18, 12), 1):
        ws.column_dimensions[ws.cell(3, c).column_letter].width = w
    return make_years.workbook_bytes(wb, title=TITLE, modified=FIXED_TIME)


def main() -> None:
    src = gpd.read_file(SOURCE).sort_values("小班号", kind="stable").reset_index(drop=True)
    layer = province_layer(src)
    PATCHES.write_bytes(write_zip(layer))
    EVENTS.write_bytes(write_events(event_rows(src, layer)))
    print(f"wrote {PATCHES.name} ({len(layer)} patches) and {EVENTS.name}")


if __name__ == "__main__":
    main()
