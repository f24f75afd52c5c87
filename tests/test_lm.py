"""Tests for the melody language model: the model, sampling, the validity figures,
training with ``folkclip train`` (task ``melody_lm``), ``folkclip generate`` and the
transfer of its backbone into the ``lm`` melody arch."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from folkclip.abc.parser import parse_tunebook
from folkclip.data.dataset import tokenize_corpus
from folkclip.errors import FolkclipError
from folkclip.generate.sampling import EventCompleter, sample, sample_batch, to_tunebook
from folkclip.generate.checks import bar_lengths, check_tunebook, split_records
from folkclip.models import MelodyConfig, ModelConfig, TitleConfig, TwoTower, create_model
from folkclip.models.config import LMConfig
from folkclip.models.lm import MelodyLM, corpus_perplexity, lm_loss, load_lm
from folkclip.eval.ngram import bigram_perplexity, unigram_perplexity
from folkclip.io.sources import Corpus
from folkclip.data.tokenize import BOS, EOS, FIELDS, Tokenizer, TokenizerConfig

ROOT = Path(__file__).resolve().parents[1]
VOCAB = {f: 30 for f in FIELDS}
TINY_LM = LMConfig(dim=16, layers=2, heads=2, dropout=0.0, max_len=48)
needs_abc2midi = pytest.mark.skipif(shutil.which("abc2midi") is None,
                                    reason="abc2midi (abcmidi package) is not on PATH")


def random_batch(seed: int = 0, lengths: tuple[int, ...] = (20, 13, 7), length: int = 20
                 ) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(len(lengths), length, len(FIELDS), dtype=torch.int64)
    mask = torch.zeros(len(lengths), length, dtype=torch.bool)
    for i, n in enumerate(lengths):
        tokens[i, :n] = torch.randint(2, 30, (n, len(FIELDS)), generator=g)
        mask[i, :n] = True
    return {"tokens": tokens, "mask": mask}


def fixture_corpus(jig_text: str, reel_book: str):
    tunes, _ = parse_tunebook(jig_text + "\n" + reel_book, "tiny.abc")
    return tokenize_corpus(Corpus(tunes, [], []))


# ---------------------------------------------------------------------------- model
def test_lm_forward_backward_and_loss():
    torch.manual_seed(0)
    model = MelodyLM(TINY_LM, VOCAB)
    batch = random_batch()
    out = model(batch)
    assert set(out) == {"token_logits", "duration_logits"}
    assert out["token_logits"].shape == (3, 20, 30) and out["duration_logits"].shape == (3, 20, 30)
    losses = lm_loss(out, batch["tokens"])
    assert int(losses["n_targets"]) == 19 + 12 + 6  # every real event but the first
    # the loss is the sum of the two fields' mean cross-entropies over real targets
    expected = 0.0
    for f in ("token", "duration"):
        j = FIELDS.index(f)
        rows = [(b, t) for b, n in enumerate((20, 13, 7)) for t in range(n - 1)]
        logits = torch.stack([out[f"{f}_logits"][b, t] for b, t in rows])
        target = torch.stack([batch["tokens"][b, t + 1, j] for b, t in rows])
        expected += torch.nn.functional.cross_entropy(logits, target)
    torch.testing.assert_close(losses["lm_loss"], expected)
    losses["lm_loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_lm_is_causal_and_ignores_padding():
    torch.manual_seed(0)
    model = MelodyLM(TINY_LM, VOCAB).eval()
    batch = random_batch()
    changed = {k: v.clone() for k, v in batch.items()}
    t = 8
    changed["tokens"][:, t + 1] = (changed["tokens"][:, t + 1] % 28) + 2  # another event t+1
    longer = {"tokens": torch.cat([batch["tokens"], torch.zeros(3, 10, len(FIELDS),
                                                                dtype=torch.int64)], 1),
              "mask": torch.cat([batch["mask"], torch.zeros(3, 10, dtype=torch.bool)], 1)}
    with torch.no_grad():
        a, b, c = model(batch), model(changed), model(longer)
    for key in a:
        torch.testing.assert_close(a[key][:, : t + 1], b[key][:, : t + 1])
        assert not torch.allclose(a[key][0, t + 1], b[key][0, t + 1])
        for row, n in enumerate((20, 13, 7)):
            torch.testing.assert_close(a[key][row, :n], c[key][row, :n], atol=1e-5, rtol=1e-4)


def test_lm_refuses_sequences_longer_than_its_positions():
    model = MelodyLM(TINY_LM, VOCAB)
    with pytest.raises(FolkclipError, match="max_len"):
        model(random_batch(lengths=(60,), length=60))


def test_lm_config_is_checked():
    with pytest.raises(FolkclipError, match="divisible"):
        LMConfig(dim=30, heads=4)
    with pytest.raises(FolkclipError, match="lm.layers"):
        LMConfig(layers=0)
    melody = MelodyConfig(arch="lm", dim=32, layers=3, heads=2, dropout=0.2, max_len=64)
    assert LMConfig.from_melody(melody) == LMConfig(32, 3, 2, 0.2, 64)
    with pytest.raises(FolkclipError, match="gru_layers"):
        MelodyConfig(arch="gru", gru_layers=1)


def test_corpus_perplexity_matches_the_loss(jig_text, reel_book):
    tc = fixture_corpus(jig_text, reel_book)
    torch.manual_seed(0)
    model = MelodyLM(TINY_LM, {f: len(v) for f, v in tc.vocab.items()})
    got = corpus_perplexity(model, tc, range(len(tc)), max_events=40, batch_size=2)
    from folkclip.data.batch import tune_batch

    batch = tune_batch(tc, range(len(tc)), 40)
    with torch.no_grad():
        losses = lm_loss(model.eval()(batch), batch["tokens"])
    assert got["n_targets"] == int(losses["n_targets"]) == sum(
        min(40, int(tc.offsets[i + 1] - tc.offsets[i])) - 1 for i in range(len(tc)))
    assert got["token_ppl"] == pytest.approx(math.exp(float(losses["token_loss"])), rel=1e-5)
    assert got["loss"] == pytest.approx(float(losses["lm_loss"]), rel=1e-5)


# ---------------------------------------------------------------------- baselines
def test_ngram_perplexities_by_hand():
    train, test = [np.array([1, 2, 3, 2])], [np.array([1, 2, 4])]
    # unigram: targets 2, 3, 2 -> c(2)=2, c(3)=1, N=3, V=4: P(2)=3/7, P(4)=1/7
    assert unigram_perplexity(train, test, 4) == pytest.approx(math.sqrt(49 / 3))
    # bigram: (1,2), (2,3), (3,2): P(2|1) = 2/5, P(4|2) = 1/5
    assert bigram_perplexity(train, test, 4) == pytest.approx(math.sqrt(25 / 2))
    # uniform without data
    assert unigram_perplexity([], test, 4) == pytest.approx(4.0)
    assert bigram_perplexity([], test, 4) == pytest.approx(4.0)


# ----------------------------------------------------------------------- sampling
@pytest.mark.parametrize("remove", [(), ("meter",), ("octave",), ("rhythm",), ("key",),
                                    ("barlines",), ("key", "mode", "type")])
@pytest.mark.parametrize("transpose", [True, False])
def test_completed_events_match_the_tokenizer(jig_text, reel_book, remove, transpose):
    tunes, _ = parse_tunebook(jig_text + "\n" + reel_book)
    config = TokenizerConfig(remove=remove, transpose=transpose)
    for tune in tunes:
        events = Tokenizer(config).tokenize(tune).events
        completer = EventCompleter(config)
        got = [completer.event(ev[0], ev[1]) for ev in events]
        # token, duration, position, bar, degree, octave are recomputed; tie, ornament
        # and chord are left out
        assert [g[:6] for g in got] == [e[:6] for e in events], tune.title
        assert all(g[6:] == ("-", "-", "-") for g in got)


def tiny_vocab_model(jig_text, reel_book, seed=0):
    tc = fixture_corpus(jig_text, reel_book)
    torch.manual_seed(seed)
    return MelodyLM(TINY_LM, {f: len(v) for f, v in tc.vocab.items()}), tc


def test_sampling_is_deterministic_and_well_formed(jig_text, reel_book):
    model, tc = tiny_vocab_model(jig_text, reel_book)
    header = ["type:reel", "meter:4/4"]
    a = sample(model, tc.vocab, header, max_events=40, seed=3, tokenizer_config=tc.config)
    b = sample(model, tc.vocab, header, max_events=40, seed=3, tokenizer_config=tc.config)
    c = sample(model, tc.vocab, header, max_events=40, seed=4, tokenizer_config=tc.config)
    assert a == b and a != c
    tokens = [ev[0] for ev in a]
    assert tokens[:3] == [BOS, "type:reel", "meter:4/4"]
    assert tokens[3].startswith("mode:") and tokens[4].startswith("key:")
    assert tokens[5].startswith("unit:")
    assert tokens[-1] == EOS or len(a) == 40
    assert EOS not in tokens[:-1]
    body = tokens[6:]
    assert not any(t.startswith(("type:", "unit:", "<bos>", "<pad>", "<unk>")) for t in body)
    assert all(len(ev) == len(FIELDS) for ev in a)
    notes = [ev for ev in a if ev[0].startswith("p") or ev[0] == "rest"]
    assert all(ev[1] != "-" and ev[2] != "-" for ev in notes)
    # the batch samples tune i with seed + i
    many = sample_batch(model, tc.vocab, 3, header, 40, seed=2, tokenizer_config=tc.config)
    assert many[1] == a
    greedy = sample(model, tc.vocab, header, max_events=40, temperature=0, seed=1,
                    tokenizer_config=tc.config)
    assert greedy == sample(model, tc.vocab, header, max_events=40, temperature=0, seed=9,
                            tokenizer_config=tc.config)


def test_sampling_rejects_unknown_header_tokens(jig_text, reel_book):
    model, tc = tiny_vocab_model(jig_text, reel_book)
    with pytest.raises(FolkclipError, match="never seen 'type:polka'"):
        sample(model, tc.vocab, ["type:polka"], tokenizer_config=tc.config)
    with pytest.raises(FolkclipError, match="no header slot"):
        sample(model, tc.vocab, ["tempo:120"], tokenizer_config=tc.config)


def test_sampled_tunes_are_read_back(jig_text, reel_book):
    model, tc = tiny_vocab_model(jig_text, reel_book)
    tunes = sample_batch(model, tc.vocab, 4, ["type:reel"], 48, top_k=10, seed=0,
                         tokenizer_config=tc.config)
    text = to_tunebook(tunes, tc.config)
    read, problems = parse_tunebook(text)
    assert len(read) == 4 and not [p for p in problems if p.severity == "error"]
    assert [t.number for t in read] == ["1", "2", "3", "4"]
    assert all(t.tune_type == "reel" and t.title for t in read)


# ------------------------------------------------------------------ validity figures
GOOD = "X:1\nT:Good\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dBGB|cBAG FGAF|GABc d4|]\n"
SHORT_BAR = "X:2\nT:Short bar\nM:4/4\nL:1/8\nK:G\nGABc dedB|dedB dBG|cBAG FGAF|GABc d4|]\n"


def test_validity_of_hand_written_tunes():
    figures = check_tunebook(GOOD + "\n" + SHORT_BAR, abc2midi=False)
    assert figures == {"tunes": 2, "reader/ok": 2, "reader/share": 1.0, "abc2midi/ok": None,
                       "abc2midi/share": None, "abc2midi/errors": None,
                       "bars/complete": 4, "bars/matching": 3, "bars/share": 0.75}
    unreadable = "X:3\nT:Bad key\nM:4/4\nL:1/8\nK:Hm\nABcd|\n"
    figures = check_tunebook(GOOD + "\n" + unreadable, abc2midi=False)
    assert (figures["tunes"], figures["reader/ok"], figures["reader/share"]) == (2, 1, 0.5)
    assert (figures["bars/complete"], figures["bars/matching"]) == (2, 2)


def test_bar_lengths_follow_meter_changes():
    text = "X:1\nM:3/4\nL:1/4\nK:C\nCDE|CDE|[M:2/4]CD|CD|CDE|C|]\n"
    tune = parse_tunebook(text)[0][0]
    assert bar_lengths(tune) == (4, 3)  # bars 1..4: CDE, CD, CD ok; CDE too long in 2/4


def test_split_records_keeps_the_file_header():
    records = split_records("L:1/4\n\nX:1\nK:C\nC|\n\nX:2\nK:D\nD|\n")
    assert records == ["L:1/4\nX:1\nK:C\nC|\n", "L:1/4\nX:2\nK:D\nD|\n"]


@needs_abc2midi
def test_validity_with_abc2midi():
    figures = check_tunebook(GOOD + "\n" + SHORT_BAR)
    assert (figures["abc2midi/ok"], figures["abc2midi/share"], figures["abc2midi/errors"]) \
        == (2, 1.0, [0, 0])  # a short bar is only a warning for abc2midi
    bad_char = "X:4\nT:Bad character\nM:4/4\nL:1/8\nK:G\nGABc dedB|cBA# FGAF|GABc d4|]\n"
    figures = check_tunebook(GOOD + "\n" + bad_char)
    assert figures["reader/ok"] == 2  # folkclip reads past it with a warning
    assert (figures["abc2midi/ok"], figures["abc2midi/errors"]) == (1, [0, 1])


# ------------------------------------------------------------- training and generating
LM_SETS = ["--data", "tiny", "--set", "trainer.batch_size=16", "--set", "model.melody.dim=16",
           "--set", "model.melody.heads=2", "--set", "model.melody.layers=2",
           "--set", "model.melody.max_len=64", "--set", "data.max_events=64",
           "--set", "optim.lr=0.003", "--set", "optim.warmup_steps=2",
           "--set", "trainer.progress_bar=false", "--set", "tracking.logger=csv",
           "--set", "trainer.threads=1", "--set", "trainer.log_every_n_steps=1"]


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory) -> Path:
    pytest.importorskip("lightning")
    from folkclip_cli.main import main

    out = tmp_path_factory.mktemp("lm_run")
    code = main(["train", "--config", str(ROOT / "configs" / "melody_lm.yaml"), "--out",
                 str(out), "--set", "trainer.max_steps=10", *LM_SETS])
    assert code == 0
    return out


def val_losses(run: Path) -> list[tuple[int, float]]:
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").read_text().splitlines()))
    return [(int(r["step"]), float(r["val/loss"])) for r in rows if r.get("val/loss")]


def test_lm_run_folder(lm_run):
    for name in ("config.yaml", "split.json", "checkpoints/last.ckpt", "checkpoints/best.ckpt",
                 "model/lm.json", "model/lm_weights.pt", "logs/metrics.csv",
                 "perplexity.json"):
        assert (lm_run / name).exists(), name
    losses = val_losses(lm_run)
    assert len(losses) >= 2 and losses[-1][1] < losses[0][1]  # validation loss went down
    ppl = json.loads((lm_run / "perplexity.json").read_text())
    for key in ("lm/token_ppl", "lm/duration_ppl", "unigram/token_ppl", "bigram/token_ppl"):
        assert ppl[key] > 1.0, key
    assert ppl["split"] == "test" and ppl["n_targets"] > 0  # not the selection split
    val = ppl["validation"]
    assert math.log(val["lm/token_ppl"]) + math.log(val["lm/duration_ppl"]) \
        == pytest.approx(min(loss for _, loss in losses), rel=1e-4)  # the best checkpoint


def test_lm_and_baseline_perplexities_are_on_the_test_split(lm_run):
    from folkclip.data.dataset import load_tokenized
    from folkclip_cli.train.lm_task import baseline_perplexities

    tc = load_tokenized(["tiny"], TokenizerConfig())
    splits = tc.split(0, (0.8, 0.1, 0.1))
    ppl = json.loads((lm_run / "perplexity.json").read_text())
    model = load_lm(lm_run / "model")
    got = corpus_perplexity(model.model, tc, splits["test"], max_events=64)
    assert ppl["n_tunes"] == len(splits["test"]) and ppl["n_targets"] == got["n_targets"]
    assert ppl["lm/token_ppl"] == pytest.approx(got["token_ppl"], rel=1e-5)
    base = baseline_perplexities(tc, splits["train"], splits["test"], 64)
    assert ppl["bigram/token_ppl"] == pytest.approx(base["bigram/token_ppl"])
    assert ppl["unigram/token_ppl"] == pytest.approx(base["unigram/token_ppl"])


def test_lm_run_uses_every_tune_and_the_leakage_safe_split(lm_run):
    from folkclip.data.dataset import load_tokenized

    tc = load_tokenized(["tiny"], TokenizerConfig())
    split = json.loads((lm_run / "split.json").read_text())
    expected = tc.split(0, (0.8, 0.1, 0.1))
    for name, indices in expected.items():
        assert split[name] == [f"{tc.meta[i]['source']}#{tc.meta[i]['number']}"
                               for i in indices]
    assert sum(len(v) for v in split.values()) == len(tc)


def test_exported_lm_loads_and_samples(lm_run):
    lm = load_lm(lm_run)
    info = json.loads((lm_run / "model" / "lm.json").read_text())
    assert info["lm"] == {"dim": 16, "layers": 2, "heads": 2, "dropout": 0.1, "max_len": 64}
    assert set(info) >= {"vocab", "tokenizer", "max_events"}
    assert lm.max_events == 64 and not lm.model.training
    events = sample(lm.model, lm.vocab, ["type:reel"], 64, seed=0,
                    tokenizer_config=lm.tokenizer_config)
    assert events[1][0] == "type:reel" and (events[-1][0] == EOS or len(events) == 64)


def test_lm_resume_continues(lm_run, tmp_path):
    from folkclip_cli.main import main

    run = tmp_path / "resumed"
    shutil.copytree(lm_run, run)
    assert main(["train", "--config", str(ROOT / "configs" / "melody_lm.yaml"), "--out",
                 str(run), "--resume", "--set", "trainer.max_steps=12", *LM_SETS]) == 0
    rows = list(csv.DictReader((run / "logs" / "metrics.csv").read_text().splitlines()))
    assert max(int(r["step"]) for r in rows if r.get("step")) >= 10


def test_lm_task_needs_the_lm_arch_and_its_monitor(tmp_path, capsys):
    from folkclip_cli.main import main

    config = str(ROOT / "configs" / "melody_lm.yaml")
    assert main(["train", "--config", config, "--out", str(tmp_path),
                 "--set", "model.melody.arch=gru"]) == 2
    assert "model.melody.arch: lm" in capsys.readouterr().err
    assert main(["train", "--config", config, "--out", str(tmp_path),
                 "--set", "trainer.monitor=val/mrr_mean"]) == 2
    assert "val/loss" in capsys.readouterr().err


def test_generate_command(lm_run, tmp_path, capsys):
    from folkclip_cli.main import main

    capsys.readouterr()
    out = tmp_path / "book.abc"
    args = ["generate", str(lm_run), "-n", "3", "--type", "reel", "--meter", "4/4",
            "--seed", "5", "--max-events", "48", "--top-k", "20", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 tunes" in printed and "folkclip reader: 3/3" in printed
    assert "complete bars match the meter" in printed
    text = out.read_text()
    tunes, problems = parse_tunebook(text)
    assert len(tunes) == 3 and not [p for p in problems if p.severity == "error"]
    assert all(t.tune_type == "reel" and t.meter == (4, 4) for t in tunes)
    for field in ("X:", "T:", "R:", "M:", "L:", "K:"):
        assert text.count("\n" + field) + text.startswith(field) == 3, field
    assert main(args[:-1] + [str(tmp_path / "again.abc")]) == 0
    assert (tmp_path / "again.abc").read_text() == text  # same seed, same tunes
    capsys.readouterr()
    assert main(["generate", str(lm_run), "-n", "1", "--type", "polka"]) == 2
    assert "never seen 'type:polka'" in capsys.readouterr().err
    assert main(["generate", str(tmp_path), "-n", "1"]) == 2
    assert "no melody language model" in capsys.readouterr().err


def test_generation_benchmark_prints_figures(lm_run, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("generation_bench",
                                                  ROOT / "benchmarks" / "generation.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main([str(lm_run), "-n", "2", "--max-events", "32", "--no-abc2midi"]) == 0
    printed = capsys.readouterr().out
    assert "folkclip reader: 2/2" in printed and "tunes/s" in printed


# --------------------------------------------------------------------------- transfer
def lm_sizes(run: Path) -> dict[str, int]:
    return {f: len(v) for f, v in load_lm(run).vocab.items()}


def valid_batch(run: Path, lengths: tuple[int, ...] = (12, 9, 4), length: int = 12
                ) -> dict[str, torch.Tensor]:
    """Random events with ids inside the LM run's vocabulary."""
    g = torch.Generator().manual_seed(0)
    sizes = lm_sizes(run)
    tokens = torch.stack([torch.randint(1, sizes[f], (len(lengths), length), generator=g)
                          for f in FIELDS], -1)  # (B, T, F)
    mask = torch.arange(length).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)  # (B, T)
    return {"tokens": tokens * mask.unsqueeze(-1), "mask": mask}


