# Quickstart targets. Both create .venv (Python 3.11, pip; torch and bpy wheels come from the local disk or PyPI).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   := demo-out

.PHONY: demo test venv clean docker-check docker-test interop-test

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

# Build the CPU image (and the GPU one without its CUDA layer) for real on a local Debian base, run regenerate in it
# with a read-only root and check the output against a host build (docker/test.sh; root; installs and starts the
# Docker engine when missing and stops what it started).
docker-test: $(STAMP)
	bash docker/test.sh

# Shards read by other HDF5 versions (docs/FORMAT.md): Debian's h5dump (HDF5 1.10, installed with apt-get when
# missing, after `apt-get update` when the machine's package lists are stale) and h5py 3.11 (HDF5 1.14) in a venv
# of its own; CI runs this, where a missing reader fails, not skips.
OLD_H5PY := .venv-h5py311
interop-test: $(STAMP)
	command -v h5dump >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q hdf5-tools >/dev/null 2>&1 || \
	  (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q hdf5-tools >/dev/null)
	test -x $(OLD_H5PY)/bin/python || ($(PYTHON) -m venv $(OLD_H5PY) && \
	  $(OLD_H5PY)/bin/pip install --quiet 'h5py==3.11.0' 'numpy<2')
	TI2V_REQUIRE_INTEROP=1 TI2V_OLD_H5PY_PYTHON=$(OLD_H5PY)/bin/python \
	  $(PY) -m pytest -q -p no:cacheprovider tests/test_shard_storage.py

clean:
	rm -rf $(DEMO) build *.egg-info
