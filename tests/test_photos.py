"""Evidence photos: EXIF read from JPEGs made here with Pillow, attached to the known
squares of conftest, stored on both backends, refused with the reason, shown in popups
within a size budget.

Positions are chosen in Gauss-Kruger metres (EPSG:4547) and written into the EXIF as
WGS 84 degrees (taken as CGCS2000, as ecomap does).  The plot OLD is the square
x 506 000–506 500, y 2 826 000–2 826 400 (X0 + 6000, Y0 + 6000, 500 × 400 m); the
test patch DY2022-007 (made here, as the patches layer will be) is the square
x 502 000–502 100, y 2 828 000–2 828 100.
"""

from __future__ import annotations

import io
import json

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational
from shapely.geometry import MultiPolygon

from ecomap.cli import cli
from ecomap.crs import transform_xy
from ecomap.errors import InputError
from ecomap.photos import (
    PopupBudget,
    add_photos,
    attach_photo,
    id_in_name,
    photo_popup_html,
    read_photo,
)
from ecomap.store import open_store
from tests import test_store_backends as backends
from tests.conftest import GK, X0, Y0, known_plots, plot

BACKENDS = backends.BACKENDS
location, bstore = backends.location, backends.bstore
pg_schema, postgis_url = backends.pg_schema, backends.postgis_url

OLD = (X0 + 6000, Y0 + 6000, X0 + 6500, Y0 + 6400)  # the plot OLD, in GK metres
PATCH = "DY2022-007"


def lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = transform_xy([x], [y], GK, "EPSG:4490")
    return float(lon[0]), float(lat[0])


def _dms(value: float) -> tuple:
    deg = int(value)
    minutes = int((value - deg) * 60)
    sec = (value - deg - minutes / 60) * 3600
    return (IFDRational(deg), IFDRational(minutes), IFDRational(round(sec * 1_000_000),
                                                                1_000_000))


def jpeg(*, at=None, when="2023:06:15 10:30:00", offset=None, size=(640, 480),
         colour=(90, 140, 80), refs=("N", "E")) -> bytes:
    """A JPEG with EXIF: GPS at ``at`` = (x, y) in GK metres (or lon/lat when refs are
    given as S/W), DateTimeOriginal ``when`` and OffsetTimeOriginal ``offset``."""
    im = Image.new("RGB", size, colour)
    for i in range(0, size[0], 40):  # some detail, so the JPEG is not trivially small
        im.paste((i % 255, 200 - i % 200, 60), (i, 0, i + 20, size[1] // 2))
    exif = Image.Exif()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    if when:
        sub[0x9003] = when
    if offset:
        sub[0x9011] = offset
    if at is not None:
        lon, lat = lonlat(*at) if refs == ("N", "E") else at
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        gps[1], gps[2] = refs[0], _dms(abs(lat))
        gps[3], gps[4] = refs[1], _dms(abs(lon))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def patch_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"patch_id": [PATCH], "year": [2022], "township": ["乙镇"]},
                            geometry=[MultiPolygon([plot(2000, 8000, 100, 100)])],
                            crs=GK).to_crs(4490)


def add_patches_table(st) -> None:
    """The patch of :func:`patch_frame` stored as the patches part of the store does."""
    from ecomap.store import Provenance

    gdf = patch_frame().assign(village=None, area_mu=15.0, change_type=None, attributes="{}")
    st.store_patches(gdf, year=2022, provenance=Provenance("patches.zip", "p" * 64, "test"))


def old_fid(st) -> str:
    plots = st.plots()
    return str(int(plots.loc[plots["plot_id"] == "OLD", "fid"].iloc[0]))


@pytest.fixture
def bplots(bstore):
    from ecomap.store import Provenance

    bstore.add_plots(known_plots(), provenance=Provenance("plots.geojson", "0" * 64, "test"))
    return bstore


def add(st, named: dict[str, bytes], **kw):
    return add_photos(list(named.items()), st, user="test", **kw)