def transfer_model(run: Path, **changes: object) -> TwoTower:
    melody = {"arch": "lm", "dim": 64, "layers": 3, "heads": 4, "max_len": 32,
              "init_from": str(run), **changes}
    config = ModelConfig(melody=MelodyConfig(**melody),  # type: ignore[arg-type]
                         title=TitleConfig(arch="word", dim=16, hash_buckets=64, mlp_hidden=16),
                         embed_dim=8)
    return TwoTower(config, lm_sizes(run))


def test_transfer_loads_the_lm_backbone(lm_run):
    lm = load_lm(lm_run)
    model = transfer_model(lm_run)
    melody = model.melody
    # the sizes come from the LM run, not from the melody config
    assert (melody.config.dim, melody.config.layers, melody.config.heads,
            melody.config.max_len) == (16, 2, 2, 64)
    assert melody.out_dim == 16 and model.tune_proj.in_features == 16
    lm_state = lm.model.backbone.state_dict()
    for name, value in melody.backbone.state_dict().items():
        assert torch.equal(value, lm_state[name]), name
    # the encoder runs the backbone causally, as the LM was trained
    batch = valid_batch(lm_run)
    with torch.no_grad():
        states = melody.eval().backbone(batch["tokens"], batch["mask"])
        lm_states = lm.model.backbone(batch["tokens"], batch["mask"])
    torch.testing.assert_close(states, lm_states)


