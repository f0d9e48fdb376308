"""Duplicates: the same file is stored once, a stored 小班号 is not stored again, and
``--replace BATCH`` swaps a batch for a new one in one transaction — on both backends.

Test plots are w × w metre squares in 甲镇 drawn in EPSG:4547 (tests/webapp.gbk_zip):
a 100 m square is 10 000 m² = 15 mu, a 200 m square 40 000 m² = 60 mu.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner

from ecomap.cli import cli
from ecomap.errors import InputError, ValidationError
from ecomap.i18n import use_lang
from ecomap.store import Provenance, open_store
from tests.conftest import known_plots
from tests.test_store_backends import BACKENDS, _refuse_splits, pg_schema, postgis_url  # noqa: F401
from tests.webapp import gbk_zip, make_store

MU = 10_000 / 15  # m² per mu


@pytest.fixture
def location(request, tmp_path):
    """A store (county and townships, no plots) on the parametrised backend."""
    if request.param == "gpkg":
        return str(make_store(tmp_path / "county.gpkg"))
    url = request.getfixturevalue("pg_schema")
    from tests.conftest import two_townships

    with open_store(url, create=True) as st:
        towns = two_townships()
        st.write_county(towns.dissolve().assign(name="测试县", adcode="000000")[
            ["name", "adcode", "geometry"]], provenance=Provenance("county.geojson"))
        st.write_townships(towns, provenance=Provenance("towns.geojson"))
    return url


backends = pytest.mark.parametrize("location", BACKENDS, indirect=True)


def ecomap(*args, lang="en"):
    return CliRunner().invoke(cli, [*map(str, args), "--lang", lang], catch_exceptions=False)


def ingest(location, path, *extra, lang="en"):
    return ecomap("ingest", path, "--store", location, "--category", "afforestation",
                  "--year", 2023, *extra, lang=lang)


def total_mu(location) -> float:
    r = ecomap("summary", "--store", location, "--year", 2023, "--format", "json")
    assert r.exit_code == 0, r.output
    return sum(rec["area_mu"] for rec in json.loads(r.output))


def plot_batches(location) -> list[int]:
    with open_store(location) as st:
        b = st.batches()
    return [int(i) for i in b.loc[b["kind"] == "plots", "batch_id"]]


def stored_batch(output: str) -> int:
    return int(re.search(r"stored as batch (\d+)", output).group(1))


@backends
def test_the_same_zip_twice_is_refused_and_totals_stay(location, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 3)  # 3 × 15 mu
    first = ingest(location, shp)
    assert first.exit_code == 0, first.output
    batch = stored_batch(first.output)
    assert total_mu(location) == pytest.approx(45.0)

    second = ingest(location, shp, "--report", tmp_path / "r.json")
    assert second.exit_code == 2, second.output
    assert "duplicate_file" in second.output
    # Names the stored batch, its file and (local) date, and the fix.
    (p,) = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["problems"]
    assert p["code"] == "duplicate_file" and p["feature"] is None
    today = dt.date.today().isoformat()
    assert f"batch {batch} (file plots.zip, stored {today})" in p["message"]
    assert f"add --replace {batch}" in p["message"]
    assert total_mu(location) == pytest.approx(45.0)
    assert plot_batches(location) == [batch]

    # The dry run says the same before anything is stored; in Chinese by default.
    dry = ecomap("validate", shp, "--store", location, "--year", 2023, "--report",
                 tmp_path / "dry.json", lang="zh")
    assert dry.exit_code == 2
    (p,) = json.loads((tmp_path / "dry.json").read_text(encoding="utf-8"))["problems"]
    assert f"与已入库的批次 {batch}(文件 plots.zip, {today} 入库)" in p["message"]


@backends
def test_replace_swaps_the_batches(location, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 3)
    old = stored_batch(ingest(location, shp).output)
    r = ingest(location, shp, "--replace", old)
    assert r.exit_code == 0, r.output
    assert f"replacing batch {old}" in r.output
    new = stored_batch(r.output)
    assert plot_batches(location) == [new] and new != old
    assert total_mu(location) == pytest.approx(45.0)  # one copy: 3 × 15 mu
    with open_store(location) as st:
        assert len(st.plots(batch=old)) == 0
        assert sorted(st.plots(batch=new)["plot_id"]) == ["XB001", "XB002", "XB003"]
        assert st.plot_splits()["area_m2"].sum() == pytest.approx(30_000, abs=0.5)


@backends
def test_a_corrected_file_replaces_without_duplicate_or_overlap_problems(location, tmp_path):
    old = stored_batch(ingest(location, gbk_zip(tmp_path, "v1", 3)).output)
    # The same 小班号, redrawn as 200 m squares over the old ones.
    fixed = gbk_zip(tmp_path, "v2", 3, w=200)
    r = ingest(location, fixed, "--replace", old)
    assert r.exit_code == 0, r.output
    assert "duplicate_stored" not in r.output and "overlaps_stored" not in r.output
    assert total_mu(location) == pytest.approx(3 * 60.0)
    assert len(plot_batches(location)) == 1


@backends
def test_a_stored_plot_id_is_a_feature_error_naming_the_batch(location, tmp_path):
    old = stored_batch(ingest(location, gbk_zip(tmp_path, "v1", 2)).output)  # XB001-2
    # Another file: XB002 again (elsewhere, no overlap) and the new XB003.
    other = gbk_zip(tmp_path, "v2", 3, y0=3000)
    dry = ecomap("validate", other, "--store", location, "--category", "afforestation",
                 "--year", 2023, "--report", tmp_path / "r.json")
    assert dry.exit_code == 1, dry.output
    problems = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["problems"]
    dups = [p for p in problems if p["code"] == "duplicate_stored"]
    assert {p["feature"] for p in dups} == {"XB001", "XB002"}
    assert all(p["severity"] == "error" and f"batch {old}" in p["message"] for p in dups)
    # Without --year the year comes from 年度 (2023 here): the same check.
    dry = ecomap("validate", other, "--store", location, "--report", tmp_path / "y.json")
    problems = json.loads((tmp_path / "y.json").read_text(encoding="utf-8"))["problems"]
    assert {p["feature"] for p in problems if p["code"] == "duplicate_stored"} == {
        "XB001", "XB002"}

    r = ingest(location, other)
    assert r.exit_code == 1, r.output
    with open_store(location) as st:
        new = st.plots(batch=stored_batch(r.output))
    assert new["plot_id"].tolist() == ["XB003"]
    assert total_mu(location) == pytest.approx(3 * 15.0)
    # The same 小班号 in another year (or category) is another plot.
    for category, year in (("afforestation", 2024), ("mine_remediation", 2023)):
        r = ecomap("ingest", gbk_zip(tmp_path, f"{category}{year}", 2), "--store", location,
                   "--category", category, "--year", year)
        assert r.exit_code in (0, 1) and "stored as batch" in r.output, r.output
        assert "duplicate_stored" not in r.output


@backends
def test_replace_that_fails_midway_keeps_the_old_batch(location, tmp_path):
    shp = gbk_zip(tmp_path, "plots", 3)
    old = stored_batch(ingest(location, shp).output)
    with open_store(location) as st:
        _refuse_splits(st)
    # The database's own refusal is no input problem: an internal error (exit code 3).
    r = ingest(location, gbk_zip(tmp_path, "v2", 3, w=200), "--replace", old)
    assert r.exit_code == 3 and "disk says no" in r.output, r.output
    assert plot_batches(location) == [old]
    assert total_mu(location) == pytest.approx(45.0)
    with open_store(location) as st:
        assert len(st.plots(batch=old)) == 3


@backends
def test_store_refuses_the_same_file_and_replaces_in_one_transaction(location):
    with open_store(location) as st, use_lang("en"):
        first = st.add_plots(known_plots(), provenance=Provenance("a.geojson", "1" * 64))
        with pytest.raises(ValidationError, match=f"batch {first}"):
            st.add_plots(known_plots(), provenance=Provenance("b.geojson", "1" * 64))
        with pytest.raises(InputError, match="no batch 999"):
            st.add_plots(known_plots(), provenance=Provenance("c.geojson", "2" * 64),
                         replace=999)
        with pytest.raises(InputError, match="holds townships"):
            st.add_plots(known_plots(), provenance=Provenance("c.geojson", "2" * 64),
                         replace=2)
        assert len(st.plots()) == 4 and len(st.batches()) == 3
        second = st.add_plots(known_plots(), provenance=Provenance("a.geojson", "1" * 64),
                              replace=first)
        b = st.batches()
        assert b.loc[b["kind"] == "plots", "batch_id"].tolist() == [second]
        assert set(st.plots()["batch_id"]) == {second}
        # 1 000 000 + 960 000 + 130 000 + 200 000 m² of known_plots, stored once.
        assert st.plot_splits()["area_m2"].sum() == pytest.approx(2_290_000, abs=1)