# --- reading ----------------------------------------------------------------------------
def test_exif_position_and_time_with_offset(english):
    info = read_photo(jpeg(at=(114.25, 25.5), refs=("S", "W"), offset="+07:00"),
                      file_name="a.jpg")
    assert info.lon == pytest.approx(-114.25, abs=1e-9)
    assert info.lat == pytest.approx(-25.5, abs=1e-9)
    assert info.taken_at == "2023-06-15T10:30:00+07:00"
    assert (info.width, info.height) == (640, 480)


def test_time_without_offset_is_the_bureaus_local_time():
    info = read_photo(jpeg(when="2023:01:02 08:00:00"), file_name="a.jpg")
    assert info.taken_at == "2023-01-02T08:00:00+08:00"  # Asia/Shanghai
    assert not info.has_position
    other = read_photo(jpeg(when="2023:01:02 08:00:00"), file_name="a.jpg",
                       timezone="Asia/Kathmandu")
    assert other.taken_at == "2023-01-02T08:00:00+05:45"


def test_thumbnail_and_stored_copy_are_bounded():
    big = jpeg(size=(4000, 3000))
    info = read_photo(big, file_name="big.jpg")
    assert (info.width, info.height) == (4000, 3000)  # the original's size
    thumb = Image.open(io.BytesIO(info.thumbnail))
    assert thumb.size == (320, 240)
    copy = Image.open(io.BytesIO(info.image))
    assert copy.size == (1600, 1200)
    small = jpeg(size=(800, 600))
    assert read_photo(small, file_name="s.jpg").image == small  # kept as sent


@pytest.mark.parametrize("data", [b"not a photo at all", None, "png"])
def test_damaged_or_not_jpeg_refused_naming_the_file(data):
    if data is None:
        data = jpeg()[:300]  # cut off inside the image data
    elif data == "png":
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, "PNG")
        data = out.getvalue()
    with pytest.raises(InputError, match="坏掉的照片.jpg"):
        read_photo(data, file_name="坏掉的照片.jpg")


def test_corrupt_exif_reads_as_a_photo_without_position():
    out = io.BytesIO()  # an EXIF block whose GPS IFD points past its end
    Image.new("RGB", (64, 48), (9, 99, 9)).save(
        out, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05\x88\x25"
                          b"\x00\x04\x00\x00\x00\x01\xff\xff\xff\x00")
    info = read_photo(out.getvalue(), file_name="坏EXIF.jpg")  # no warning escapes
    assert not info.has_position and info.taken_at is None
    assert (info.width, info.height) == (64, 48)


def test_id_in_name():
    assert id_in_name("DY2022-007_现场.jpg") == PATCH
    assert id_in_name("DY2022-007 整改后.JPG") == PATCH
    assert id_in_name("DY2022-007.jpeg") == PATCH
    assert id_in_name("IMG_0001.jpg") == "IMG"  # not a stored patch: ignored when matching


# --- attaching and storing, both backends -----------------------------------------------
@pytest.mark.parametrize("location", BACKENDS, indirect=True)
def test_position_inside_nearest_and_too_far(bplots):
    cy = (OLD[1] + OLD[3]) / 2
    got = add(bplots, {
        "inside.jpg": jpeg(at=((OLD[0] + OLD[2]) / 2, cy)),
        "east30.jpg": jpeg(at=(OLD[2] + 30, cy), colour=(1, 2, 3)),   # 30 m east of OLD
        "east200.jpg": jpeg(at=(OLD[2] + 200, cy), colour=(4, 5, 6)),  # 200 m: too far
    })
    fid = old_fid(bplots)
    inside, east30, east200 = got.results
    assert (inside.kind, inside.key, inside.how) == ("plot", fid, "inside")
    assert (east30.kind, east30.key, east30.how) == ("plot", fid, "nearest")
    assert east30.distance_m == pytest.approx(30.0, abs=0.05)
    assert not east200.stored and "50 米" in east200.reason and "east200.jpg" in east200.reason
    stored = bplots.photos(thumbnails=True)
    assert stored["file_name"].tolist() == ["inside.jpg", "east30.jpg"]
    assert set(stored["target_key"]) == {fid} and set(stored["target_kind"]) == {"plot"}
    assert stored["batch_id"].tolist() == [got.batch_id] * 2
    assert stored["taken_at"].tolist() == ["2023-06-15T10:30:00+08:00"] * 2
    lon, lat = lonlat((OLD[0] + OLD[2]) / 2, cy)
    assert stored["lon"].iloc[0] == pytest.approx(lon, abs=1e-9)
    assert stored["lat"].iloc[0] == pytest.approx(lat, abs=1e-9)
    assert Image.open(io.BytesIO(stored["thumbnail"].iloc[0])).size == (320, 240)
    image = bplots.photo_image(stored["photo_id"].iloc[0])
    assert image == jpeg(at=((OLD[0] + OLD[2]) / 2, cy))  # 640 px: kept as sent
    batch = bplots.batches().iloc[-1]
    assert batch["kind"] == "photos" and int(batch["feature_count"]) == 2


