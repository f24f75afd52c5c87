# folkclip: `make demo` runs the main job on the built-in default dataset, `make test` the tests.
# Both create .venv on first use. torch is pinned and installed first; every later install
# goes through a constraints file so nothing can swap it for a CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CONSTRAINTS := $(VENV)/constraints.txt

.PHONY: demo test bench check-abc2midi clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	echo "torch==2.13.0" > $(CONSTRAINTS)
	$(PIP) install torch==2.13.0
	$(PIP) install -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PIP) install -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

demo: $(VENV)/.base
	$(VENV)/bin/folkclip data inspect default

test: $(VENV)/.dev
	$(PY) -m pytest -q

bench: $(VENV)/.base
	$(PY) benchmarks/read_tokenize.py

check-abc2midi: $(VENV)/.base
	$(PY) scripts/check_abc2midi.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
