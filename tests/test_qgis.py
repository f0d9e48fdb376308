"""The store opens in QGIS looking like ecomap's maps: default styles and a project with
an A4 print layout inside the GeoPackage, written without QGIS.

The first tests read what ecomap wrote with plain SQLite; the last ones open the demo
store in QGIS itself (Debian's python3-qgis, offscreen, in a subprocess of
``/usr/bin/python3``): skipped without it, failed under CI.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ecomap import schema
from ecomap.qgis import write_qgis
from ecomap.store import Provenance, open_store
from tests.components import need_qgis

ROOT = Path(__file__).resolve().parents[1]
STYLED = {"county", "townships", "water_sites", "plots"}

# The water-class colours of the HTML map (ecomap.maps._style.WATER_COLORS), as drawn.
WATER = {"II": "#0068b7", "III": "#22ac38"}  # the demo sites' target classes


def rows(path, sql, params=()):
    with sqlite3.connect(path) as con:
        return con.execute(sql, params).fetchall()


def data_digest(path) -> str:
    """A digest of every data layer's rows (what the styles must never change)."""
    h = hashlib.sha256()
    with sqlite3.connect(path) as con:
        for layer in ("county", "townships", "plots", "plot_townships", "water_sites",
                      "water_samples", "batches"):
            for row in con.execute(f'SELECT * FROM "{layer}" ORDER BY fid'):
                h.update(repr(row).encode())
    return h.hexdigest()


def project_xml(path) -> str:
    (content,) = rows(path, "SELECT content FROM qgis_projects WHERE name = 'ecomap'")[0]
    archive = zipfile.ZipFile(io.BytesIO(bytes.fromhex(content)))
    (name,) = [n for n in archive.namelist() if n.endswith(".qgs")]
    return archive.read(name).decode("utf-8")


def test_a_new_store_has_default_styles_registered_as_qgis_does(store, store_path):
    styles = rows(store_path, "SELECT f_table_catalog, f_table_schema, f_table_name, "
                              "f_geometry_column, styleName, useAsDefault FROM layer_styles")
    assert sorted(styles) == sorted(("", "", t, "geom", "ecomap", 1) for t in STYLED)
    # Registered as GDAL registers it when QGIS creates the table: an attributes table
    # counted in gpkg_ogr_contents; the project table is not a GeoPackage table.
    assert rows(store_path, "SELECT data_type, identifier, srs_id FROM gpkg_contents "
                            "WHERE table_name = 'layer_styles'") == [("attributes",
                                                                      "layer_styles", 0)]
    assert rows(store_path, "SELECT feature_count FROM gpkg_ogr_contents "
                            "WHERE table_name = 'layer_styles'") == [(4,)]
    assert rows(store_path, "SELECT COUNT(*) FROM gpkg_contents "
                            "WHERE table_name = 'qgis_projects'") == [(0,)]
    # The store still reads as before: the extra tables are not layers of ecomap's.
    assert len(store.townships()) == 2


def test_project_reads_the_layers_from_the_file_beside_it(store, store_path):
    xml = project_xml(store_path)
    for layer in STYLED:
        assert f"<datasource>./{store_path.name}|layername={layer}</datasource>" in xml
    assert '<Absolute type="bool">false</Absolute>' in xml
    meta = json.loads(rows(store_path, "SELECT metadata FROM qgis_projects")[0][0])
    assert set(meta) == {"last_modified_time", "last_modified_user"}


def test_rewriting_is_idempotent_keeps_users_styles_and_never_touches_data(filled_store,
                                                                          store_path):
    with sqlite3.connect(store_path) as con:  # a style and a project the user saved
        con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, "
                    "f_table_name, f_geometry_column, styleName, styleQML, useAsDefault) "
                    "VALUES ('', '', 'plots', 'geom', 'mine', '<qgis/>', 0)")
        con.execute("INSERT INTO qgis_projects VALUES ('my map', '{}', '00')")
    before = data_digest(store_path)
    write_qgis(store_path)
    write_qgis(store_path, lang="en")
    assert data_digest(store_path) == before
    assert sorted(rows(store_path, "SELECT f_table_name, styleName FROM layer_styles")) == \
        sorted([(t, "ecomap") for t in STYLED] + [("plots", "mine")])
    assert sorted(rows(store_path, "SELECT name FROM qgis_projects")) == [("ecomap",),
                                                                          ("my map",)]
    assert rows(store_path, "SELECT feature_count FROM gpkg_ogr_contents "
                            "WHERE table_name = 'layer_styles'") == [(5,)]
    # The English rewrite names the categories in English.
    qml = rows(store_path, "SELECT styleQML FROM layer_styles WHERE f_table_name = 'plots' "
                           "AND styleName = 'ecomap'")[0][0]
    assert 'label="Afforestation"' in qml and "人工造林" not in qml


