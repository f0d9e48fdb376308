"""Damaged and hostile files: a clear refusal naming the file and the fix, never a
traceback, never a server path.  One case per test, each file built here.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.errors import InputError
from ecomap.io.tables import read_table
from tests.damaged import (
    copy_store,
    damage_member,
    make_store,
    points_csv,
    points_workbook,
    shapefile,
    validate,
    with_dtd,
    zipped_shapefile,
)
from tests.uploads import zip_files

MU = 10_000 / 15  # m² per mu


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("store") / "ecomap.gpkg")


@pytest.fixture
def store(template, tmp_path):
    return copy_store(template, tmp_path)


def assert_clean(result, file_name: str, *, exit_code: int = 2) -> None:
    """Refused (or as given) with the file named, no traceback, no temporary path."""
    out = result.output
    assert result.exit_code == exit_code, out
    assert "Traceback" not in out and "内部错误" not in out
    assert file_name in out
    assert "/tmp" not in out and "ecomap-upload-" not in out


def test_zip_member_with_damaged_deflate_stream(tmp_path, store):
    good = zipped_shapefile(tmp_path)
    bad = damage_member(good, ".dbf", tmp_path / "坏小班.zip")
    r = validate(bad, store)
    assert_clean(r, "坏小班.zip")
    assert "造林小班.dbf 已损坏" in r.output and "重新压缩" in r.output


def test_zip_member_name_not_utf8_though_flagged(tmp_path, store):
    # The UTF-8 flag set on a name whose bytes are not UTF-8: zipfile raises
    # UnicodeDecodeError while opening the archive.
    good = zip_files(tmp_path / "x.zip", {"é.shp": b"\x00" * 100})
    raw = good.read_bytes().replace("é".encode(), b"\xff\xfe")
    (tmp_path / "名称乱码.zip").write_bytes(raw)
    r = validate(tmp_path / "名称乱码.zip", store)
    assert_clean(r, "名称乱码.zip")
    assert "不是可读的 zip 压缩包" in r.output


def test_zip_holding_a_file_and_a_folder_of_the_same_name(tmp_path, store):
    good = zipped_shapefile(tmp_path)
    with zipfile.ZipFile(good) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["data"] = b"stray"
    members = {(f"data/{k}" if k != "data" else k): v for k, v in members.items()}
    zip_files(tmp_path / "同名.zip", members)
    r = validate(tmp_path / "同名.zip", store)
    assert_clean(r, "同名.zip")
    assert "data 既是文件又是文件夹" in r.output


def test_xlsx_with_damaged_deflate_stream(tmp_path, store):
    book = points_workbook(tmp_path / "ok.xlsx", [["A", 114.01, 25.52, 2023]])
    bad = damage_member(book, "sheet1.xml", tmp_path / "坏表.xlsx")
    r = validate(bad, store)
    assert_clean(r, "坏表.xlsx")
    assert "不是可读的 .xlsx 工作簿" in r.output and "另存为 .xlsx" in r.output


def test_xlsx_with_a_dtd_is_refused_not_expanded(tmp_path, store):
    book = points_workbook(tmp_path / "ok.xlsx", [["A", 114.01, 25.52, 2023]])
    evil = with_dtd(book, tmp_path / "实体.xlsx")
    r = validate(evil, store)
    assert_clean(r, "实体.xlsx")
    assert "含有 DTD" in r.output and "已拒绝" in r.output
    assert "AAAAAAAAAA" not in r.output and "root:" not in r.output
    # The water tables go through the same reader.
    with pytest.raises(InputError, match="DTD"):
        read_table(evil)


def test_xlsx_dtd_after_a_long_comment_is_found(tmp_path):
    book = points_workbook(tmp_path / "ok.xlsx", [["A", 114.01, 25.52, 2023]])
    evil = with_dtd(book, tmp_path / "e.xlsx", part="[Content_Types].xml")
    with zipfile.ZipFile(evil) as src, zipfile.ZipFile(tmp_path / "长注释.xlsx", "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"?>\n", b"?>\n<!--" + b"x" * 20_000 + b"-->", 1)
            dst.writestr(info, data)
    with pytest.raises(InputError, match="DTD") as err:
        read_table(tmp_path / "长注释.xlsx")
    assert "长注释.xlsx" in str(err.value)


def _point_table(tmp_path, kind, rows):
    if kind == "csv":
        return points_csv(tmp_path / "坐标.csv", rows)
    # As Excel holds them: numbers where the cell is a number, blanks as empty cells.
    cells = [[r[0], *(_excel_cell(v) for v in r[1:3]), int(r[3])] for r in rows]
    return points_workbook(tmp_path / "坐标.xlsx", cells)


def _excel_cell(text):
    try:
        return float(text)
    except ValueError:
        return text or None


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_point_table_with_a_blank_coordinate_cell(tmp_path, store, kind):
    path = _point_table(tmp_path, kind, [["A", "114.01", "25.52", "2023"],
                                         ["B", "", "25.53", "2023"]])
    r = validate(path, store)
    assert_clean(r, path.name)
    assert f"{path.name}: 小班 B: 没有图形" in r.output


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_point_table_with_unreadable_coordinate_cells(tmp_path, store, kind):
    # Row 3: longitude fine, latitude not a number (the case that made the coordinate
    # lists of different lengths).  Row 4: latitude in the longitude column.
    path = _point_table(tmp_path, kind, [["A", "114.01", "25.52", "2023"],
                                         ["C", "114.02", "abc", "2023"],
                                         ["D", "25°31'N", "114.03", "2023"]])
    r = validate(path, store)
    assert_clean(r, path.name)
    assert f"{path.name}：第3行：坐标「114.02, abc」无法读取" in r.output
    assert f"{path.name}：第4行：坐标「25°31'N, 114.03」无法读取" in r.output
    assert "请填十进制度（114.3583）或度分秒" in r.output


def test_water_sheet_naming_a_new_site_without_coordinates(tmp_path, store):
    sheet = tmp_path / "水质.csv"
    sheet.write_bytes("断面名称,点位类型,采样日期,pH\r\n新断面,河流,2023-07-01,7.1\r\n"
                      .encode("gbk"))
    r = CliRunner().invoke(cli, ["water", "ingest", str(sheet), "--store", str(store)])
    assert_clean(r, "水质.csv")
    assert "点位「新断面」不在库中，且没有经度、纬度；请补上坐标" in r.output


def test_gdal_message_names_the_file_not_the_server_folder(tmp_path, store):
    # GDAL names the file it could not recognise by its full path: the temporary folder
    # the archive was unpacked into.
    (tmp_path / "地块.geojson").write_bytes(b"\x07 this is no GeoJSON")
    archived = zip_files(tmp_path / "外业.zip", {"a/地块.geojson": tmp_path / "地块.geojson"})
    r = validate(archived, store)
    assert_clean(r, "外业.zip")
    assert "外业.zip: 地块.geojson：无法读取（'地块.geojson' not recognized" in r.output
    assert "It might help" not in r.output


def test_reading_a_workbook_under_another_name_shows_that_name(tmp_path):
    staged = tmp_path / "upload-3f9c.xlsx"
    staged.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(InputError) as err:
        read_table(staged, name="水质月报.xlsx")
    assert "水质月报.xlsx" in str(err.value) and "upload-3f9c" not in str(err.value)
    assert str(tmp_path) not in str(err.value)


def test_internal_error_is_one_line_with_exit_code_3(tmp_path, store, monkeypatch):
    import ecomap.ingest

    def broken(*args, **kwargs):
        raise RuntimeError("something ecomap did not expect")

    monkeypatch.setattr(ecomap.ingest, "validate_file", broken)
    good = zipped_shapefile(tmp_path)
    r = CliRunner().invoke(cli, ["validate", str(good), "--store", str(store)])
    assert r.exit_code == 3
    assert r.output.strip() == ("ecomap: 内部错误 (internal error, a bug — please report it "
                                "with this file): RuntimeError: something ecomap did not expect")
    verbose = CliRunner().invoke(cli, ["-v", "validate", str(good), "--store", str(store)])
    assert verbose.exit_code == 3
    assert "Traceback (most recent call last)" in verbose.output
    assert "in broken" in verbose.output


_NO_EXTRAS = """
import importlib.machinery
import sys

