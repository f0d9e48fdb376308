"""tests/components.py: a missing real component skips a developer's run and fails CI.

Each case runs a tiny test file in a pytest subprocess, once without and once with
``CI=true``, with the component hidden (a module that does not exist, no PostGIS URL,
a Chromium path or a QGIS Python that does not exist).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "module": "from tests.components import need_module\n"
              "def test_it():\n"
              "    need_module('ecomap_no_such_module', 'the frobnicator', 'not installed')\n",
    "module_level": "from tests.components import need_module\n"
                    "need_module('ecomap_no_such_module', 'the frobnicator', 'not installed')\n"
                    "def test_it():\n"
                    "    assert True\n",
    "postgis": "from tests.components import need_postgis\n"
               "def test_it():\n"
               "    need_postgis()\n",
    "qgis": "from tests.components import need_qgis\n"
            "def test_it():\n"
            "    need_qgis()\n",
    "chromium": "from tests.chromium import chromium_binary\n"
                "def test_it():\n"
                "    chromium_binary()\n",
}


def run_pytest(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_tiny.py").write_text(source, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "ECOMAP_TEST_POSTGIS")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src")]),
               ECOMAP_CHROMIUM=str(tmp_path / "no-chromium-here"),
               ECOMAP_QGIS_PYTHON=str(tmp_path / "no-qgis-python-here"))
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_tiny.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("case", sorted(CASES))
def test_missing_component_skips_without_ci_and_fails_with_ci(tmp_path, case):
    # A skipped module collects no test: pytest's exit code 5, not a failure (1).
    passed = (0, 5) if case == "module_level" else (0,)
    dev = run_pytest(tmp_path, CASES[case], ci=None)
    assert dev.returncode in passed, dev.stdout + dev.stderr
    assert "1 skipped" in dev.stdout

    ci = run_pytest(tmp_path, CASES[case], ci="true")
    assert ci.returncode in (1, 2), ci.stdout + ci.stderr  # test failed / collection error
    assert "skipped" not in ci.stdout
    assert "is missing and CI is set, so this is a failure, not a skip" in ci.stdout


def test_ci_false_is_not_ci(tmp_path):
    # Some runners export CI=false; that is a developer's run.
    off = run_pytest(tmp_path, CASES["module"], ci="false")
    assert off.returncode == 0 and "1 skipped" in off.stdout