def test_transfer_freeze_modes(lm_run):
    model = transfer_model(lm_run, freeze="all")
    assert not any(p.requires_grad for p in model.melody.parameters())
    model = transfer_model(lm_run, freeze="top:1")
    layers = model.melody.encoder_layers()
    assert len(layers) == 2
    trainable = {id(p) for p in model.melody.parameters() if p.requires_grad}
    assert trainable == {id(p) for m in [layers[1], *model.melody.head_modules()]
                         for p in m.parameters()}
    # the original study: frozen LM, trained BiGRU on top
    model = transfer_model(lm_run, freeze="top:0", gru_layers=1)
    trainable = {n for n, p in model.melody.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("rnn.", "norm.", "backbone.norm.")) for n in trainable)
    assert any(n.startswith("rnn.") for n in trainable)
    assert not any(p.requires_grad for p in model.melody.backbone.encoder.parameters())
    assert not any(p.requires_grad for p in model.melody.backbone.embed.parameters())
    assert all(p.requires_grad for p in transfer_model(lm_run).melody.parameters())


def test_transfer_errors(lm_run):
    with pytest.raises(FolkclipError, match="vocabulary"):
        TwoTower(ModelConfig(melody=MelodyConfig(arch="lm", init_from=str(lm_run))), VOCAB)
    with pytest.raises(FolkclipError, match="only the 'lm' melody arch"):
        TwoTower(ModelConfig(melody=MelodyConfig(arch="gru", init_from=str(lm_run))), VOCAB)
    with pytest.raises(FolkclipError, match="no melody language model"):
        from folkclip.models.lm import read_lm_info

        read_lm_info(lm_run / "logs")


