# Two commands matter: `make book` (set up, then build the site) and `make test`
# (set up, then run all the tests). Each creates the virtual environment if it is missing.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: i18n-update i18n-status lock colab-drift release book-key setup setup-jax setup-browser demo test all-unit-tests unit-tests test-jax book check-notebooks rehearsal browser-tests test-browser test-colab test-colab-units test-colab-chapters test-colab-labs test-notebooks FORCE setup-labs labs publish-labs grade test-labs clean

# Every install takes its versions from requirements.lock (pip's -c: the lock constrains each
# package, direct or indirect, to one version), so two machines get the same stack. A venv that
# already holds them (a dry run of pip would install nothing but medcnn itself) is left alone:
# a newer requirements file or lock only reinstalls when the versions it asks for differ from
# what is installed, or when code/pyproject.toml changed (medcnn's own metadata); a venv without
# its stamp (a fresh clone) installs straight away.
LOCK := requirements.lock
PIP_VERSION ?= 26.3
# $(call locked_install,<what is installed>,<pip arguments: -r files>)
define locked_install
	@if [ -e $@ ] && [ -z "$(filter code/pyproject.toml,$?)" ] && $(PYTHON) -c "import medcnn" 2>/dev/null \
	  && dry=$$($(PYTHON) -m pip install --dry-run $(2) -c $(LOCK) 2>&1) \
	  && ! printf '%s\n' "$$dry" | sed -n 's/^Would install //p' | tr ' ' '\n' | grep -v '^medcnn-' | grep -q . ; then \
	  echo "$(VENV) already holds $(1) at the lock's versions: nothing to install"; \
	else \
	  tools/timed.sh "$(1) installed" $(PYTHON) -m pip install --quiet $(2) -c $(LOCK); \
	fi
endef

$(VENV)/.installed: requirements.txt $(LOCK) code/pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip --version | grep -q '^pip $(PIP_VERSION) ' || $(PYTHON) -m pip install --quiet pip==$(PIP_VERSION)
	$(call locked_install,requirements,-r requirements.txt)
	touch $@

setup: $(VENV)/.installed

# The extras (JAX, Playwright, Otter-Grader) install together, in one pip call: one recipe makes
# the three stamps (a grouped target), so make never runs two pip processes in the same venv.
EXTRAS_STAMPS := $(VENV)/.installed-jax $(VENV)/.installed-browser $(VENV)/.installed-labs
$(EXTRAS_STAMPS) &: $(VENV)/.installed requirements-jax.txt requirements-browser.txt requirements-labs.txt $(LOCK)
	$(call locked_install,extras (JAX / Playwright / Otter-Grader),-r requirements-jax.txt -r requirements-browser.txt -r requirements-labs.txt)
	touch $(EXTRAS_STAMPS)

setup-jax: $(VENV)/.installed-jax

