"""Real components the tests need (Chromium, PostGIS, QGIS, the raster and scale extras).

A developer without one gets a skip saying how to get it; under CI (the ``CI``
environment variable set, as CI services do) a missing component is a **failure**, so a
green CI run means every real component was exercised.  Every test that would skip for
a missing component goes through :func:`need_component`.
"""

from __future__ import annotations

import importlib
import os
import subprocess
from types import ModuleType

import pytest

__all__ = ["in_ci", "need_chromium", "need_component", "need_module", "need_postgis",
           "need_qgis"]

NO_PG = ("ECOMAP_TEST_POSTGIS is not set: no PostGIS to test against; `make test` sets it "
         "(or run ECOMAP_TEST_POSTGIS=$(bash scripts/postgis.sh) .venv/bin/python -m pytest)")


def in_ci() -> bool:
    """True when ``CI`` is set to anything but empty, 0, false or no."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need_component(name: str, reason: str):
    """The test cannot run without ``name``: skip, or under CI fail (never returns)."""
    if in_ci():
        pytest.fail(f"{name} is missing and CI is set, so this is a failure, not a skip: "
                    f"{reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def need_module(module: str, name: str, reason: str) -> ModuleType:
    """``import module``, or :func:`need_component` when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        need_component(name, reason)


def need_postgis() -> str:
    """The URL of the test PostGIS database (``ECOMAP_TEST_POSTGIS``)."""
    url = os.environ.get("ECOMAP_TEST_POSTGIS", "")
    if not url:
        need_component("PostGIS", NO_PG)
    return url


def need_chromium() -> str:
    """The Chromium binary ecomap itself would use (``$ECOMAP_CHROMIUM`` or ``PATH``)."""
    from ecomap.maps._chromium import ChromiumError, find_chromium

    try:
        return find_chromium()
    except ChromiumError as exc:
        need_component("Chromium", f"{exc} (make browser installs it)")


#: Debian's Python, where Debian's PyQGIS (python3-qgis) lives; not the project's venv
#: (``$ECOMAP_QGIS_PYTHON`` names another).
QGIS_PYTHON = "/usr/bin/python3"


def need_qgis() -> str:
    """Debian's ``/usr/bin/python3`` when it imports PyQGIS (``qgis.core``), to run QGIS
    scripts in (offscreen); ``pdftotext`` is needed beside it."""
    import shutil

    python = os.environ.get("ECOMAP_QGIS_PYTHON") or QGIS_PYTHON
    missing = f"{python} does not import qgis.core: Debian's python3-qgis is not installed " \
              "(make qgis installs it)"
    if not os.path.exists(python):
        need_component("QGIS", missing)
    try:
        found = subprocess.run([python, "-c", "import qgis.core"], capture_output=True,
                               timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        need_component("QGIS", f"{missing}: {exc}")
    if found.returncode != 0:
        need_component("QGIS", missing)
    if shutil.which("pdftotext") is None:
        need_component("pdftotext", "pdftotext (poppler-utils) is missing (make qgis installs it)")
    return python
