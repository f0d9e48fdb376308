# ecomap — the front door.  `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-all bench bench-quick lint geodata vendor browser clean help

help:
	@echo "make demo     build ecomap.gpkg from geodata/ and write maps and tables to maps/"
	@echo "make test     run the test suite (creates .venv when missing)"
	@echo "make bench    benchmarks against the plain geopandas path (slow)"
	@echo "make lint     ruff"
	@echo "make geodata  regenerate geodata/ (needs the geodata extra)"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,raster]'
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/ecomap demo

# A real headless Chromium for the browser tests (Debian package, root only).
browser:
	@{ command -v chromium >/dev/null 2>&1 && fc-list :lang=zh 2>/dev/null | grep -q . ; } || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian chromium and a CJK font for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium missing and not root: browser tests will be skipped"; fi; }

test: $(STAMP) browser
	$(PY) -m pytest

test-all: $(STAMP) browser
	$(PY) -m pytest -m "" 

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,raster,bench]'
	$(PY) benchmarks/run.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts geodata

geodata: $(STAMP)
	$(PY) -m pip install --quiet -e '.[geodata]'
	$(PY) geodata/make_geodata.py

vendor:
	$(PYTHON) scripts/vendor_assets.py

clean:
	rm -rf $(VENV) ecomap.gpkg maps/*.html maps/*.csv maps/*.xlsx maps/*.json maps/township