# The packages of the extras, as absent as on a plain `pip install .`: the path finder
# does not see them, so importing fails and importlib.util.find_spec says None.
HIDDEN = {"pyarrow", "dask", "dask_geopandas", "distributed", "rasterio", "exactextract",
          "psycopg", "fastapi", "uvicorn", "argon2", "matplotlib"}


class Hide(importlib.machinery.PathFinder):
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            return None
        return super().find_spec(name, path, target)


sys.meta_path[:] = [Hide if f is importlib.machinery.PathFinder else f for f in sys.meta_path]
from ecomap.cli import main
main(sys.argv[1:])
"""


def test_reads_and_stores_without_the_extras(tmp_path, store):
    """A plain install has no pyarrow (nor any other extra): validate, ingest, summary
    and the county map work, in a process where those packages cannot be imported."""
    import os
    import subprocess

    good = zipped_shapefile(tmp_path, n=3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ECOMAP_LANG": "zh",
           "COLUMNS": "200"}

    def ecomap(*args):
        return subprocess.run([sys.executable, "-c", _NO_EXTRAS, *map(str, args)],
                              capture_output=True, text=True, env=env, timeout=300,
                              cwd=tmp_path)

    r = ecomap("validate", good, "--store", store)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "面积 45.0 亩" in r.stdout  # 3 × 100 m × 100 m = 30 000 m² = 45 亩
    r = ecomap("ingest", good, "--store", store, "--category", "afforestation", "--year", 2023)
    assert r.returncode == 0, r.stdout + r.stderr
    r = ecomap("summary", "--store", store, "--year", 2023, "--format", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    jia = [x for x in json.loads(r.stdout) if x["township"] == "甲镇"]
    assert [(x["count"], x["area_mu"]) for x in jia] == [(3, pytest.approx(45.0, abs=0.01))]
    out = tmp_path / "county.html"
    r = ecomap("map", "county", "--store", store, "--year", 2023, "-o", out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "XB003" in out.read_text(encoding="utf-8")


def test_read_error_tuple_holds_only_documented_exceptions():
    """The reader's except clauses name what libraries raise for bad input, nothing broad."""
    from ecomap.io import archive, tables, vector

    for errors in (vector._READ_ERRORS, tables._XLSX_ERRORS, archive._MEMBER_ERRORS):
        assert Exception not in errors and RuntimeError not in errors
        assert ValueError not in errors and TypeError not in errors
    assert Path(vector.__file__).read_text(encoding="utf-8").count("except Exception") == 0


