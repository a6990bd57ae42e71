# Quickstart targets. Both create .venv (Python 3.11, pip; torch and bpy wheels come from the local disk or PyPI).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test venv clean docker-check

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[render,bench,dist,dev]'
	touch $(STAMP)

# End to end on an embedded default (scikit-learn's digits stand in for MNIST, which needs a download):
# make a small Single Moving MNIST split, preview it, train a tiny VQ-VAE and MAGE, and score it.
demo: $(STAMP)
	$(PY) -m ti2v.benchmark.demo --out $(DEMO)

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider --durations=15 tests

# Lint the Dockerfiles and run the image entry point on a clean, non-editable install (no Docker engine needed).
docker-check: $(STAMP)
	bash docker/smoke.sh

clean:
	rm -rf $(DEMO) build *.egg-info
