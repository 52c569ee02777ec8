# Two commands on a fresh machine:
#
#     make grade    grade the bundled example submissions into graded/
#     make test     lint, check the student template, run every test (on every core)
#     make check    what to run before every commit: lint, the template, the docs, the suite
#                   on the reference and the fast unit tests
#     make docs     build the documentation site into site/ (mkdocs serve shows it as you edit)
#     make readme   rewrite the README's generated blocks after a benchmark (bench/quickstart.py)
#
# Each sets up .venv the first time (torch, then the project with its dev extra) and
# reuses it afterwards; editing pyproject.toml sets it up again. make is on every
# machine that grades (a cluster's login node, a CI runner, a laptop), needs nothing
# installed first, and says what it runs. VENV=... and PYTHON=... choose another
# environment and interpreter.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CPU_INDEX := https://download.pytorch.org/whl/cpu

# Fast: no grading batch, no fresh interpreter per submission.
CHECK_TESTS := tests/assignment tests/mutants/test_clauses.py tests/project/test_template.py \
	tests/project/test_assets.py tests/grader/test_scoring.py tests/grader/test_names.py tests/grader/test_gpus.py \
	tests/grader/test_gradebook.py tests/grader/test_protocol.py tests/grader/test_disk.py tests/grader/test_outcome.py \
	tests/grader/test_container_limits.py tests/grader/test_budget.py tests/project/test_umd_handout.py \
	tests/lora_from_scratch tests/project/test_from_scratch_handout.py tests/finetuning_methods tests/peft_bert \
	tests/project/test_docs.py

# pytest-xdist, one process per core; a test file stays on one process (--dist loadfile), so that a
# batch graded once for a file's tests is graded once; files go out longest first (tests/conftest.py).
XDIST := -n auto --dist loadfile --no-loadscope-reorder

.PHONY: grade test check docs readme clean

grade: $(VENV)/.installed
	$(BIN)/python -m grader grade examples/lora-bert --out graded

test: $(VENV)/.installed docs
	$(BIN)/ruff check .
	$(BIN)/python -m grader template --check
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(XDIST)

check: $(VENV)/.installed docs
	$(BIN)/ruff check .
	$(BIN)/python -m grader template --check
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(XDIST) $(CHECK_TESTS)

# The site, every internal link and anchor checked (strict, and not --quiet, which hides the warnings strict
# counts); site/ is git-ignored. Material for MkDocs announces its successor on every build: NO_MKDOCS_2_WARNING
# silences that notice, not a warning of the build.
docs: $(VENV)/.installed
	$(BIN)/cog -I docs --check --check-fail-msg "run make readme" README.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The README's generated blocks (what make grade printed, from bench/results.json), as docs/hooks.py writes the
# site's: cog runs the Python in the README's <!-- [[[cog ... ]]] --> comments.
readme: $(VENV)/.installed
	$(BIN)/cog -I docs -r README.md

# torch first, in the build this machine should have:
# 1. a torch wheel that pip's own configuration keeps on disk (--no-index reads only its
#    find-links), as this project's CI machines do: uv installs it from there (2.4 s here,
#    against 8.8 s for pip), pip where uv cannot;
# 2. else, where nvidia-smi sees a GPU, the CUDA build from PyPI;
# 3. else the CPU build from PyTorch's index (PyPI's Linux build is the multi-GB CUDA one).
# Then the project with uv, which downloads, installs and compiles to bytecode on every core
# (the whole of .venv in 25 to 37 s here, against 42 to 57 with pip alone); pip where uv
# cannot be installed or fails, as behind an index or a certificate that only pip's
# configuration knows of.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet uv || echo "uv: not installable here, pip installs the project"
	links="$${PIP_FIND_LINKS:-$$($(BIN)/python -m pip config get global.find-links 2>/dev/null)}"; \
	if test -n "$$links" && test -x $(BIN)/uv && $(BIN)/uv pip install --quiet --python $(BIN)/python \
	        --no-index --find-links "$$links" --no-deps torch 2>/dev/null; then \
	    echo "torch: the wheel pip's configuration keeps on disk, with uv"; \
	elif $(BIN)/python -m pip install --quiet --no-index --no-deps torch 2>/dev/null; then \
	    echo "torch: the wheel pip's configuration keeps on disk"; \
	elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then \
	    $(BIN)/python -m pip install --quiet torch; \
	else \
	    $(BIN)/python -m pip install --quiet torch --index-url $(CPU_INDEX); \
	fi
	test -x $(BIN)/uv && $(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode -e ".[dev]" \
	    || $(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

clean:
	rm -rf $(VENV)