@pytest.mark.parametrize("location", BACKENDS, indirect=True)
def test_named_patch_and_duplicate_refused_naming_where(bplots):
    add_patches_table(bplots)
    cy = (OLD[1] + OLD[3]) / 2
    far = jpeg(at=(OLD[2] + 200, cy), colour=(7, 8, 9))
    first = add(bplots, {
        f"{PATCH}_整改后.jpg": far,                          # 200 m from OLD: the name wins
        f"{PATCH}_无位置.jpg": jpeg(colour=(10, 20, 30)),    # no position, named
        "IMG_0001.jpg": jpeg(colour=(40, 50, 60)),           # no position, no ID
        "in_patch.jpg": jpeg(at=(X0 + 2050, Y0 + 8050), colour=(70, 80, 90)),
    })
    named, no_pos, nothing, in_patch = first.results
    assert (named.kind, named.key, named.how) == ("patch", PATCH, "name")
    assert named.warning and "米" in named.warning  # far from the patch it names
    assert (no_pos.kind, no_pos.key, no_pos.how) == ("patch", PATCH, "name")
    assert nothing.reason == ("照片 IMG_0001.jpg 没有位置信息; 请在文件名中写明图斑编号 "
                              "(如 图斑编号_说明.jpg)")
    assert (in_patch.kind, in_patch.key, in_patch.how) == ("patch", PATCH, "inside")
    again = add(bplots, {"copy.jpg": far, "new.jpg": jpeg(colour=(99, 99, 99))})
    dup, new = again.results
    assert not dup.stored
    assert f"批次 {first.batch_id}" in dup.reason and f"图斑 {PATCH}" in dup.reason
    assert "copy.jpg" in dup.reason
    assert not new.stored  # no position, no ID
    assert again.batch_id is None
    assert len(bplots.photos(target_kind="patch", target_key=PATCH)) == 3


@pytest.mark.parametrize("location", BACKENDS, indirect=True)
def test_rollback_removes_the_batchs_photos(bplots):
    cy = (OLD[1] + OLD[3]) / 2
    one = add(bplots, {"a.jpg": jpeg(at=(OLD[0] + 10, cy))})
    two = add(bplots, {"b.jpg": jpeg(at=(OLD[0] + 20, cy), colour=(1, 1, 1))})
    assert len(bplots.photos()) == 2
    removed = bplots.rollback(one.batch_id)
    assert removed["removed"] == {"photos": 1}
    assert bplots.photos()["file_name"].tolist() == ["b.jpg"]
    assert bplots.photos(batch=two.batch_id)["file_name"].tolist() == ["b.jpg"]
    again = add(bplots, {"a.jpg": jpeg(at=(OLD[0] + 10, cy))})  # may be stored again now
    assert again.batch_id is not None


def test_a_plot_named_by_its_plot_id(filled_store):
    cy = (OLD[1] + OLD[3]) / 2
    got = add(filled_store, {"OLD_验收.jpg": jpeg(),  # no position: the name says where
                             "HOLE 远景.jpg": jpeg(at=(OLD[2] + 10, cy), colour=(5, 50, 5))})
    plots = filled_store.plots().set_index("plot_id")["fid"].astype(str)
    assert [(r.kind, r.key, r.how) for r in got.results] == [
        ("plot", plots["OLD"], "name"), ("plot", plots["HOLE"], "name")]
    assert got.results[0].name == "OLD"
    assert "地块" in got.results[1].warning  # taken by OLD, 10 m from it, far from HOLE


