"""Start-up: ``import ecomap`` and ``ecomap --help`` load no geo stack.

Each check runs in a fresh interpreter (this test process has long imported
everything) and prints the names in ``sys.modules`` when done.  Timings are not
asserted here: they are in the README.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("folium", "scipy", "geopandas", "rasterio")
#: Also left out of the start-up, though the issue does not insist on these.
ALSO_LIGHT = ("shapely", "pandas", "pyogrio", "pyproj", "mapclassify")

PRINT_MODULES = "import json, sys; print(json.dumps(sorted(sys.modules)))"


def loaded(code: str, *, cwd=None) -> set[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=cwd, timeout=120, check=True).stdout
    return {name.split(".")[0] for name in json.loads(out.splitlines()[-1])}


def run_cli(*args: str) -> str:
    """Code that runs ``ecomap ARGS`` (click's group, not in standalone mode) and then
    prints the loaded modules."""
    return ("import contextlib, io\n"
            "from ecomap.cli import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    cli.main({list(args)!r}, prog_name='ecomap', standalone_mode=False)\n"
            + PRINT_MODULES)


def test_import_ecomap_loads_no_geo_stack():
    modules = loaded("import ecomap\n" + PRINT_MODULES)
    assert "ecomap" in modules
    assert not modules & {*HEAVY, *ALSO_LIGHT}


def test_help_loads_no_geo_stack():
    modules = loaded(run_cli("--help"))
    assert "click" in modules
    assert not modules & {*HEAVY, *ALSO_LIGHT}


@pytest.mark.parametrize("cmd", [["summary"], ["map", "county"], ["water", "classify"],
                                 ["zonal"], ["store", "copy"], ["serve"], ["demo"],
                                 ["validate"]])
def test_command_help_loads_no_geo_stack(cmd):
    modules = loaded(run_cli(*cmd, "--help"))
    assert not modules & {*HEAVY, *ALSO_LIGHT}, cmd


def test_python_m_ecomap_help_loads_no_geo_stack():
    code = ("import contextlib, io, runpy, sys\n"
            "sys.argv = ['ecomap', '--help']\n"
            "try:\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        runpy.run_module('ecomap', run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert exc.code in (0, None), exc.code\n" + PRINT_MODULES)
    assert not loaded(code) & set(HEAVY)


def test_lazy_names_resolve():
    import ecomap
    from ecomap.api import summary
    from ecomap.store import open_store

    assert ecomap.summary is summary and ecomap.open_store is open_store
    assert set(ecomap.__all__) <= set(dir(ecomap))
    assert isinstance(ecomap.__version__, str) and ecomap.__version__
    with pytest.raises(AttributeError):
        ecomap.no_such_name  # noqa: B018


def test_summary_answers_a_geopackage_without_the_geo_stack(tmp_path):
    from ecomap.store import Provenance, open_store
    from tests.conftest import known_plots, two_townships

    with open_store(tmp_path / "ecomap.gpkg", create=True) as st:
        st.write_townships(two_townships(), provenance=Provenance("towns.geojson"))
        st.add_plots(known_plots(), provenance=Provenance("plots.geojson"))
    modules = loaded(run_cli("--store", "ecomap.gpkg", "summary"), cwd=tmp_path)
    assert not modules & set(HEAVY) and "shapely" not in modules
