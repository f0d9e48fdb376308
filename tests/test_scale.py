"""The dask path (ecomap.scale) against the single-machine paths, on generated plots."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.components import need_module

need_module("dask_geopandas", "dask-geopandas", "the scale extra (dask-geopandas) is not installed")
need_module("distributed", "distributed", "the scale extra (distributed) is not installed")

from ecomap import scale  # noqa: E402
from ecomap.store import Provenance, open_store  # noqa: E402

BOUNDS = (114.0, 25.2, 114.6, 25.8)  # about 60 km × 67 km around Dayu


@pytest.fixture(scope="module")
def client():
    # In-process workers: the real distributed scheduler without a second start-up.
    with scale.connect(n_workers=1, threads_per_worker=2, processes=False) as c:
        yield c


@pytest.fixture(scope="module")
def generated():
    towns = scale.synthetic_townships(60, bounds=BOUNDS, seed=1)
    plots = scale.synthetic_plots(20_000, bounds=(113.98, 25.18, 114.62, 25.82), seed=2)
    return towns, plots


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    keys = ["township", "category", "year", "count"]

    def norm(df):
        df = df[keys].reset_index(drop=True).astype({"township": object, "category": object})
        return df.assign(township=df["township"].where(df["township"].notna(), None))

    pd.testing.assert_frame_equal(norm(a), norm(b), check_dtype=False)
    assert a["area_m2"].to_numpy() == pytest.approx(b["area_m2"].to_numpy(), rel=1e-10)


def test_dask_summary_equals_the_store_and_geopandas(generated, client, tmp_path):
    towns, plots = generated
    parts = scale.write_plots_parquet(plots, tmp_path / "plots", rows_per_partition=4_000)
    assert len(list(parts.glob("*.parquet"))) == 5
    got = scale.township_areas(parts, towns, client=client)
    # Plots over the outer edge keep their outside area under township None.
    assert got["township"].isna().any() and got["township"].iloc[0] is None
    assert got["count"].sum() == len(plots)
    _same(got, scale.township_areas_in_memory(plots, towns))
    # The store path on one year's plots (a fifth of them, to stay quick).
    with open_store(tmp_path / "s.gpkg", create=True) as st:
        st.write_townships(towns.assign(name_en="", kind="town", illustrative=1),
                           provenance=Provenance("towns"))
        st.add_plots(plots[plots["year"] == 2021], provenance=Provenance("plots"))
        _same(scale.township_areas(parts, towns, year=2021, client=client),
              st.township_areas())


def test_generated_partitions_are_compact_tiles(client, tmp_path):
    path = scale.write_synthetic_plots(3_000, tmp_path / "gen", rows_per_partition=1_000,
                                       bounds=BOUNDS, client=client)
    ddf = scale.read_plots_parquet(path)
    assert ddf.npartitions == 4  # a 2 × 2 grid of tiles
    frame = ddf.compute()
    assert len(frame) == 4 * 750 and {"area_m2", "category", "year"} <= set(frame.columns)
    widths = [p.geometry.total_bounds[2] - p.geometry.total_bounds[0]
              for p in (ddf.get_partition(i).compute() for i in range(4))]
    assert max(widths) < 0.31  # each partition within its half of the 0.6° extent


def test_store_parquet_and_summary_commands(filled_store, client, tmp_path):
    from click.testing import CliRunner

    from ecomap.cli import cli
    from ecomap.units import mu_from_m2

    runner = CliRunner()
    parts = tmp_path / "parts"
    result = runner.invoke(cli, ["store", "parquet", filled_store.location, str(parts),
                                 "--rows-per-partition", "2"])
    assert result.exit_code == 0, result.output
    assert len(list(parts.glob("*.parquet"))) == 2
    out = tmp_path / "summary.csv"
    result = runner.invoke(cli, ["store", "summary", str(parts), "--store",
                                 filled_store.location, "--scheduler",
                                 client.scheduler.address, "--year", "2023", "-o", str(out)])
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, encoding="utf-8-sig")
    want = filled_store.township_areas(year=2023)
    assert got["township"].tolist() == want["township"].tolist()
    assert got["count"].tolist() == want["count"].tolist()
    assert got["area_mu"].to_numpy() == pytest.approx(mu_from_m2(want["area_m2"]).to_numpy())
    # 甲镇 afforestation: 300 000 + 960 000 m² by hand.
    jia = got[(got["township"] == "甲镇") & (got["category"] == "afforestation")]
    assert jia["area_mu"].iloc[0] == pytest.approx(mu_from_m2(1_260_000))