@pytest.mark.parametrize("location", BACKENDS, indirect=True)
def test_a_plot_batch_with_photos_is_not_rolled_back_first(bplots):
    from ecomap.errors import ValidationError

    cy = (OLD[1] + OLD[3]) / 2
    photos = add(bplots, {"a.jpg": jpeg(at=(OLD[0] + 10, cy))})
    plot_batch = int(bplots.plots()["batch_id"].iloc[0])
    with pytest.raises(ValidationError, match=f"照片批次 {photos.batch_id}"):
        bplots.rollback(plot_batch)
    assert len(bplots.plots()) == 4  # nothing removed
    bplots.rollback(photos.batch_id)
    assert bplots.rollback(plot_batch)["removed"]["plots"] == 4


def test_same_photo_twice_in_one_upload(filled_store):
    cy = (OLD[1] + OLD[3]) / 2
    data = jpeg(at=(OLD[0] + 10, cy))
    got = add(filled_store, {"a.jpg": data, "a (1).jpg": data})
    assert got.results[0].stored and not got.results[1].stored
    assert "a.jpg" in got.results[1].reason
    assert len(filled_store.photos()) == 1


def test_two_targets_within_tolerance_nearest_with_warning():
    targets = gpd.GeoDataFrame(
        {"kind": ["plot", "plot"], "key": ["1", "2"]},
        geometry=[plot(0, 0, 100, 100), plot(140, 0, 100, 100)], crs=GK).to_crs(4490)
    # 10 m east of plot 1 (x 100), 30 m west of plot 2 (x 140).
    info = read_photo(jpeg(at=(X0 + 110, Y0 + 50)), file_name="gap.jpg")
    got = attach_photo(info, targets, tolerance_m=50)
    assert (got.key, got.how) == ("1", "nearest")
    assert got.distance_m == pytest.approx(10.0, abs=0.05)
    assert "2 (30 m)" in got.warning
    assert attach_photo(info, targets, tolerance_m=5).kind is None


# --- command line -------------------------------------------------------------------------
def test_cli_add_folder_and_list(filled_store, store_path, tmp_path):
    cy = (OLD[1] + OLD[3]) / 2
    folder = tmp_path / "现场照片"
    folder.mkdir()
    (folder / "01.jpg").write_bytes(jpeg(at=(OLD[0] + 100, cy)))
    (folder / "02.JPG").write_bytes(jpeg(at=(OLD[2] + 500, cy), colour=(3, 3, 3)))
    (folder / "03.jpg").write_bytes(b"\xff\xd8broken")
    (folder / "notes.txt").write_text("not a photo")
    fid = old_fid(filled_store)
    filled_store.close()
    run = CliRunner().invoke(cli, ["photos", "add", str(folder), "--store", str(store_path),
                                   "--format", "json"])
    assert run.exit_code == 1, run.output  # stored, with photos refused
    rows = json.loads(run.stdout)
    assert [r["file"] for r in rows] == ["01.jpg", "02.JPG", "03.jpg"]
    assert [r["stored"] for r in rows] == [True, False, False]
    assert rows[0]["target_key"] == fid
    assert "03.jpg" in rows[2]["reason"]
    listed = CliRunner().invoke(cli, ["photos", "list", "--plot", fid, "--store",
                                      str(store_path), "--format", "json"])
    assert listed.exit_code == 0
    assert [r["file_name"] for r in json.loads(listed.stdout)] == ["01.jpg"]
    again = CliRunner().invoke(cli, ["photos", "add", str(folder / "01.jpg"), "--store",
                                     str(store_path)])
    assert again.exit_code == 2  # nothing stored
    assert "已入库" in again.output