def test_lm_pooling_last_and_with_gru(lm_run):
    for changes in ({"pooling": "last"}, {"pooling": "last", "gru_layers": 1},
                    {"pooling": "mean", "gru_layers": 2}):
        model = transfer_model(lm_run, **changes).eval()
        batch = valid_batch(lm_run)
        with torch.no_grad():
            emb = model.encode_tunes(batch)
            padded = model.encode_tunes({"tokens": torch.cat(
                [batch["tokens"], torch.zeros(3, 5, len(FIELDS), dtype=torch.int64)], 1),
                "mask": torch.cat([batch["mask"], torch.zeros(3, 5, dtype=torch.bool)], 1)})
        torch.testing.assert_close(emb, padded, atol=1e-5, rtol=1e-4)
    with pytest.raises(FolkclipError, match="pooling"):
        transfer_model(lm_run, pooling="max")


def test_packaged_transfer_configs(lm_run):
    from folkclip_cli.train.config import load_config

    cfg = load_config(ROOT / "configs" / "lm-transfer.yaml")
    assert cfg.model.melody.arch == "lm" and cfg.model.melody.init_from is None
    study = load_config(ROOT / "configs" / "study-baseline.yaml",
                        [f"model.melody.init_from={lm_run}"])
    mc = study.model.melody
    assert (mc.arch, mc.freeze, mc.gru_layers, mc.init_from) == ("lm", "top:0", 1, str(lm_run))
    assert (study.model.title.arch, study.model.title.finetune) == ("minilm", False)
    assert (study.loss.kind, study.loss.margin) == ("hinge", 0.1)
    model = create_model(study.model, lm_sizes(lm_run), **{"title.arch": "word"})
    trainable = {n for n, p in model.melody.named_parameters() if p.requires_grad}
    assert trainable and not any(n.startswith("backbone.encoder.") for n in trainable)


