"""Interactive co-learning: subsets as dropped keys, the three modes, determinism, and the
paper's table 2 in miniature (co-learning keeps audio-only performance, AV-only training
loses it)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

import emofuse
from emofuse.blocks import AttentiveSwishClassifier, CrossModalTransformer
from emofuse.training import (
    CoLearning,
    colearning_loss,
    drop_modalities,
    modality_subsets,
    multilabel_bce,
)
from examples.colearning_synthetic import compare

AV = ("audio", "video")


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny matrices: a second thread only adds contention on a shared machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class MiniCrossModal(nn.Module):
    """A user's own model: optional audio and video, an optional text vector that always passes
    through, built from the library's cross-modal blocks (linear frame encoder, no CNN)."""

    def __init__(self, audio_dim: int = 8, face_size: int = 4, dim: int = 16, k: int = 3):
        super().__init__()
        self.audio_proj = nn.Linear(audio_dim, dim)
        self.frame_proj = nn.Linear(3 * face_size**2, dim)
        self.text_proj = nn.Linear(5, dim)
        self.cross = CrossModalTransformer(
            AV, d_model=dim, num_heads=2, ffn_dim=2 * dim, num_layers=1, dropout=0.0
        )
        self.head = AttentiveSwishClassifier(dim, num_classes=k)
        self.calls: list[tuple[str, ...]] = []

    def forward(
        self,
        audio: Tensor | None = None,
        video: Tensor | None = None,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
        text: Tensor | None = None,
    ) -> Tensor:
        given = {"audio": audio, "video": video, "text": text}
        self.calls.append(tuple(k for k, v in given.items() if v is not None))
        streams = {}
        if audio is not None:
            streams["audio"] = (self.audio_proj(audio), audio_mask)
        if video is not None:
            flat = rearrange(video, "b t c h w -> b t (c h w)")
            streams["video"] = (self.frame_proj(flat), video_mask)
        z, mask = self.cross(streams)
        if text is not None:
            z = z + self.text_proj(text)[:, None]
        return self.head(z, mask)[0]


def _batch(b: int = 4) -> tuple[dict[str, Tensor], Tensor]:
    mask = torch.ones(b, 3, dtype=torch.bool)
    inputs = {
        "audio": torch.randn(b, 3, 8),
        "audio_mask": mask,
        "video": torch.randn(b, 3, 3, 4, 4),
        "video_mask": mask,
        "text": torch.randn(b, 5),
    }
    return inputs, torch.randint(0, 2, (b, 3)).float()


def test_drop_modalities_keeps_other_keys_untouched() -> None:
    inputs, _ = _batch()
    kept = drop_modalities(inputs, ("audio",), AV)
    assert set(kept) == {"audio", "audio_mask", "text"}
    assert kept["text"] is inputs["text"] and kept["audio"] is inputs["audio"]
    assert modality_subsets(AV) == [AV, ("audio",), ("video",)]
    assert modality_subsets(("audio",)) == [("audio",)]


def test_sum_mode_is_eq_20() -> None:
    model = MiniCrossModal().eval()
    inputs, y = _batch()
    loss, losses = CoLearning(AV, mode="sum")(model, inputs, y)
    assert list(losses) == ["audio+video", "audio", "video"]
    assert model.calls == [("audio", "video", "text"), ("audio", "text"), ("video", "text")]
    expected = sum(
        F.binary_cross_entropy_with_logits(model(**drop_modalities(inputs, s, AV)), y)
        for s in modality_subsets(AV)
    )
    torch.testing.assert_close(loss, expected)


def test_conventional_mode_uses_all_modalities_only() -> None:
    model = MiniCrossModal()
    inputs, y = _batch()
    colearning = CoLearning(AV, mode="conventional")
    for _ in range(5):
        _, losses = colearning(model, inputs, y)
        assert list(losses) == ["audio+video"]
    assert set(model.calls) == {("audio", "video", "text")}


def test_conventional_mode_ignores_listed_single_modalities() -> None:
    colearning = CoLearning(AV, mode="conventional", subsets=[("audio",), ("video", "audio")])
    assert colearning.subsets == [AV]
    with pytest.raises(ValueError, match="conventional"):
        CoLearning(AV, mode="conventional", subsets=[("audio",), ("video",)])


