# ecomap — the front door.  `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all check-plain bench bench-quick bench-scale lint geodata vendor browser qgis clean help

help:
	@echo "make demo     build ecomap.gpkg from geodata/ and write maps and tables to maps/"
	@echo "make test     run the test suite (creates .venv when missing)"
	@echo "make check-plain  a plain 'pip install .' (no extras) reads, checks and stores an upload"
	@echo "make bench    benchmarks against the plain geopandas path (slow)"
	@echo "make lint     ruff"
	@echo "make geodata  regenerate geodata/ (needs the geodata extra)"
	@echo "make qgis     install Debian's python3-qgis for the QGIS tests (root)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,raster,postgis,scale,web]'
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/ecomap demo

# A real headless Chromium for the browser tests (Debian package, root only).
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . ; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian chromium and a CJK font for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei poppler-utils >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; }

# Debian's QGIS (PyQGIS in /usr/bin/python3, offscreen) for the QGIS tests, which open
# the store's styles, project and print layout in it (root only).
qgis:
	@{ /usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . ; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian python3-qgis and a CJK font for the QGIS tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-qgis qgis-providers fonts-wqy-zenhei poppler-utils >/dev/null) \
	      || echo "could not install python3-qgis: QGIS tests will be skipped"; \
	  else echo "python3-qgis missing and not root: QGIS tests will be skipped"; fi; }

# The store suite also runs against a throwaway local PostGIS (scripts/postgis.sh).
test: $(STAMP) browser qgis
	ECOMAP_TEST_POSTGIS=$$(bash scripts/postgis.sh) $(PY) -m pytest

# A fresh venv with a plain `pip install .` (no extras) checks a zipped GBK Shapefile.
check-plain:
	PYTHON=$(PYTHON) bash scripts/check_plain.sh

test-all: $(STAMP) browser qgis
	ECOMAP_TEST_POSTGIS=$$(bash scripts/postgis.sh) $(PY) -m pytest -m "" 

bench: $(STAMP) browser
	$(PY) -m pip install --quiet -e '.[dev,raster,postgis,scale,web,bench]'
	$(PY) benchmarks/run.py
	$(PY) benchmarks/ingest_bench.py
	$(PY) benchmarks/maps_bench.py
	$(PY) benchmarks/raster_bench.py
	$(PY) benchmarks/web_bench.py

bench-quick: $(STAMP) browser
	$(PY) -m pip install --quiet -e '.[dev,raster,postgis,scale,web,bench]'
	$(PY) benchmarks/run.py --quick
	$(PY) benchmarks/ingest_bench.py --plots 50000 --runs 1
	$(PY) benchmarks/maps_bench.py --quick
	$(PY) benchmarks/raster_bench.py --quick
	$(PY) benchmarks/web_bench.py --seconds 5

bench-scale: $(STAMP)
	$(PY) benchmarks/scale_bench.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts geodata

geodata: $(STAMP)
	$(PY) -m pip install --quiet -e '.[geodata]'
	$(PY) geodata/make_geodata.py
	$(PY) geodata/make_ndvi.py
	$(PY) geodata/make_patches.py

vendor:
	$(PYTHON) scripts/vendor_assets.py

clean:
	-bash scripts/postgis.sh stop
	rm -rf .pgdata
	rm -rf $(VENV) .venv-plain ecomap.gpkg maps/*.html maps/*.csv maps/*.xlsx maps/*.json maps/township
