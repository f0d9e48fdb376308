"""Write the demo's evidence photos: geodata/photos/*.jpg.

Six JPEGs "taken" on six of the demo's forest-inspection patches
(``plots/forest_inspection_patch_2023.geojson``): a simple drawn scene (sky, hills,
young trees on bare ground) with the patch ID and the date written on it, and EXIF as a
phone writes it — GPS latitude/longitude (WGS 84, taken as CGCS2000) of the patch's
representative point, DateTimeOriginal on the patch's 整改日期 with OffsetTimeOriginal
+08:00, Make/Model.  They are synthetic: no real place was photographed.

Deterministic: fixed seeds, fixed JPEG quality, no timestamps but the EXIF ones set
here, Pillow's own bundled font — two runs with the same Pillow give the same bytes.

    .venv/bin/python geodata/make_photos.py [--out geodata/photos]
"""

from __future__ import annotations

import argparse
import io
import json
import random
from pathlib import Path

from PIL import ExifTags, Image, ImageDraw, ImageFont
from PIL.TiffImagePlugin import IFDRational
from shapely.geometry import shape

HERE = Path(__file__).resolve().parent
PATCHES = HERE / "plots" / "forest_inspection_patch_2023.geojson"
#: Which patches get a photo (their order in the file), and the time of day of each.
CHOSEN = [(0, "09:12:31"), (3, "10:47:05"), (7, "14:03:58"), (12, "15:26:40"),
          (20, "11:15:09"), (28, "16:41:22")]
SIZE = (1024, 768)
QUALITY = 80


def _dms(value: float) -> tuple:
    """Degrees as EXIF (degrees, minutes, seconds) rationals, seconds to 1/10000."""
    deg = int(value)
    minutes = int((value - deg) * 60)
    sec = round((value - deg - minutes / 60) * 3600 * 10_000)
    return IFDRational(deg, 1), IFDRational(minutes, 1), IFDRational(sec, 10_000)


def scene(seed: int, label: str, date: str) -> Image.Image:
    """A hillside with young trees, and ``label`` and ``date`` written in a box."""
    rng = random.Random(seed)
    w, h = SIZE
    im = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(im)
    for y in range(h // 2):  # sky, lighter towards the horizon
        t = y / (h / 2)
        draw.line([(0, y), (w, y)], fill=(int(120 + 90 * t), int(170 + 60 * t), 235))
    for layer, base in enumerate([(70, 110, 80), (50, 95, 60)]):  # two ranges of hills
        top = h // 2 - 90 + layer * 60
        pts = [(0, h)] + [(x, top + int(40 * rng.random()) + (x * (layer + 1)) % 50)
                          for x in range(0, w + 64, 64)] + [(w, h)]
        draw.polygon(pts, fill=base)
    draw.rectangle([0, int(h * 0.62), w, h], fill=(150, 115, 80))  # bare ground
    for _ in range(2500):  # soil texture
        x, y = rng.randrange(w), rng.randrange(int(h * 0.62), h)
        c = rng.randrange(-25, 25)
        draw.point((x, y), fill=(150 + c, 115 + c, 80 + c))
    for _ in range(40):  # young trees, bigger in front
        x = rng.randrange(20, w - 20)
        y = rng.randrange(int(h * 0.64), h - 10)
        s = 8 + int(30 * (y - h * 0.62) / (h * 0.38))
        draw.rectangle([x - s // 8, y - s // 3, x + s // 8, y], fill=(90, 60, 30))
        g = rng.randrange(110, 170)
        draw.polygon([(x, y - 2 * s), (x - s // 2, y - s // 3), (x + s // 2, y - s // 3)],
                     fill=(30, g, 50))
    font = ImageFont.load_default(size=34)
    text = f"{label}   {date}"
    box = draw.textbbox((24, 24), text, font=font)
    draw.rectangle([box[0] - 12, box[1] - 10, box[2] + 12, box[3] + 10], fill=(255, 255, 255))
    draw.text((24, 24), text, font=font, fill=(20, 20, 20))
    return im


def photo_bytes(patch: dict, seed: int, clock: str, *, label: str) -> bytes:
    """One photo of ``patch`` (a GeoJSON feature) as JPEG bytes with EXIF, ``label``
    (its patch ID) written on it."""
    props = patch["properties"]
    point = shape(patch["geometry"]).representative_point()
    date = str(props.get("整改日期") or "2023-06-30")
    im = scene(seed, label, date)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "ecomap demo", "synthetic"  # Make, Model
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003] = f"{date.replace('-', ':')} {clock}"  # DateTimeOriginal
    sub[0x9011] = "+08:00"  # OffsetTimeOriginal
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[0] = b"\x02\x03\x00\x00"  # GPSVersionID 2.3
    gps[1], gps[2] = "N", _dms(point.y)
    gps[3], gps[4] = "E", _dms(point.x)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=QUALITY, exif=exif)
    return out.getvalue()


def write_photos(out: Path) -> list[Path]:
    """Write the demo photos into ``out``; returns their paths."""
    features = json.loads(PATCHES.read_text(encoding="utf-8"))["features"]
    # The province's patch ID (make_patches.py: 360723-2022-NNN in the order of 小班号),
    # which the file name carries as a township's forestry station would name it.
    order = sorted(range(len(features)), key=lambda i: features[i]["properties"]["小班号"])
    patch_id = {i: f"360723-2022-{n:03d}" for n, i in enumerate(order, start=1)}
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.jpg"):
        old.unlink()
    written = []
    for seed, (index, clock) in enumerate(CHOSEN, start=1):
        patch = features[index]
        path = out / f"{patch_id[index]}_现场.jpg"
        path.write_bytes(photo_bytes(patch, seed, clock, label=patch_id[index]))
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "photos")
    args = parser.parse_args()
    for path in write_photos(args.out):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