# Refresh requirements.lock from the requirements files (PyPI, with uv in its own venv under _build):
# versions already locked are kept where they still fit; `make lock UPGRADE=1` takes the newest.
# Python 3.11.7 is the oldest 3.11 the stack accepts (soupsieve needs 3.11.5); the lock holds
# markers for every platform (--universal). setuptools (the venv's own) and medcnn are left out.
LOCK_INPUTS := requirements.txt requirements-jax.txt requirements-browser.txt requirements-labs.txt
LOCK_TOOL := _build/lock-tool
UV_VERSION := 0.13.10
lock:
	test -x $(LOCK_TOOL)/bin/uv || { python3 -m venv $(LOCK_TOOL) && $(LOCK_TOOL)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	$(LOCK_TOOL)/bin/uv pip compile --quiet --universal --python-version 3.11.7 $(if $(UPGRADE),--upgrade) \
	  --no-emit-package setuptools --no-emit-package medcnn --custom-compile-command "make lock" \
	  $(LOCK_INPUTS) -o $(LOCK)
	@echo "$(LOCK): $$(grep -c '==' $(LOCK)) packages pinned"

# Colab's published runtime against requirements-colab.txt (network; the weekly colab-stack
# workflow): fails naming each line that differs (tools/colab_freeze.py).
colab-drift:
	python3 tools/colab_freeze.py --live

setup-browser: $(VENV)/.installed-browser

# Train and evaluate one model on synthetic brain-tumour data (smoke profile) and write its report.
demo: setup
	$(PYTHON) -m medcnn synth --dataset brain_tumor --root runs/demo-data --per-class 12 --seed 0
	$(PYTHON) -m medcnn train --dataset brain_tumor --root runs/demo-data --backbone vgg16 --profile smoke --epochs 3 --out runs/demo
	@echo "Report: runs/demo/report.md"

# The main job: build the site (smoke profile) into _build/html. A chapter executes again
# when its code cells change or when anything under code/ changes (tools/build_book.py);
# otherwise its page is rebuilt from the execution cache. The chapters' run folders
# (model files, checkpoints) go to _build/tmp, emptied at each build.
book: setup
	MEDCNN_PROFILE=smoke tools/timed.sh "book build" $(PYTHON) tools/build_book.py
	@echo "Site: _build/html/index.html"

# The Spanish edition (book/start/translating.md): after an English page changed, bring its
# catalogue under locales/es up to date (new messages empty, changed ones fuzzy), then translate.
i18n-update: setup
	$(PYTHON) tools/i18n.py update
	$(PYTHON) tools/i18n.py status || true

i18n-status: setup
	$(PYTHON) tools/i18n.py status

# The key the execution cache is kept under (CI restores _build/.jupyter_cache by it; stdlib only).
book-key:
	@python3 tools/build_book.py --key

# The term's release (README, "Maintainers"): `make release TERM=2027.1` sets repository.colab_ref
# in _config.yml to v2027.1 and regenerates the notebooks (their install cells), builds the book,
# commits both, tags v2027.1 and pushes the commit and the tag; CI tests the tag and publishes its
# site to GitHub Pages. TERM must be given on the command line (the environment's TERM is the terminal).
release:
	@test "$(origin TERM)" = "command line" || { echo "usage: make release TERM=<year>.<number>, e.g. make release TERM=2027.1"; exit 2; }
	$(MAKE) --no-print-directory setup
	$(PYTHON) tools/release.py prepare --term $(TERM)
	$(MAKE) --no-print-directory book
	$(PYTHON) tools/release.py tag --term $(TERM)
	git push origin HEAD refs/tags/v$(TERM)

# Everything: the unit and integration tests on TensorFlow and the unit tests on JAX; the book
# built and then opened in Chromium (the browser test skips, saying why, where /usr/bin/chromium is
# missing); the labs built, graded and tested. Every chapter's .ipynb is checked against its .md by
# the tests (tests/test_notebooks_sync.py). The parts run two at a time (make -j2: most of each is
# single-threaded Python; three at a time was slower), the longest first. The extras (JAX, Playwright,
# Otter-Grader) install beside the start of the TensorFlow pass, before the book: they come first
# in the list because make starts a part whose set-up is still running only after the parts listed
# behind it. The time of each part, and its CPU seconds, are printed at the end, slowest first.
test:
	@mkdir -p _build && rm -f _build/timings.txt
	$(MAKE) --no-print-directory setup
	$(MAKE) --no-print-directory -j2 --output-sync=target setup-jax setup-browser setup-labs unit-tests book \
	  test-jax test-browser test-labs
	@echo "Time of each part of make test (seconds, slowest first; two parts at a time share the two cores):" && sort -rn _build/timings.txt

all-unit-tests: setup setup-jax
	$(MAKE) --no-print-directory unit-tests
	$(MAKE) --no-print-directory test-jax

# The slowest ten tests are listed at the end of each run. The Colab notebooks executed alone
# (marker `notebooks`) repeat what the book build executes: `make test-notebooks` runs them.
unit-tests: setup
	tools/timed.sh "unit and integration tests (TensorFlow)" \
	  $(PYTHON) -m pytest -q tests -m "not browser and not notebooks and not labs" --durations=10

# Every paired .ipynb executed alone in an empty folder, smoke profile, as Colab runs it.
test-notebooks: setup
	tools/timed.sh "Colab notebooks alone" $(PYTHON) -m pytest -q tests -m notebooks --durations=20

check-notebooks: setup
	tools/timed.sh "notebooks generated from their chapters" $(PYTHON) tools/check_notebooks.py

# A Colab student's full run of the three dataset chapters, rehearsed offline: full profile, real
# image size, local stand-ins of figshare and kagglehub, weights=None, MEDCNN_REHEARSAL_IMAGES images
# per class (default 8) and MEDCNN_EPOCHS epochs (default 2). Prints each chapter's time.
rehearsal: setup
	tools/timed.sh "full-profile rehearsal" $(PYTHON) tools/rehearsal.py

# Every test marked `browser` on the book as it is in _build/html (test-browser builds it first).
# The files are named (collecting all of tests/ would cost ~40 s of imports); tests/test_workflows.py
# checks that every file with a browser test is in BROWSER_TESTS.
BROWSER_TESTS ?= tests/browser tests/test_built_pages.py tests/test_release.py tests/test_labs.py
browser-tests: setup-browser
	MEDCNN_BOOK_BUILT=1 tools/timed.sh "browser test" $(PYTHON) -m pytest -q $(BROWSER_TESTS) -m browser

# The book built (from the execution cache where nothing changed), then the browser test on it.
test-browser: book
	$(MAKE) --no-print-directory browser-tests

# The unit tests again on Keras's JAX backend: the test files whose code path depends on the
# backend (models, training and its resumption, batches, augmentation, evaluation, Grad-CAM, the
# pitfalls, the benchmark, the chapters' code). The others (downloads, datasets, splits, the CLI's
# fault handling, the study's bookkeeping, the book and its tooling) run the same code on both;
# test_colab_runs checks what a Colab session relies on, and Colab runs TensorFlow.
JAX_TESTS ?= test_models test_training test_batches test_augment test_bench test_grad_cam \
  test_pitfalls test_faults_training test_evaluation test_pipeline test_chapter_code
test-jax: setup-jax
	KERAS_BACKEND=jax tools/timed.sh "unit tests (JAX)" \
	  $(PYTHON) -m pytest -q $(patsubst %,tests/%.py,$(JAX_TESTS)) \
	  -m "not browser and not integration and not labs" --durations=10

# The unit tests and the three dataset chapters (smoke profile, each notebook alone in an empty
# folder) on Google Colab's versions: requirements-colab.txt, in a separate venv, medcnn installed
# on top as a student installs it (not editable). Not part of `make test`: it takes several minutes.
COLAB_VENV ?= .venv-colab
COLAB_CHAPTERS ?= book/datasets/brain_tumor.ipynb book/datasets/covid19.ipynb book/datasets/retina.ipynb
# Tests of the site and the repository's tooling (Sphinx, the notebook generator, workflows), not of
# what runs on Colab: they need the book's stack, which Colab does not have.
COLAB_SKIP_TESTS ?= browser test_book.py test_notebooks_sync.py test_colab_notebooks.py test_workflows.py \
  test_lock.py test_release.py test_colab_freeze.py test_labs.py test_labs_attacks.py test_labs_colab.py

$(COLAB_VENV)/.installed: requirements-colab.txt
	test -x $(COLAB_VENV)/bin/python || python3 -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r requirements-colab.txt
	touch $@

test-colab: test-colab-units test-colab-chapters test-colab-labs

$(COLAB_VENV)/.medcnn: $(COLAB_VENV)/.installed FORCE
	$(COLAB_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps ./code
	$(COLAB_VENV)/bin/python -m pip check  # medcnn's lower bounds admit every Colab pin: nothing replaced
	$(COLAB_VENV)/bin/python -c "import keras, numpy, tensorflow, kagglehub, medcnn; print('Colab stack: keras', keras.__version__, 'tensorflow', tensorflow.__version__, 'numpy', numpy.__version__, 'kagglehub', kagglehub.__version__, '- medcnn from', medcnn.__file__)"

test-colab-units: $(COLAB_VENV)/.medcnn
	$(COLAB_VENV)/bin/python -m pytest -q tests -m "not integration and not browser" -p no:cacheprovider \
	  $(addprefix --ignore=tests/,$(COLAB_SKIP_TESTS))

# The labs' install cell on Colab's stack: Otter-Grader installed without replacing Colab's ipywidgets
# or wrapt, and grader.check scoring a right and a wrong answer (it installs packages: here only).
test-colab-labs: $(COLAB_VENV)/.medcnn
	$(COLAB_VENV)/bin/python -m pytest -q tests/test_labs_colab.py -m colab_stack -p no:cacheprovider

test-colab-chapters: $(COLAB_VENV)/.medcnn
	@for notebook in $(COLAB_CHAPTERS); do \
	  folder=$$(mktemp -d) && cp $$notebook $$folder/ && echo "running $$notebook alone in $$folder" && \
	  (cd $$folder && MEDCNN_PROFILE=smoke MEDCNN_DATA_DIR=$$folder/data $(CURDIR)/$(COLAB_VENV)/bin/jupyter-nbconvert \
	    --to notebook --execute --ExecutePreprocessor.timeout=1200 --output executed.ipynb $$(basename $$notebook)) \
	  && rm -rf $$folder || exit 1; \
	done

FORCE:

# Labs (labs/<lab>/<lab>.md, Otter-Grader): `make labs` writes each lab's student notebook and
# autograder to _build/labs/<lab>/ and fails if a committed student copy labs/<lab>/student/ is out
# of date; `make publish-labs` does the same and refreshes those copies (commit them);
# `make grade LAB=<lab> SUBMISSIONS=<folder> [JOBS=2]` grades a folder of submissions into
# _build/labs/<lab>/grades/ (grades.csv, feedback/, manual.csv), rebuilding the lab first when its
# source changed; each notebook runs sandboxed (tools/grading_sandbox.py: as root, its own user
# and namespaces) and the hidden tests run in the grader.
setup-labs: $(VENV)/.installed-labs

labs: setup-labs
	tools/timed.sh "labs generated" $(PYTHON) tools/labs.py --check

publish-labs: setup-labs
	$(PYTHON) tools/labs.py --publish

grade: setup-labs
	@test -n "$(LAB)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade LAB=<lab> SUBMISSIONS=<folder of notebooks>"; exit 2; }
	$(PYTHON) tools/labs_grade.py --lab $(LAB) --submissions $(SUBMISSIONS) $(if $(JOBS),--jobs $(JOBS))

test-labs: labs
	MEDCNN_LABS_BUILT=1 tools/timed.sh "labs tests" $(PYTHON) -m pytest -q tests/test_labs.py tests/test_labs_attacks.py \
	  -m labs --durations=10

clean:
	rm -rf _build runs