def test_plots_style_lists_every_category_so_later_ones_are_drawn(filled_store, store_path):
    write_qgis(store_path)
    qml = rows(store_path, "SELECT styleQML FROM layer_styles WHERE f_table_name = 'plots'")
    text = qml[0][0]
    # The test store holds two categories; a category stored later is drawn too, and
    # the print legend lists what its map shows.
    assert len(rows(store_path, "SELECT DISTINCT category FROM plots")) < 10
    for code, cat in schema.CATEGORIES.items():
        assert f'label="{cat.zh}" value="{code}"' in text, code
    assert 'legendFilterByMap="1"' in project_xml(store_path)
    # Field aliases from ecomap's labels.
    assert '<alias name="类别" field="category"' in text
    assert '<alias name="面积(亩)" field="area_mu"' in text


def test_store_qgis_command_and_postgis_refusal(filled_store, store_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "ecomap", "store", "qgis", "--store",
                           str(store_path), "--title", "测试县图"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Project" in done.stdout or "GeoPackage" in done.stdout
    assert "<title>测试县图</title>" in project_xml(store_path)
    refused = subprocess.run([sys.executable, "-m", "ecomap", "store", "qgis", "--store",
                              "postgresql://nobody@127.0.0.1:1/none"], capture_output=True,
                             text=True, env=env, timeout=300)
    assert refused.returncode == 2 and "GeoPackage" in refused.stderr


# --- in QGIS ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qgis_view(tmp_path_factory):
    """The demo store with its QGIS styles, as QGIS 3.22 opens it (one QGIS run)."""
    python = need_qgis()
    from ecomap.demo import build_demo_store, find_geodata

    work = tmp_path_factory.mktemp("qgis")
    # Built elsewhere and moved: the project must follow the file.
    built = build_demo_store(find_geodata(ROOT / "geodata"), work / "build" / "dayu.gpkg",
                             user="test")
    write_qgis(built, date="2024-03-01")
    store = work / "moved" / "dayu.gpkg"
    store.parent.mkdir()
    built.rename(store)
    out = work / "out"
    out.mkdir()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(work)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run([python, str(ROOT / "tests" / "qgis_probe.py"), str(store),
                           str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return store, out, report


def test_qgis_opens_every_layer_valid_in_cgcs2000(qgis_view):
    _, _, report = qgis_view
    for name, layer in report["layers"].items():
        assert layer["valid"], name
        assert layer["crs"] in ("EPSG:4490", None), name
    store, _, _ = qgis_view
    assert report["layers"]["plots"]["features"] == rows(store, "SELECT COUNT(*) FROM plots")[0][0]


def test_plots_load_categorised_with_chinese_names_and_html_map_colours(qgis_view):
    store, _, report = qgis_view
    plots = report["layers"]["plots"]
    assert plots["renderer"] == "categorizedSymbol" and plots["attr"] == "category"
    stored = [c for c in schema.CATEGORIES
              if c in {r[0] for r in rows(store, "SELECT DISTINCT category FROM plots")}]
    assert len(stored) == 10
    assert [c[:3] for c in plots["categories"]] == [
        [code, schema.CATEGORIES[code].zh, schema.CATEGORIES[code].color] for code in stored]
    # Patrol areas are outlines only and off at first, as on the HTML map; the others
    # are filled and on.
    styles = {c[0]: c[3:] for c in plots["categories"]}
    assert styles["forest_ranger"] == ["no", False]
    assert {tuple(s) for code, s in styles.items() if code != "forest_ranger"} == {
        ("solid", True)}
    assert plots["aliases"]["category"] == "类别" and plots["aliases"]["year"] == "年度"
    assert plots["aliases"]["area_mu"] == "面积(亩)" and plots["aliases"]["plot_id"] == "小班号"


def test_townships_labelled_with_a_halo_and_water_sites_by_class(qgis_view):
    _, _, report = qgis_view
    towns = report["layers"]["townships"]
    assert towns["labels"] and towns["label_field"] == "name" and towns["label_halo"]
    assert towns["aliases"]["name"] == "乡镇"
    water = report["layers"]["water_sites"]
    assert water["renderer"] == "categorizedSymbol" and water["attr"] == "target_class"
    by_class = {c[0]: c[1:3] for c in water["categories"]}
    assert [c[0] for c in water["categories"]] == ["I", "II", "III", "IV", "V", "劣V", ""]
    assert by_class["II"] == ["II类", WATER["II"]] and by_class["III"] == ["III类", WATER["III"]]
    assert by_class["劣V"] == ["劣V类", "#e60012"]


def test_project_opens_from_the_moved_geopackage_in_map_order(qgis_view):
    store, _, report = qgis_view
    assert report["project_read"]
    assert report["project_crs"] == "EPSG:4547"  # Dayu's 3-degree Gauss-Kruger zone
    for name, layer in report["project_layers"].items():
        assert layer["valid"] and layer["crs"] == "EPSG:4490", name
        assert layer["source"].startswith(str(store)), layer["source"]
    assert [t[0] for t in report["tree"]] == ["county", "townships", "water_sites", "plots"]
    assert all(t[2] for t in report["tree"])
    # The plots of the latest year, as on the county map (a filter the user can change).
    last = rows(store, "SELECT MAX(year) FROM plots")[0][0]
    plots = next(v for v in report["project_layers"].values()
                 if v["source"].split("layername=")[-1].startswith("plots"))
    assert plots["features"] == rows(store, "SELECT COUNT(*) FROM plots WHERE year = ?",
                                     (last,))[0][0]
    assert report["tree"][0][3] == report["tree"][1][3] == "界线"


def test_print_layout_exports_an_a4_pdf_with_title_and_legend(qgis_view):
    _, out, report = qgis_view
    assert report["layouts"] == ["县域图(A4)"]
    assert report["page_mm"] == [297.0, 210.0]
    assert report["layout_items"] == sorted(
        ["QgsLayoutItemMap", "QgsLayoutItemLabel", "QgsLayoutItemLabel",
         "QgsLayoutItemLegend", "QgsLayoutItemScaleBar", "QgsLayoutItemPicture"])
    assert report["legend_outside_map"] and report["north_linked"] and report["scalebar_linked"]
    assert report["pdf_export"] == 0  # QgsLayoutExporter.Success
    text = subprocess.run(["pdftotext", "-layout", str(out / "layout.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    last = rows(qgis_view[0], "SELECT MAX(year) FROM plots")[0][0]
    assert f"大余县生态修复“落地上图”({last})" in flat
    # The legend lists the categories drawn: all but the patrol areas, which are off.
    for cat in schema.CATEGORIES.values():
        assert (cat.zh in flat) == (cat.kind != "patrol"), cat.zh
    assert "图例" in flat and "乡镇界(示意)" in flat and "县界" in flat
    assert "乡镇界为示意" in flat and "2024-03-01" in flat
    assert report["canvas_saved"] and (out / "canvas.png").stat().st_size > 10_000


def test_a_store_added_to_afterwards_keeps_working(tmp_path):
    # A store created with styles takes data as before, and a rewrite follows the data.
    path = tmp_path / "later.gpkg"
    from tests.conftest import known_plots, two_townships

    with open_store(path, create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("t.geojson", user="t"))
        st.add_plots(known_plots(), provenance=Provenance("p.geojson", "1" * 64, "t"))
        assert len(st.plots()) == 4
    write_qgis(path)
    assert "<layername>乡镇界(示意)</layername>" in project_xml(path) or \
        "<layername>乡镇界</layername>" in project_xml(path)


def test_a_style_qgis_saved_survives_ecomaps_rewrite(qgis_view):
    store, _, report = qgis_view
    assert report["user_style_error"] == ""
    mine = rows(store, "SELECT styleQML, useAsDefault FROM layer_styles "
                       "WHERE f_table_name = 'plots' AND styleName = 'mine'")
    assert len(mine) == 1 and mine[0][0].startswith("<!DOCTYPE qgis")
    write_qgis(store)
    assert rows(store, "SELECT styleQML, useAsDefault FROM layer_styles "
                       "WHERE f_table_name = 'plots' AND styleName = 'mine'") == mine
    assert rows(store, "SELECT COUNT(*) FROM layer_styles WHERE styleName = 'ecomap'") == [(4,)]