def test_contrastive_training_from_an_lm_run(lm_run, tmp_path, capsys):
    import folkclip
    from folkclip_cli.main import main

    out = tmp_path / "transfer"
    code = main(["train", "--config", str(ROOT / "configs" / "lm-transfer.yaml"), "--out",
                 str(out), "--data", "tiny", "--set", f"model.melody.init_from={lm_run}",
                 "--set", "trainer.max_steps=2", "--set", "trainer.batch_size=16",
                 "--set", "model.title.dim=16", "--set", "model.embed_dim=8",
                 "--set", "tracking.probe_size=2", "--set", "trainer.progress_bar=false",
                 "--set", "tracking.logger=csv", "--set", "trainer.threads=1"])
    assert code == 0
    import yaml

    written = yaml.safe_load((out / "config.yaml").read_text())["model"]["melody"]
    assert (written["dim"], written["layers"], written["heads"]) == (16, 2, 2)
    exported = json.loads((out / "model" / "model.json").read_text())
    assert exported["vocab"] == load_lm(lm_run).vocab
    fm = folkclip.load(out)
    assert fm.embed_titles(["The Kesh"]).shape == (1, 8)
    capsys.readouterr()
    code = main(["train", "--config", str(ROOT / "configs" / "lm-transfer.yaml"), "--out",
                 str(tmp_path / "x"), "--data", "tiny", "--set",
                 f"model.melody.init_from={lm_run}", "--set", "data.transpose=false"])
    assert code == 2  # the data must be tokenized as the LM's was
    assert "trained with transpose=True" in capsys.readouterr().err


