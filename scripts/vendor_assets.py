#!/usr/bin/env python3
"""Vendor the JavaScript/CSS that folium maps need, so maps open with no network.

Run from the repository root (``make vendor``)::

    python3 scripts/vendor_assets.py            # fetch the pins below, rewrite static/
    python3 scripts/vendor_assets.py --check    # verify static/ against MANIFEST.json, no network

For every pinned package this script runs ``npm pack NAME@VERSION`` in a temporary
directory (the only network access: the npm registry, through npm itself), reads the
tarball with :mod:`tarfile` without extracting it to disk, and copies

* the files listed in ``PINS`` (minified builds where the package ships one),
* every image/font those CSS files reference with ``url(...)`` (found automatically),
* the package's licence file

into ``src/ecomap/maps/static/<package>/`` keeping the package-relative paths, so the
relative ``url()`` references inside the CSS keep working.  Files are copied byte for
byte (no re-minification): their sha256 can be checked against the npm tarball.

``src/ecomap/maps/static/MANIFEST.json`` records package, version, licence, the npm
tarball integrity and, per file, the path, size and sha256.  ``ecomap.maps._vendored``
reads only that manifest and the files it lists, and verifies the hashes.

The pins follow what folium 0.20 / branca 0.8 reference from their CDNs:

* leaflet 1.9.3 (``folium.folium._default_js``)
* leaflet.fullscreen 3.0.0 (``folium.plugins.Fullscreen``)
* leaflet-minimap 3.6.1 (``folium.plugins.MiniMap``)
* leaflet-measure 2.1.7 (``folium.plugins.MeasureControl``; folium points at the GitHub
  tag through jsDelivr, the npm release of the same version ships the same dist/)
* leaflet-search 2.9.7 (``folium.plugins.Search``)
* d3 3.5.5 (``branca.colormap`` legends)
* jquery 3.7.1 (folium's default; only kept in a page that really calls ``$``/``jQuery``,
  e.g. ``folium.Popup`` which builds its content with ``$(`...`)[0]``)

Only the standard library is used, so it runs with any ``python3`` (3.9+).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "src" / "ecomap" / "maps" / "static"
MANIFEST = STATIC / "MANIFEST.json"

#: Hard ceiling for everything vendored; the brief is "well under 1.5 MB".
MAX_TOTAL_BYTES = 1_500_000


@dataclass(frozen=True)
class Pin:
    package: str
    version: str
    licence: str  # SPDX identifier, checked by hand against the licence file
    licence_file: str
    files: tuple[str, ...]
    #: npm name when it differs from the directory name under static/
    npm_name: str | None = None
    note: str = ""
    extra: tuple[str, ...] = field(default=())

    @property
    def spec(self) -> str:
        return f"{self.npm_name or self.package}@{self.version}"


PINS: tuple[Pin, ...] = (
    Pin(
        "leaflet",
        "1.9.3",
        "BSD-2-Clause",
        "LICENSE",
        files=(
            "dist/leaflet.js",
            "dist/leaflet.css",
            # L.Icon.Default images: referenced from JS, not only from CSS.
            "dist/images/marker-icon.png",
            "dist/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png",
        ),
    ),
    Pin(
        "leaflet.fullscreen",
        "3.0.0",
        "MIT",
        "LICENSE",
        files=("Control.FullScreen.js", "Control.FullScreen.css"),
        note="ships no .min.js; folium's Control.FullScreen.min.js URL is served by the "
        "8 kB source file",
    ),
    Pin(
        "leaflet-minimap",
        "3.6.1",
        "BSD-2-Clause",
        "LICENSE.txt",
        files=("dist/Control.MiniMap.min.js", "dist/Control.MiniMap.min.css"),
    ),
    Pin(
        "leaflet-measure",
        "2.1.7",
        "MIT",
        "LICENSE",
        files=("dist/leaflet-measure.min.js", "dist/leaflet-measure.css"),
        note="leaflet-measure.css is already minified upstream",
    ),
    Pin(
        "leaflet-search",
        "2.9.7",
        "MIT",
        "license.txt",
        files=("dist/leaflet-search.min.js", "dist/leaflet-search.min.css"),
    ),
    Pin("d3", "3.5.5", "BSD-3-Clause", "LICENSE", files=("d3.min.js",)),
    Pin("jquery", "3.7.1", "MIT", "LICENSE.txt", files=("dist/jquery.min.js",)),
)

_CSS_URL = re.compile(r"""url\(\s*(['"]?)(?P<ref>[^'")]+?)\1\s*\)""", re.I)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _npm_pack(spec: str, workdir: Path) -> tuple[Path, dict]:
    """``npm pack SPEC`` into *workdir*; return the tarball path and npm's metadata."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: install Node.js/npm to (re)vendor the map assets")
    proc = subprocess.run(
        [npm, "pack", spec, "--json", "--silent", "--ignore-scripts"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"npm pack {spec} failed:\n{proc.stderr.strip()}")
    meta = json.loads(proc.stdout)[0]
    return workdir / meta["filename"], meta


def _css_refs(css: str, css_path: str) -> list[str]:
    """Package-relative paths of the local files *css* references with url()."""
    refs = []
    for m in _CSS_URL.finditer(css):
        ref = m.group("ref").strip()
        if ref.startswith(("data:", "#")):
            continue
        if re.match(r"^([a-z][a-z0-9+.-]*:)?//", ref, re.I):
            sys.exit(f"{css_path} references a remote url({ref}); cannot vendor it offline")
        ref = ref.split("?", 1)[0].split("#", 1)[0]
        refs.append(posixpath.normpath(posixpath.join(posixpath.dirname(css_path), ref)))
    return refs


def _vendor_one(pin: Pin, workdir: Path) -> dict:
    tgz, meta = _npm_pack(pin.spec, workdir)
    with tarfile.open(tgz, "r:gz") as tar:
        members = {}
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("package/"):
                members[member.name[len("package/") :]] = member

        def read(rel: str) -> bytes:
            if rel not in members:
                sys.exit(f"{pin.spec}: {rel} is not in the npm tarball")
            fh = tar.extractfile(members[rel])
            assert fh is not None
            return fh.read()

        pkg_json = json.loads(read("package.json"))
        if pkg_json.get("version") != pin.version:
            sys.exit(f"{pin.spec}: tarball says version {pkg_json.get('version')}")

        wanted = list(pin.files) + list(pin.extra)
        for rel in list(wanted):
            if rel.endswith(".css"):
                for ref in _css_refs(read(rel).decode("utf-8"), rel):
                    if ref not in wanted:
                        wanted.append(ref)
        wanted.append(pin.licence_file)

        dest = STATIC / pin.package
        files = []
        for rel in wanted:
            if ".." in rel.split("/") or rel.startswith("/"):
                sys.exit(f"{pin.spec}: refusing path {rel!r}")
            data = read(rel)
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            files.append(
                {
                    "path": f"{pin.package}/{rel}",
                    "bytes": len(data),
                    "sha256": _sha256(data),
                }
            )

    declared = pkg_json.get("license") or pkg_json.get("licenses")
    return {
        "package": pin.package,
        "npm": pin.npm_name or pin.package,
        "version": pin.version,
        "licence": pin.licence,
        "licence_declared": declared,
        "licence_file": f"{pin.package}/{pin.licence_file}",
        "integrity": meta.get("integrity"),
        "note": pin.note,
        "files": files,
    }


def vendor() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    old_dirs = set()
    if MANIFEST.exists():
        old_dirs = {p["package"] for p in json.loads(MANIFEST.read_text())["packages"]}
    for name in old_dirs | {p.package for p in PINS}:
        target = STATIC / name
        if target.is_dir() and target.parent == STATIC:
            shutil.rmtree(target)

    packages = []
    with tempfile.TemporaryDirectory(prefix="ecomap-vendor-") as tmp:
        for pin in PINS:
            print(f"npm pack {pin.spec}")
            packages.append(_vendor_one(pin, Path(tmp)))

    total = sum(f["bytes"] for p in packages for f in p["files"])
    if total > MAX_TOTAL_BYTES:
        sys.exit(f"vendored assets total {total} bytes > {MAX_TOTAL_BYTES}")
    manifest = {
        "generated_by": "scripts/vendor_assets.py (make vendor)",
        "source": "npm registry via `npm pack`",
        "total_bytes": total,
        "packages": packages,
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    for p in packages:
        size = sum(f["bytes"] for f in p["files"])
        print(f"  {p['package']:20} {p['version']:8} {p['licence']:13} {size:>8} bytes")
    print(f"total {total} bytes -> {MANIFEST.relative_to(ROOT)}")


def check() -> int:
    """Verify static/ against MANIFEST.json (no network)."""
    if not MANIFEST.exists():
        print(f"{MANIFEST} missing: run make vendor", file=sys.stderr)
        return 1
    manifest = json.loads(MANIFEST.read_text())
    bad = 0
    pins = {p.package: p for p in PINS}
    for pkg in manifest["packages"]:
        pin = pins.get(pkg["package"])
        if pin is None or pin.version != pkg["version"]:
            print(f"{pkg['package']}@{pkg['version']}: not the pinned version", file=sys.stderr)
            bad += 1
        for f in pkg["files"]:
            path = STATIC / f["path"]
            if not path.is_file() or _sha256(path.read_bytes()) != f["sha256"]:
                print(f"{f['path']}: missing or modified", file=sys.stderr)
                bad += 1
    missing = set(pins) - {p["package"] for p in manifest["packages"]}
    for name in sorted(missing):
        print(f"{name}: pinned but not vendored", file=sys.stderr)
        bad += 1
    print("ok" if not bad else f"{bad} problem(s)")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify static/ against MANIFEST.json; no network"
    )
    args = parser.parse_args(argv)
    if args.check:
        return check()
    vendor()
    return 0


if __name__ == "__main__":
    sys.exit(main())