def test_a_coordinate_that_is_not_a_number_leaves_that_plot_out(tmp_path, store):
    # Found by the reader fuzzer: a flipped byte turned a vertex of a .shp into NaN.  The
    # first record's points start at byte 156 (100 file header + 8 record header + 4 type
    # + 32 box + 4 + 4 counts + 4 part index); the third point's y is at 156 + 2·16 + 8.
    import struct

    shp = shapefile(tmp_path, n=2)
    raw = bytearray(shp.read_bytes())
    raw[196:204] = struct.pack("<d", float("nan"))
    shp.write_bytes(bytes(raw))
    r = validate(shp, store, "--year", "2023")
    assert_clean(r, shp.name, exit_code=1)  # one plot left out, the other accepted
    assert "bad_coordinates" in r.output and "重新导出" in r.output
    assert "接受 1 个" in r.output


def test_patch_updates_workbook_with_a_dtd_or_damage_is_refused_unread(tmp_path, store):
    # The township's workbook goes through the same guard as every other workbook.
    from ecomap.errors import InputError
    from ecomap.patches.workbook import update_from
    from ecomap.store import open_store

    book = points_workbook(tmp_path / "表.xlsx", [["A", 114.01, 25.52, 2023]])
    hostile = with_dtd(book, tmp_path / "南安镇.xlsx")
    damaged = tmp_path / "坏表.xlsx"
    damaged.write_bytes(book.read_bytes()[:200])
    with open_store(store) as st:
        for path, words in ((hostile, "DTD"), (damaged, "不是可读的 .xlsx")):
            with pytest.raises(InputError) as exc:
                update_from(path, st, user="test")
            assert path.name in str(exc.value) and words in str(exc.value)
            assert st.patch_events().empty
