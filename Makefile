# folkclip: `make demo` runs the main job on the built-in default dataset, `make test` the tests.
# Both create .venv on first use. torch is pinned and installed first; every later install
# goes through a constraints file so nothing can swap it for a CUDA build.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
CONSTRAINTS := $(VENV)/constraints.txt

.PHONY: demo test bench results lm transfer ablation study study-full study-quick check-abc2midi clean

$(VENV)/.base: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	echo "torch==2.13.0" > $(CONSTRAINTS)
	$(PIP) install torch==2.13.0
	$(PIP) install -c $(CONSTRAINTS) -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PIP) install -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

$(VENV)/.train: $(VENV)/.base
	$(PIP) install -c $(CONSTRAINTS) -e ".[train,plots,index]"
	touch $@

demo: $(VENV)/.train
	$(VENV)/bin/folkclip data inspect default
	$(VENV)/bin/folkclip train --config configs/default.yaml --out runs/default
	$(VENV)/bin/folkclip evaluate runs/default
	$(VENV)/bin/folkclip train --config configs/title-lm.yaml --out runs/title-lm
	$(VENV)/bin/folkclip index runs/default --data default --out runs/index-default \
		--title-model runs/title-lm

test: $(VENV)/.dev
	$(PY) -m pytest -q

bench: $(VENV)/.train
	$(PY) benchmarks/read_tokenize.py
	$(PY) benchmarks/encoders.py

results: $(VENV)/.dev
	$(PY) benchmarks/results_table.py --epochs 8

# The melody LM, the transfer comparison (scratch / frozen / fine-tuned / the study's
# baseline, 3 seeds each)
# and the README's ablation; each resumes where it stopped.
LM ?= runs/melody_lm
FOLKCLIP := $(VENV)/bin/folkclip

lm: $(VENV)/.dev
	$(FOLKCLIP) train --config configs/melody_lm.yaml --out $(LM)

transfer: $(VENV)/.dev
	$(FOLKCLIP) sweep --config configs/lm-transfer.yaml --seeds 3 --out runs/transfer \
	  --set data.max_events=128 --set trainer.max_epochs=4 \
	  --variant scratch model.melody.init_from=null \
	  --variant frozen model.melody.init_from=$(LM) model.melody.freeze=all \
	  --variant finetuned model.melody.init_from=$(LM) model.melody.freeze=none
	$(FOLKCLIP) sweep --config configs/study-baseline.yaml --seeds 3 --out runs/transfer-study \
	  --set data.max_events=128 --set trainer.max_epochs=4 \
	  --variant study model.melody.init_from=$(LM)
	$(FOLKCLIP) compare runs/transfer/scratch runs/transfer/frozen runs/transfer/finetuned \
	  runs/transfer-study/study --reference scratch --out runs/transfer-table

# Grouped 5-fold cross-validation, compared query by query (the README's ablation table);
# small towers and short training so that it fits about an hour on 2 CPU cores.
ABLATION_SET := --set trainer.max_epochs=3 --set data.max_events=64 --set model.melody.dim=64 \
  --set model.title.dim=64 --set model.embed_dim=64 --set tracking.logger=csv --set trainer.threads=1
ablation: $(VENV)/.dev
	$(FOLKCLIP) ablate --config configs/default.yaml --remove rhythm,pitch,type+meter \
	  --folds 5 --seeds 1 $(ABLATION_SET) --out runs/ablation-cv

# The whole study (README "What ties a title to a melody"): every part, one folder with
# tables, figures and report.html; resumes where it stopped. Training took 82 min on 2 CPU
# cores, the tables 9 min more (README, 'What ties a title to a melody').
# STUDY_SET="--set trainer.accelerator=gpu" trains on a GPU instead (one per job).
STUDY_OUT ?= runs/study
study: $(VENV)/.dev
	$(FOLKCLIP) study --out $(STUDY_OUT) --jobs 2 $(STUDY_SET)

# The study at the default model's sizes (issue 19) in runs/study-full: about 34 hours on
# 2 CPU cores in all, in resumable steps (PART=core, baselines, ...; README, 'Full size').
study-full: $(VENV)/.dev
	$(FOLKCLIP) study --size full --jobs 2 $(if $(PART),--part $(PART)) $(STUDY_SET)

study-quick: $(VENV)/.dev
	$(FOLKCLIP) study --quick --out runs/study-quick --jobs 1

check-abc2midi: $(VENV)/.base
	$(PY) scripts/check_abc2midi.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
