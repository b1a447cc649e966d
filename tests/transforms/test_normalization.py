"""FeatureNormalizer: statistics fitted on training features (masked steps left out), saved
next to the model and applied unchanged after loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import emofuse
from emofuse.transforms import FeatureNormalizer, KaldiFbankDeltas


def batches(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for steps in (5, 9, 3):
        x = torch.randn(2, steps, 6, generator=g) * torch.arange(1, 7) + torch.arange(6) * 10
        mask = torch.rand(2, steps, generator=g) > 0.3
        mask[:, 0] = True
        x[~mask] = float("nan")  # padding never enters the statistics
        out.append((x, mask))
    return out


def test_streamed_statistics_equal_those_of_the_valid_steps() -> None:
    data = batches()
    norm = FeatureNormalizer(6).fit(data)
    valid = torch.cat([x[m] for x, m in data]).double()  # (M, 6)
    torch.testing.assert_close(norm.mean, valid.mean(0))
    torch.testing.assert_close(norm.std, valid.std(0, correction=0))
    x, mask = data[1]
    out = norm(x, mask)
    torch.testing.assert_close(
        out[mask], ((x[mask] - valid.mean(0)) / valid.std(0, correction=0)).float()
    )
    assert out[~mask].eq(0).all()  # padding becomes zeros, NaN or not
    whole = torch.cat([x[m] for x, m in data])
    torch.testing.assert_close(norm(whole).mean(0), torch.zeros(6), atol=1e-5, rtol=0)


def test_feature_axis_of_spectrogram_images() -> None:
    # (B, T, 1, mels, frames): one statistic per mel band, over steps and frames
    x = torch.randn(3, 4, 1, 8, 5) + torch.arange(8.0)[:, None]
    mask = torch.tensor([[True] * 4, [True, True, False, False], [False] * 4])
    norm = FeatureNormalizer(8, feature_axis=-2).fit([(x, mask)])
    valid = x[mask].movedim(-2, -1).reshape(-1, 8).double()
    torch.testing.assert_close(norm.mean, valid.mean(0))
    assert norm(x, mask)[mask].mean((0, 1, 3)).abs().max() < 1e-5
    with pytest.raises(ValueError, match="features: expected 8 features on axis -2"):
        norm(torch.zeros(2, 5, 8))
    with pytest.raises(ValueError, match=r"mask: expected bool of the leading shape"):
        norm(x, mask[:2])


def test_saved_next_to_the_model_and_applied_unchanged(tmp_path: Path) -> None:
    front = KaldiFbankDeltas()
    g = torch.Generator().manual_seed(0)
    train = [front.batch([torch.randn(n, generator=g) * 0.1 for n in (4000, 2500)], 16000)]
    norm = FeatureNormalizer(front.dim).fit(train)
    model = emofuse.build("colearning_transformer_tiny").eval()
    model.save_pretrained(tmp_path)
    path = norm.save_pretrained(tmp_path)
    assert path == tmp_path / "preprocessor_config.json"
    loaded = FeatureNormalizer.from_pretrained(tmp_path)
    model_again = type(model).from_pretrained(tmp_path).eval()
    audio, mask = front.batch([torch.randn(3000, generator=g) * 0.1], 16000)
    torch.testing.assert_close(loaded(audio, mask), norm(audio, mask), rtol=0, atol=0)
    with torch.no_grad():
        want = model(audio=norm(audio, mask), audio_mask=mask).logits
        got = model_again(audio=loaded(audio, mask), audio_mask=mask).logits
    torch.testing.assert_close(got, want)
    loaded(audio, mask)  # applying never refits
    torch.testing.assert_close(loaded.mean, norm.mean, rtol=0, atol=0)


def test_unfitted_empty_and_broken_inputs_are_refused(tmp_path: Path) -> None:
    norm = FeatureNormalizer(4)
    with pytest.raises(ValueError, match="not fitted"):
        norm(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="not fitted"):
        norm.save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no valid step"):
        norm.fit([(torch.zeros(1, 3, 4), torch.zeros(1, 3, dtype=torch.bool))])
    with pytest.raises(ValueError, match="NaN or inf in a valid step"):
        norm.update(torch.tensor([[float("nan"), 0, 0, 0]]))
    with pytest.raises(FileNotFoundError, match="preprocessor_config.json"):
        FeatureNormalizer.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="feature_axis"):
        FeatureNormalizer(4, feature_axis=2)


def test_output_follows_the_features_device() -> None:
    norm = FeatureNormalizer(4).fit([torch.randn(10, 4)])
    out = norm(
        torch.zeros(2, 3, 4, device="meta"), torch.ones(2, 3, dtype=torch.bool, device="meta")
    )
    assert out.device.type == "meta" and out.shape == (2, 3, 4)