# --- popups -------------------------------------------------------------------------------
def test_popup_size_budget():
    photos = [{"thumbnail": bytes([i]) * 1000, "taken_at": f"2023-06-0{i}T10:00:00+08:00",
               "file_name": f"{i}.jpg"} for i in range(1, 6)]
    one = photo_popup_html(photos, "zh")
    assert one.count("<img") == 3 and "另有 2 张照片" in one
    assert "2023-06-01" in one and "data:image/jpeg;base64," in one
    assert "2 more photos" in photo_popup_html(photos, "en")
    budget = PopupBudget(per_feature=3, max_bytes=2500)  # room for two of 1 000 bytes
    a = photo_popup_html(photos[:3], "zh", budget=budget)
    b = photo_popup_html(photos[3:4], "zh", budget=budget)
    assert a.count("<img") == 2 and "另有 1 张照片" in a
    assert b.count("<img") == 0 and "另有 1 张照片" in b
    assert budget.spent == 2000
    assert photo_popup_html([], "zh") == ""


def test_popup_budget_of_real_thumbnails_keeps_a_map_small():
    thumbs = [read_photo(jpeg(size=(1200, 900), colour=(i, 2 * i, 3 * i)),
                         file_name=f"{i}.jpg").thumbnail for i in range(10)]
    assert all(len(t) < 30_000 for t in thumbs)
    budget = PopupBudget(max_bytes=sum(len(t) for t in thumbs[:3]))  # room for three
    pages = [photo_popup_html([{"thumbnail": t}], "zh", budget=budget) for t in thumbs]
    assert [p.count("<img") for p in pages] == [1, 1, 1] + [0] * 7
    assert all("另有 1 张照片" in p for p in pages[3:])
    assert budget.spent == budget.max_bytes
    # base64 is 4/3 of the bytes; the markup around each thumbnail well under 1 kB
    assert sum(len(p) for p in pages) < 4 / 3 * budget.max_bytes + 10 * 1000


def test_store_without_photos_reads_empty(store_path, filled_store):
    assert filled_store.photos().empty
    assert filled_store.stored_photos(["0" * 64]) == {}
    with open_store(store_path) as st:
        assert list(st.photo_targets()["kind"]) == ["plot"] * 4