def test_sample_mode_runs_the_model_on_the_drawn_subset_only() -> None:
    model = MiniCrossModal()
    inputs, y = _batch()
    colearning, twin = CoLearning(AV, seed=5), CoLearning(AV, seed=5)
    drawn = []
    for _ in range(12):
        subset = twin.next_subsets()[0]
        _, losses = colearning(model, inputs, y)
        assert list(losses) == ["+".join(subset)]
        drawn.append(subset)
    assert model.calls == [(*s, "text") for s in drawn]
    assert set(drawn) == set(modality_subsets(AV))


def test_sample_mode_draws_uniformly_and_reproducibly() -> None:
    a, b, c = CoLearning(AV, seed=7), CoLearning(AV, seed=7), CoLearning(AV, seed=8)
    seq_a = [a.next_subsets()[0] for _ in range(300)]
    torch.manual_seed(123)  # the global generator plays no part
    seq_b = [b.next_subsets()[0] for _ in range(300)]
    seq_c = [c.next_subsets()[0] for _ in range(300)]
    assert seq_a == seq_b and seq_a != seq_c
    for subset in modality_subsets(AV):
        assert 70 < seq_a.count(subset) < 130


def test_state_dict_resumes_the_draws() -> None:
    colearning = CoLearning(AV, seed=3)
    for _ in range(5):
        colearning.next_subsets()
    state = colearning.state_dict()
    ahead = [colearning.next_subsets() for _ in range(10)]
    resumed = CoLearning(AV, seed=99)
    resumed.load_state_dict(state)
    assert [resumed.next_subsets() for _ in range(10)] == ahead


def test_colearning_loss_function_and_custom_loss() -> None:
    model = MiniCrossModal().eval()
    inputs, y = _batch()
    total, losses = colearning_loss(model, inputs, y, [("video",)], AV, loss_fn=multilabel_bce)
    torch.testing.assert_close(total, losses["video"])
    ce = CoLearning(AV, mode="sum", loss_fn=lambda lg, t: F.cross_entropy(lg, t.argmax(1)))
    assert ce(model, inputs, y)[0].isfinite()


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        CoLearning(AV, mode="both")
    with pytest.raises(ValueError, match="subsets"):
        CoLearning(AV, subsets=[("audio", "text")])
    with pytest.raises(ValueError, match="subsets"):
        CoLearning(AV, subsets=[()])
    with pytest.raises(ValueError, match="once"):
        CoLearning(AV, mode="sum", subsets=[AV, ("audio",), ("video", "audio")])
    model = MiniCrossModal()
    inputs, y = _batch()
    with pytest.raises(ValueError, match="video"):
        CoLearning(AV, mode="sum")(model, drop_modalities(inputs, ("audio",), AV), y)


