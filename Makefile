# SoundForge: `make run` to use it, `make test` to check it. Both set everything up on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export NUMBA_CACHE_DIR ?= $(CURDIR)/var/numba-cache
# Where the CPU build of torch comes from; empty, or unreachable, for the plain install (which on Linux
# from the public index is the CUDA build: several GB more).
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu

.PHONY: run test test-fast e2e lint install migrate clean

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py serve

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run -v 0
	$(BIN)/pytest $(PYTEST_ARGS)

# What a change to pages, forms, access or panels needs checked in a few minutes: all but the tests marked
# slow (ports, workers, servers); `make test` runs everything.
test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not slow and not e2e" $(PYTEST_ARGS)

# The browser tests: Debian's chromium (apt-get install chromium) driven by Playwright; screenshots in
# var/e2e-screenshots/.
e2e: $(STAMP)
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

install: $(STAMP)

# torch first, pinned, the CPU build from TORCH_INDEX_URL where it answers: anything later would let a
# dependency pull a CUDA build. The install says which build it got. BeatNet only for its network weights
# (tracks/ports/lib/beats.py) and basic-pitch for its model (tracks/ports/transcribe.py), without the
# dependencies they pin (numba 0.54; TensorFlow).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX_URL),$(BIN)/pip install --quiet --timeout 15 --retries 1 --index-url $(TORCH_INDEX_URL) \
	    torch==2.13.0 || )$(BIN)/pip install --quiet torch==2.13.0
	@$(BIN)/python -c "import torch; print('installed torch', torch.__version__, \
	    '(CUDA ' + torch.version.cuda + ' build)' if torch.version.cuda else '(CPU build)')"
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps BeatNet==1.1.3 basic-pitch==0.4.0
	touch $(STAMP)

clean:
	rm -rf $(VENV) var/static
