# Two commands matter: `make book` (set up, then build the site) and `make test`
# (set up, then run all the tests). Each creates the virtual environment if it is missing.

VENV ?= .venv
PYTHON := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: setup setup-jax setup-browser demo test unit-tests test-jax book check-notebooks test-browser test-colab clean

$(VENV)/.installed: requirements.txt code/pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed

$(VENV)/.installed-jax: $(VENV)/.installed requirements-jax.txt
	$(PYTHON) -m pip install --quiet -r requirements-jax.txt
	touch $@

setup-jax: $(VENV)/.installed-jax

$(VENV)/.installed-browser: $(VENV)/.installed requirements-browser.txt
	$(PYTHON) -m pip install --quiet -r requirements-browser.txt
	touch $@

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
	MEDCNN_PROFILE=smoke $(PYTHON) tools/build_book.py
	@echo "Site: _build/html/index.html"

# Everything: notebooks in sync, unit and integration tests, the book built and checked in Chromium
# (the browser test skips, saying why, where /usr/bin/chromium is missing).
test: unit-tests check-notebooks test-browser

unit-tests: setup
	$(PYTHON) -m pytest -q tests -m "not browser"

check-notebooks: setup
	$(PYTHON) tools/check_notebooks.py

test-browser: setup-browser book
	MEDCNN_BOOK_BUILT=1 $(PYTHON) -m pytest -q tests/browser -m browser

# The unit tests again on Keras's JAX backend (the workflow, book and browser tests need only one backend).
test-jax: setup-jax
	KERAS_BACKEND=jax $(PYTHON) -m pytest -q tests -m "not browser and not integration"

# The unit tests and the three dataset chapters (smoke profile, each notebook alone in an empty
# folder) on Google Colab's versions: requirements-colab.txt, in a separate venv, medcnn installed
# on top as a student installs it (not editable). Not part of `make test`: it takes several minutes.
COLAB_VENV ?= .venv-colab
COLAB_CHAPTERS ?= book/datasets/brain_tumor.ipynb book/datasets/covid19.ipynb book/datasets/retina.ipynb

$(COLAB_VENV)/.installed: requirements-colab.txt
	test -x $(COLAB_VENV)/bin/python || python3 -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r requirements-colab.txt
	touch $@

test-colab: $(COLAB_VENV)/.installed
	$(COLAB_VENV)/bin/python -m pip install --quiet --force-reinstall --no-deps ./code
	$(COLAB_VENV)/bin/python -m pip check  # medcnn's lower bounds admit every Colab pin: nothing replaced
	$(COLAB_VENV)/bin/python -c "import keras, numpy, tensorflow, kagglehub, medcnn; print('Colab stack: keras', keras.__version__, 'tensorflow', tensorflow.__version__, 'numpy', numpy.__version__, 'kagglehub', kagglehub.__version__, '- medcnn from', medcnn.__file__)"
	$(COLAB_VENV)/bin/python -m pytest -q tests -m "not integration and not browser" -p no:cacheprovider
	@for notebook in $(COLAB_CHAPTERS); do \
	  folder=$$(mktemp -d) && cp $$notebook $$folder/ && echo "running $$notebook alone in $$folder" && \
	  (cd $$folder && MEDCNN_PROFILE=smoke MEDCNN_DATA_DIR=$$folder/data $(CURDIR)/$(COLAB_VENV)/bin/jupyter-nbconvert \
	    --to notebook --execute --ExecutePreprocessor.timeout=1200 --output executed.ipynb $$(basename $$notebook)) \
	  && rm -rf $$folder || exit 1; \
	done

clean:
	rm -rf _build runs
