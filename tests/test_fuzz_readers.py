"""Fuzzing the readers: damaged Shapefiles, zips, workbooks and coordinate cells.

Every mutated file goes through ``ecomap validate`` in-process (click's runner, with
exceptions turned into exit code 3 as in real use).  Whatever the damage, the answer
is an outcome — exit code 0, 1 or 2 — never a traceback or an internal error, and
every problem in the report names the file as the user sent it, never a server path.

Deterministic (``derandomize``, no example database) and bounded to about a minute.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.damaged import make_store, points_csv, points_workbook, shapefile, validate
from tests.uploads import shp_members, zip_files

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow])
_counter = itertools.count()


@pytest.fixture(scope="module")
def fuzz_dir():
    folder = Path(tempfile.mkdtemp(prefix="ecomap-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def store(fuzz_dir):
    return make_store(fuzz_dir / "ecomap.gpkg")


@pytest.fixture(scope="module")
def originals(fuzz_dir):
    """The undamaged files: a Shapefile's parts, its zip, an XLSX point table."""
    shp = shapefile(fuzz_dir / "orig", n=3)
    parts = {p.suffix: p.read_bytes() for p in shp.parent.glob(shp.stem + ".*")}
    archive = zip_files(fuzz_dir / "orig.zip", shp_members(shp)).read_bytes()
    book = points_workbook(fuzz_dir / "orig.xlsx", [["A", 114.01, 25.52, 2023],
                                                    ["B", 114.02, 25.53, 2023]]).read_bytes()
    return {"parts": parts, "zip": archive, "xlsx": book}


def fresh(fuzz_dir: Path) -> Path:
    folder = fuzz_dir / f"case-{next(_counter)}"
    folder.mkdir()
    return folder


def check(file: Path, store: Path) -> None:
    """An outcome, no traceback, the file named, no server path."""
    report = file.parent / "report.json"
    r = validate(file, store, "--report", str(report))
    # The last line names the report the user asked for, under their own folder.
    out = "\n".join(line for line in r.output.splitlines()
                    if not line.startswith(("report:", "报告:")))
    assert r.exit_code in (0, 1, 2), out
    assert "Traceback" not in out and "内部错误" not in out, out
    assert file.name in out
    assert str(file.parent) not in out and "ecomap-upload-" not in out, out
    if r.exit_code == 2 and not report.exists():
        return  # refused before a report (none here: validate reports every refusal)
    problems = json.loads(report.read_text(encoding="utf-8"))["problems"]
    for p in problems:
        assert file.name in p["message"], p
        assert str(file.parent) not in p["message"] and "ecomap-upload-" not in p["message"]


def mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    """``data`` with the byte at each position XOR-ed, then cut to ``cut`` bytes."""
    out = bytearray(data)
    for pos, mask in flips:
        if out:
            out[pos % len(out)] ^= mask
    return bytes(out[:cut] if cut is not None else out)


def positions(header: bool):
    # Headers: the first 100 bytes (.shp/.shx 100-byte header, DBF header + fields);
    # bodies: anywhere.
    pos = st.integers(0, 99) if header else st.integers(0, 1 << 20)
    return st.lists(st.tuples(pos, st.integers(1, 255)), min_size=1, max_size=6)


damage = st.tuples(st.booleans(), st.booleans()).flatmap(
    lambda hc: st.tuples(positions(hc[0]), st.none() if not hc[1] else st.integers(0, 4000)))


@FUZZ
@given(part=st.sampled_from([".shp", ".shx", ".dbf"]), how=damage)
def test_damaged_loose_shapefile(fuzz_dir, store, originals, part, how):
    folder = fresh(fuzz_dir)
    for suffix, data in originals["parts"].items():
        (folder / f"造林小班{suffix}").write_bytes(
            mutate(data, *how) if suffix == part else data)
    check(folder / "造林小班.shp", store)


@FUZZ
@given(how=damage)
def test_damaged_zip(fuzz_dir, store, originals, how):
    file = fresh(fuzz_dir) / "小班.zip"
    file.write_bytes(mutate(originals["zip"], *how))
    check(file, store)


@FUZZ
@given(part=st.sampled_from([".shp", ".shx", ".dbf", ".prj", ".cpg"]), how=damage)
def test_zip_with_a_damaged_member(fuzz_dir, store, originals, part, how):
    members = {f"成果/造林小班{s}": (mutate(d, *how) if s == part else d)
               for s, d in originals["parts"].items()}
    file = zip_files(fresh(fuzz_dir) / "小班.zip", members)
    check(file, store)


@FUZZ
@given(how=damage)
def test_damaged_workbook(fuzz_dir, store, originals, how):
    file = fresh(fuzz_dir) / "坐标.xlsx"
    file.write_bytes(mutate(originals["xlsx"], *how))
    check(file, store)


CELLS = ["", " ", "abc", "114.01", "25.52", "114.02", "25.53", "-", "--", "NaN", "inf",
         "1e999", "１１４．０１", "114°00'36\"E", "25°31'N", "北纬25.5", "114,01", "0",
         "500100.5", "2821000", "114.01.02", "—"]


@FUZZ
@given(rows=st.lists(st.tuples(st.sampled_from(CELLS), st.sampled_from(CELLS)),
                     min_size=1, max_size=5),
       kind=st.sampled_from(["csv", "xlsx"]))
def test_coordinate_cells(fuzz_dir, store, rows, kind):
    table = [[f"P{i}", x, y, "2023"] for i, (x, y) in enumerate(rows)]
    folder = fresh(fuzz_dir)
    if kind == "csv":
        file = points_csv(folder / "坐标.csv", table)
    else:
        file = points_workbook(folder / "坐标.xlsx", [[a, x or None, y or None, 2023]
                                                     for a, x, y, _ in table])
    check(file, store)
