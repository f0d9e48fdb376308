"""``ecomap zonal`` / ``ecomap change`` through click's runner, on the test store.

The raster covers both test townships (x 490 000…510 000, y 2 820 000…2 830 000 in
EPSG:4547) with 100 m pixels, 200 columns × 100 rows; pixel values are row numbers, so
the expected means follow from the plots' positions (tests/conftest.py):

* S-30-70, y 2 823 000…2 824 000: rows 60–69 whole, mean 64.5, 100 pixels; 30 % of it
  lies west of x = 500 000 (column 100);
* HOLE, y 2 821 000…2 822 000 (rows 80–89) less a 200 m hole over rows 84–85 and two
  columns: (10·845 − 2·(84 + 85)) / 96 = 84.5;
* 甲镇 covers rows 0–99 of columns 0–99: mean 49.5.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.store import Provenance, open_store
from tests.conftest import known_plots, two_townships
from tests.rasters import write_tif

GRID = Affine(100.0, 0, 490_000.0, 0, -100.0, 2_830_000.0)
ROWS = np.repeat(np.arange(100, dtype=np.float32)[:, None], 200, axis=1)


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
    """One store and raster for the module (building a store takes a second)."""
    d = tmp_path_factory.mktemp("raster_cli")
    with open_store(d / "ecomap.gpkg", create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
        st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
    write_tif(d / "rows.tif", ROWS, transform=GRID)
    return d


@pytest.fixture
def workdir(shared_dir, monkeypatch):
    """The shared directory as working directory; each test writes files of its own."""
    monkeypatch.chdir(shared_dir)
    monkeypatch.delenv("ECOMAP_STORE", raising=False)
    monkeypatch.delenv("ECOMAP_LANG", raising=False)
    return shared_dir


def js(text: str) -> str:
    return json.dumps(text)[1:-1]


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("cmd", [["zonal"], ["change"]])
def test_help(cmd):
    r = run(*cmd, "--help")
    assert r.exit_code == 0 and "Usage:" in r.output


def test_zonal_plots_json(workdir):
    r = run("zonal", "rows.tif", "--year", "2023", "--stats", "mean,count,min,max",
            "-o", "zonal.json")
    assert r.exit_code == 0, r.output
    recs = {x["plot_id"]: x for x in json.loads((workdir / "zonal.json").read_text("utf-8"))}
    assert set(recs) == {"S-30-70", "HOLE", "MULTI"}
    assert recs["S-30-70"]["mean"] == pytest.approx(64.5, abs=1e-9)
    assert recs["S-30-70"]["count"] == pytest.approx(100.0, abs=1e-9)
    assert recs["HOLE"]["mean"] == pytest.approx(84.5, abs=1e-9)
    assert recs["HOLE"]["count"] == pytest.approx(96.0, abs=1e-9)
    assert (recs["HOLE"]["min"], recs["HOLE"]["max"]) == (80, 89)


def test_zonal_townships_printed_in_chinese(workdir):
    r = run("zonal", "rows.tif", "--layer", "townships", "--stats", "mean")
    assert r.exit_code == 0, r.output
    assert "乡镇" in r.output and "均值" in r.output
    line = next(x for x in r.output.splitlines() if x.strip().startswith("甲镇"))
    assert float(line.split()[-1]) == pytest.approx(49.5)


def test_zonal_categorical_share_per_plot(workdir):
    classes = np.where(np.arange(200)[None, :] < 100, 1, 2).repeat(100, axis=0).astype("uint8")
    write_tif(workdir / "lc.tif", classes, transform=GRID)
    r = run("zonal", "lc.tif", "--categorical", "--category", "afforestation", "-o", "lc.csv")
    assert r.exit_code == 0, r.output
    text = (workdir / "lc.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert "1类占比" in text[0] and "2类占比" in text[0]
    s3070 = next(x for x in text if x.startswith("S-30-70")).split(",")
    assert [float(v) for v in s3070[-2:]] == pytest.approx([0.3, 0.7])


def test_change_table_flags_and_map(workdir):
    after = ROWS + 0.1
    after[80:90, :] -= 0.15  # HOLE loses 0.05
    write_tif(workdir / "after.tif", after, transform=GRID)
    r = CliRunner().invoke(cli, ["change", "rows.tif", "after.tif", "--year", "2023",
                                 "-o", "change.csv", "--map", "out/change.html"])
    assert r.exit_code == 0, r.output
    assert "1 个未增长" in r.output
    rows = (workdir / "change.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert rows[0].split(",")[-6:-2] == ["前期均值", "后期均值", "变化", "判定"]
    hole = next(x for x in rows if x.startswith("HOLE")).split(",")
    assert float(hole[-4]) == pytest.approx(-0.05, abs=1e-6) and hole[-3] == "未增加"
    html = (workdir / "out" / "change.html").read_text("utf-8")
    assert "data:image/png;base64," in html and "ecomap-colorbar" in html
    # Layer names and legends sit in scripts as JSON strings (\uXXXX escapes).
    assert js("NDVI变化(后期−前期)") in html and js("未见增加的小班") in html


@pytest.mark.parametrize("case, message, zh", [
    ("elsewhere", "elsewhere.tif covers", "elsewhere.tif 覆盖"),
    ("nocrs", "nocrs.tif has no coordinate reference system", "nocrs.tif 没有坐标系"),
    ("broken", "broken.tif: cannot be read as a raster", "broken.tif: 无法作为栅格读取"),
    ("missing", "missing.tif: no such file", "missing.tif: 文件不存在"),
])
def test_errors_name_the_file_and_exit_2(workdir, case, message, zh):
    """In Chinese by default, in English with --lang en."""
    if case == "elsewhere":
        write_tif(workdir / "elsewhere.tif", ROWS,
                  transform=Affine(100.0, 0, 300_000.0, 0, -100.0, 3_500_000.0))
    elif case == "nocrs":
        write_tif(workdir / "nocrs.tif", ROWS, transform=GRID, crs=None)
    elif case == "broken":
        (workdir / "broken.tif").write_bytes(b"not a raster")
    r = CliRunner().invoke(cli, ["zonal", f"{case}.tif"])
    assert r.exit_code == 2
    assert zh in r.output
    r = CliRunner().invoke(cli, ["zonal", f"{case}.tif", "--lang", "en"])
    assert r.exit_code == 2
    assert message in r.output


def test_raster_crs_option_supplies_a_missing_crs(workdir):
    write_tif(workdir / "nocrs.tif", ROWS, transform=GRID, crs=None)
    r = run("zonal", "nocrs.tif", "--raster-crs", "EPSG:4547", "--layer", "townships",
            "--stats", "mean", "-o", "t.json", "--lang", "en")
    assert r.exit_code == 0, r.output
    recs = json.loads((workdir / "t.json").read_text("utf-8"))
    assert [x["mean"] for x in recs] == pytest.approx([49.5, 49.5])