@pytest.mark.parametrize("mode", ["sample", "sum"])
def test_trains_colearning_transformer(mode: str) -> None:
    model = emofuse.build("colearning_transformer_tiny", num_classes=3).train()
    inputs = model.example_inputs(batch_size=2)
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    colearning = CoLearning(AV, mode=mode, seed=0)
    optimizer = torch.optim.RAdam(model.param_groups(1e-3))
    for _ in range(2):
        loss, losses = colearning(model, inputs, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert loss.isfinite() and len(losses) == (3 if mode == "sum" else 1)
    if mode == "sum":  # every subset ran: the segment embeddings of both modalities learn
        assert model.cross_modal.segment.embedding.grad.abs().sum(1).gt(0).all()


def test_colearning_keeps_audio_only_performance_where_av_training_loses_it() -> None:
    """The paper's table 2 in miniature: here video is the easy modality (clean frames) and
    audio the hard one (small, noisy steps). After the same 200 steps, AV-only training cannot
    recognise from audio alone; co-learning can, and keeps video-only and audio+video."""
    scores = compare(
        MiniCrossModal,
        modes=("conventional", "sample"),
        steps=200,
        seed=0,
        audio_dim=8,
        audio_steps=8,
        face_size=4,
        audio_scale=0.1,
        video_noise=0.1,
    )
    conventional, colearned = scores["conventional"], scores["sample"]
    assert colearned["A"] > 0.85 and colearned["A"] > conventional["A"] + 0.08
    for name in ("V", "A+V"):
        assert conventional[name] > 0.95 and colearned[name] > 0.95


def test_trains_mer_sem_mbt_with_text_always_present() -> None:
    """mer_sem_mbt takes text plus any non-empty subset of audio and video, so co-learning
    over (audio, video) works on it unchanged; text passes through every subset."""
    model = emofuse.build("mer_sem_mbt_tiny", num_classes=3).train()
    inputs = model.example_inputs(batch_size=2)
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    loss, losses = CoLearning(AV, mode="sum", seed=0)(model, inputs, y)
    assert set(losses) == {"audio+video", "audio", "video"}
    loss.backward()
    # each single-modality pass trained that modality's decision head and the text path
    assert model.audio_head[0].weight.grad.abs().sum() > 0
    assert model.video_head[0].weight.grad.abs().sum() > 0
    # the subsets give different predictions from the same weights
    with torch.no_grad():
        model.eval()
        outs = [
            model(**drop_modalities(inputs, s, AV)).logits for s in (AV, ("audio",), ("video",))
        ]
    assert not torch.allclose(outs[0], outs[1]) and not torch.allclose(outs[1], outs[2])


@pytest.mark.parametrize("mode", ["sample", "sum"])
def test_a_misspelled_modality_is_an_error_not_a_pass_on_every_modality(mode: str) -> None:
    # issue #11.6: with "vidoe", the "audio-only" pass kept the video input and trained on both
    model = MiniCrossModal()
    inputs, y = _batch()
    colearning = CoLearning(("audio", "vidoe"), mode=mode, subsets=[("audio",)])
    with pytest.raises(ValueError, match=r"modalities: \['vidoe'\].*\['audio', 'text', 'video'\]"):
        colearning(model, inputs, y)
    assert model.calls == []
    with pytest.raises(ValueError, match="modalities"):
        colearning_loss(model, inputs, y, [("audio",)], ("audio", "vidoe"))
    with pytest.raises(ValueError, match=r"keep: expected names among the modalities"):
        drop_modalities(inputs, ("audo",), AV)
    with pytest.raises(ValueError, match="subsets"):
        colearning_loss(model, inputs, y, [("audio", "text")], AV)
    assert model.calls == []


def test_modalities_must_be_distinct_names() -> None:
    for bad in ("audio", (), ("audio", "audio"), ("audio", "video_mask"), ("audio", 3)):
        with pytest.raises(ValueError, match="modalities: expected distinct modality names"):
            CoLearning(bad)
    with pytest.raises(ValueError, match="subsets"):
        CoLearning(AV, subsets="audio")


@pytest.mark.parametrize(
    "loss_fn",
    [multilabel_bce, lambda lg, t: F.cross_entropy(lg, t.argmax(1))],
    ids=["default", "cross_entropy"],
)
@pytest.mark.parametrize("mode", ["sample", "sum", "conventional"])
def test_empty_batch_is_zero_with_a_zero_finite_gradient(mode: str, loss_fn) -> None:
    # issue #11.6: the mean loss over no sample was NaN
    model = MiniCrossModal()
    inputs, y = _batch(0)
    loss, losses = CoLearning(AV, mode=mode, loss_fn=loss_fn)(model, inputs, y)
    loss.backward()
    assert loss.item() == 0.0 and all(v.item() == 0.0 for v in losses.values())
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.isfinite().all() and not g.any() for g in grads)


def test_runs_on_the_meta_device() -> None:
    with torch.device("meta"):
        model = MiniCrossModal()
        inputs, y = _batch()
    loss, losses = CoLearning(AV, mode="sum")(model, inputs, y)
    assert loss.device.type == "meta" and set(losses) == {"audio+video", "audio", "video"}


def test_an_all_padding_row_keeps_every_subset_loss_finite() -> None:
    model = emofuse.build("colearning_transformer_tiny", num_classes=3).train()
    inputs = model.example_inputs(batch_size=2)
    inputs["audio_mask"][1] = False  # the audio-only pass sees nothing of sample 1
    inputs["audio"][1] = torch.nan  # and what is padded never matters
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    loss, losses = CoLearning(AV, mode="sum")(model, inputs, y)
    loss.backward()
    assert all(v.isfinite() for v in losses.values())
    assert all(p.grad.isfinite().all() for p in model.parameters() if p.grad is not None)


def test_colearning_helper_trains_an_audio_only_multiclass_model() -> None:
    """CoLearning with one modality: the only subset is that modality; cross-entropy on the
    multiclass logits learns a fixed batch."""
    torch.manual_seed(0)
    model = emofuse.build(
        "colearning_transformer_tiny", modalities=("audio",), task="multiclass", num_classes=4
    )
    colearning = CoLearning(("audio",), loss_fn=torch.nn.functional.cross_entropy, seed=0)
    assert colearning.subsets == [("audio",)]
    inputs = model.example_inputs(batch_size=4)
    labels = torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss, parts = colearning(model, inputs, labels)
        assert set(parts) == {"audio"}
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    with pytest.raises(ValueError, match="modalities"):  # video is not an input of this model
        CoLearning(("audio", "video"))(model, inputs, labels)
