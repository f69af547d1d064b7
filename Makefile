# The two commands a newcomer needs:  `make run`  and  `make test`.
# Both create .venv (Python 3.10, as TFX 1.16 requires) from requirements.lock with uv.

VENV     := .venv
PY       := $(VENV)/bin/python
WORKDIR  ?= runs/demo
# python3.10 on PATH, else a pyenv-installed 3.10 (pyenv's shim refuses when 3.10 is not the active version).
PYTHON310 ?= $(shell python3.10 -c 'import sys; print(sys.executable)' 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)

.PHONY: install run test test-slow lock lock-gpu wheel clean

# Strict editable install: a link tree under build/ that editors and static analysers follow. It
# links the files present at install time, so any change to the package's files reinstalls it.
PACKAGE_FILES := $(shell find pipeline components serving schemas -type f -not -path '*/__pycache__/*')

$(VENV)/.installed: requirements.lock setup.py $(PACKAGE_FILES)
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: install it or pass PYTHON310=/path/to/python3.10"; exit 1; }
	command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv venv --quiet --allow-existing --python "$(PYTHON310)" $(VENV)
	uv pip install --quiet --python $(PY) -r requirements.lock
	uv pip install --quiet --python $(PY) --no-deps --config-settings editable_mode=strict -e .
	touch $@

install: $(VENV)/.installed

## Main job on the embedded default: pipeline (LocalDagRunner, SQLite MLMD, sample photos),
## then the local gRPC server and one colorization through the client.
run: install
	$(VENV)/bin/colornet demo --workdir $(WORKDIR)

## Default test suite (slow tests are run by `make test-slow`).
test: install
	$(PY) -m pytest -m "not slow" --durations=15 tests

test-slow: install
	$(PY) -m pytest -m slow tests

lock:
	uv pip compile --quiet requirements.in -o requirements.lock --python-version 3.10 --python-platform x86_64-unknown-linux-gnu

## The GPU step image's lock: requirements.lock plus TensorFlow's CUDA wheels (pipeline/docker/).
lock-gpu:
	uv pip compile --quiet pipeline/docker/requirements-gpu.in -c requirements.lock \
	  -o pipeline/docker/requirements-gpu.lock --custom-compile-command "make lock-gpu" \
	  --python "$(PYTHON310)" --python-version 3.10 --python-platform x86_64-unknown-linux-gnu

## The colornet wheel (built through its sdist, so nothing stale under build/ gets in): dist/colornet-*.whl
wheel:
	uv build --out-dir dist .

clean:
	rm -rf $(VENV) runs