def test_demo_photos_lie_in_their_patches():
    """geodata/photos: each photo's EXIF position is inside the province's patch (of
    geodata/patches_2022.zip) whose ID its name starts with, taken in 2023 (Beijing
    time)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "geodata"
    patches = gpd.read_file(root / "patches_2022.zip").to_crs(4490)
    targets = gpd.GeoDataFrame({"kind": "patch", "key": patches["图斑编号"]},
                               geometry=patches.geometry.values, crs=patches.crs)
    files = sorted((root / "photos").glob("*.jpg"))
    assert len(files) == 6
    for path in files:
        assert 30_000 < path.stat().st_size < 80_000
        info = read_photo(path.read_bytes(), file_name=path.name)
        got = attach_photo(info, targets)
        # Attached by the ID its name carries, and its position lies in that patch.
        assert (got.key, got.how) == (id_in_name(path.name), "name")
        named = targets.loc[targets["key"] == got.key, "geometry"].iloc[0]
        assert named.contains(shapely.Point(info.lon, info.lat)), path.name
        assert info.taken_at.startswith("2023-") and info.taken_at.endswith("+08:00")


# --- on the maps ----------------------------------------------------------------------------
def test_county_map_popups_carry_the_plots_thumbnails(filled_store):
    from ecomap import api, maps

    before = maps.to_html(api.county_map(filled_store, year=2023))
    assert "ecomap-photos" not in before
    inside = (X0 + 200, Y0 + 3500)  # in S-30-70 (x -300…700, y 3000…4000)
    got = add(filled_store, {f"s{i}.jpg": jpeg(at=inside, colour=(40 * i, 90, 9))
                             for i in range(5)})
    assert [r.stored for r in got.results] == [True] * 5
    html = maps.to_html(api.county_map(filled_store, year=2023))
    # 3 thumbnails shown (each once), 2 counted; escaped for the page's JSON block
    assert html.count("data:image/jpeg;base64,") == 3
    assert "另有 2 张照片" in html and "现场照片 (5)" in html


@pytest.mark.browser
def test_popup_shows_the_thumbnails_offline_in_chromium(tmp_path, filled_store):
    from ecomap import api, maps
    from tests.test_maps_browser import _click, _open, _point_of, _shot

    inside = (X0 + 200, Y0 + 3500)  # in S-30-70
    add(filled_store, {"s1.jpg": jpeg(at=inside), "s2.jpg": jpeg(at=inside, colour=(1, 2, 3))})
    html = maps.to_html(api.county_map(filled_store, year=2023))
    browser, page, _ = _open(tmp_path, html, "photos-popup")
    with browser:
        x, y = _point_of(page, filled_store, "S-30-70")
        _click(page, x, y)
        page.wait_for("!!document.querySelector('.leaflet-popup .ecomap-photos img')",
                      timeout=20)
        page.wait_for("Array.from(document.querySelectorAll('.leaflet-popup img'))"
                      ".every(function (i) { return i.complete && i.naturalWidth > 0; })",
                      timeout=20)
        got = page.evaluate("(function () { var imgs = document.querySelectorAll("
                            "'.leaflet-popup .ecomap-photos img'); return [imgs.length, "
                            "imgs[0].naturalWidth, imgs[0].naturalHeight, document."
                            "querySelector('.leaflet-popup').textContent]; })()")
        assert got[:3] == [2, 320, 240]
        assert "S-30-70" in got[3] and "现场照片 (2)" in got[3]
        assert page.errors() == []
        assert [u for u in page.requests() if not u.startswith(("file:", "data:"))] == []
        page.wait_for("getComputedStyle(document.querySelector('.leaflet-popup')).opacity"
                      " === '1'", timeout=20)  # faded in, for the screenshot
        _shot(page, "maps-photos-popup")


@pytest.mark.parametrize("target", ["gpkg", "postgis"])
def test_store_copy_keeps_the_photos(filled_store, store_path, tmp_path, target, request):
    from ecomap.store.copy import copy_store

    cy = (OLD[1] + OLD[3]) / 2
    data = jpeg(at=(OLD[0] + 10, cy), size=(2000, 1500))
    got = add(filled_store, {"a.jpg": data})
    want = filled_store.photos(thumbnails=True, images=True)
    filled_store.close()
    dest = (str(tmp_path / "copy.gpkg") if target == "gpkg"
            else request.getfixturevalue("pg_schema"))
    copy_store(store_path, dest)
    with open_store(dest) as st:
        copied = st.photos(thumbnails=True, images=True)
        assert copied.drop(columns=["thumbnail", "image"]).to_dict("records") == \
            want.drop(columns=["thumbnail", "image"]).to_dict("records")
        assert copied["thumbnail"].tolist() == want["thumbnail"].tolist()
        assert copied["image"].tolist() == want["image"].tolist()
        assert st.rollback(got.batch_id)["removed"] == {"photos": 1}


def test_without_pillow_the_message_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(InputError, match=r"pip install 'ecomap\[photos\]'"):
        read_photo(b"\xff\xd8", file_name="a.jpg")


def test_photo_popups_by_feature_for_patches_and_plots():
    import pandas as pd

    from ecomap.photos import photo_popups

    photos = pd.DataFrame({"target_kind": ["patch", "plot", "patch"],
                           "target_key": [PATCH, "7", PATCH],
                           "taken_at": ["2023-05-01T09:00:00+08:00"] * 3,
                           "file_name": ["a.jpg", "b.jpg", "c.jpg"],
                           "thumbnail": [b"\xff\xd8" + b"a" * 98, b"b" * 100, b"c" * 100]})
    patches = photo_popups([PATCH, "DY2022-008"], photos, kind="patch")
    assert patches[0].count("<img") == 2 and "现场照片 (2)" in patches[0]
    assert patches[1] == ""
    plots = photo_popups([7, 8], photos)  # fids as numbers
    assert plots[0].count("<img") == 1 and plots[1] == ""