def test_transfer_export_is_self_contained(lm_run, tmp_path):
    """Bias 7 of issue 11: loading a transferred model must not re-read the LM run."""
    import folkclip
    from folkclip_cli.main import main
    from folkclip.data.dataset import load_tokenized
    from folkclip.eval.evaluation import EvalSet, embed

    lm_copy = tmp_path / "lm"
    shutil.copytree(lm_run, lm_copy)
    out = tmp_path / "transfer"
    assert main(["train", "--config", str(ROOT / "configs" / "lm-transfer.yaml"), "--out",
                 str(out), "--data", "tiny", "--set", f"model.melody.init_from={lm_copy}",
                 "--set", "trainer.max_steps=2", "--set", "trainer.batch_size=16",
                 "--set", "model.title.dim=16", "--set", "model.embed_dim=8",
                 "--set", "tracking.probe_size=2", "--set", "trainer.progress_bar=false",
                 "--set", "tracking.logger=csv", "--set", "trainer.threads=1"]) == 0

    def embeddings() -> tuple[np.ndarray, np.ndarray]:
        fm = folkclip.load(out)
        tc = load_tokenized(["tiny"], fm.tokenizer_config)
        tunes, _ = embed(fm.model, tc, EvalSet(tc, range(12)), max_events=fm.max_events,
                         ids=fm.corpus_ids(tc))
        return tunes, fm.embed_titles(["The Kesh", "Cooley's"])

    before = embeddings()
    exported = json.loads((out / "model" / "model.json").read_text())
    assert exported["model"]["melody"]["init_from"] is None
    assert exported["init_from"]["path"] == str(lm_copy)
    assert exported["init_from"]["lm"]["dim"] == 16  # the LM's config travels with it
    shutil.rmtree(lm_copy)
    after = embeddings()
    np.testing.assert_array_equal(before[0], after[0])
    np.testing.assert_array_equal(before[1], after[1])
