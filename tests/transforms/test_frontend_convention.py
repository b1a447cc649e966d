"""One input convention for every audio front-end (issue #11.5, #19.1): the rate travels with
the audio and other rates are resampled, (C, N) is mixed down, channels-last is refused, int16
and float64 are read, lengths are checked, and too-short audio is a row of padding that the
models take."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import emofuse
from emofuse.transforms import (
    KaldiFbankDeltas,
    MelSpectrogramChunks,
    SpectrogramSegments,
    VGGishFrontEnd,
    Waveform,
    resample,
)

# the front-end of each paper, sized for the tiny model it feeds; its analysis window
FRONT_ENDS: dict[str, tuple[Callable[[], nn.Module], int, str]] = {
    "vggish": (VGGishFrontEnd, 400, "mer_sem_mbt_tiny"),
    "spectrogram_segments": (
        lambda: SpectrogramSegments(3, size=(32, 32)),
        512,
        "av_attention_fusion_tiny",
    ),
    "kaldi_fbank": (KaldiFbankDeltas, 400, "colearning_transformer_tiny"),
    "mel_chunks": (lambda: MelSpectrogramChunks(n_mels=32), 400, "emotion_query_transformer_tiny"),
}
names = pytest.mark.parametrize("name", list(FRONT_ENDS))


def make(name: str) -> nn.Module:
    return FRONT_ENDS[name][0]()


def noise(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 0.1


def assert_same(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]):
    torch.testing.assert_close(a[0], b[0], atol=1e-4, rtol=1e-4)
    assert a[1].tolist() == b[1].tolist()


@names
def test_a_tensor_needs_its_sample_rate(name: str) -> None:
    front = make(name)
    with pytest.raises(ValueError, match="sample_rate: required"):
        front(noise(16000))
    with pytest.raises(ValueError, match="sample_rate: required"):
        front.batch([noise(16000)])
    # a Waveform carries it
    assert_same(front.batch([Waveform(noise(16000), 16000)]), front.batch([noise(16000)], 16000))


@names
def test_other_rates_are_resampled(name: str) -> None:
    front = make(name)
    clip = noise(2 * 48000)
    assert_same(front.batch([clip], 48000), front.batch([resample(clip, 48000, 16000)], 16000))
    assert_same(front.batch([Waveform(clip, 48000)]), front.batch([clip], 48000))


@names
def test_channels_first_is_mixed_down_and_channels_last_refused(name: str) -> None:
    front = make(name)
    stereo = noise(2, 24000)
    assert_same(front.batch([stereo], 16000), front.batch([stereo.mean(0)], 16000))
    assert_same(front.batch(stereo[None], 16000), front.batch([stereo.mean(0)], 16000))
    one = front(stereo, 16000)
    alone = front(stereo.mean(0), 16000)
    torch.testing.assert_close(one, alone, atol=1e-5, rtol=1e-5)  # tuples for VGGish
    with pytest.raises(ValueError, match=r"waveform: .*channels-last.*waveform\.T"):
        front(stereo.T, 16000)
    with pytest.raises(ValueError, match=r"channels-last"):
        front.batch([stereo.T.numpy()], 16000)


@names
def test_int16_and_float64_are_read_other_dtypes_refused(name: str) -> None:
    front = make(name)
    pcm = (noise(20000) * 32768).to(torch.int16)
    assert_same(front.batch([pcm], 16000), front.batch([pcm.float() / 32768], 16000))
    assert_same(front.batch([pcm.double() / 32768], 16000), front.batch([pcm], 16000))
    for dtype in (torch.int32, torch.uint8, torch.float16):
        with pytest.raises(ValueError, match=f"expected float32, float64 or int16.*{dtype}"):
            front(pcm.to(dtype), 16000)


@names
def test_padded_batch_equals_the_clips_and_lengths_are_checked(name: str) -> None:
    front = make(name)
    long, short = noise(2, 30000, seed=1), noise(2, 18000, seed=2)
    padded = torch.full((2, 2, 30000), float("nan"))  # NaN in the padding never leaks
    padded[0], padded[1, :, :18000] = long, short
    want = front.batch([long, short], 16000)
    assert_same(front.batch(padded, 16000, lengths=torch.tensor([30000, 18000])), want)
    assert want[0].isfinite().all()
    mono = torch.where(padded.isnan(), 0.0, padded).mean(1)
    assert_same(front.batch(mono, 16000, lengths=[30000, 18000]), want)
    # at another rate too: each clip is resampled as if alone
    assert_same(
        front.batch(mono, 48000, lengths=[30000, 18000]),
        front.batch([long.mean(0), short.mean(0)], 48000),
    )
    with pytest.raises(ValueError, match=r"lengths: expected valid-sample counts in \[0, 30000\]"):
        front.batch(mono, 16000, lengths=[30000, 30001])
    with pytest.raises(ValueError, match=r"lengths: expected \(2,\)"):
        front.batch(mono, 16000, lengths=[30000])


@names
def test_zero_length_and_shorter_than_a_window_are_padding(name: str) -> None:
    front_factory, window, _ = FRONT_ENDS[name]
    front = front_factory()
    for samples in (0, 1, window - 1):
        out = front(noise(samples), 16000)
        if isinstance(out, tuple):  # VGGish: a batch of one whose only step is padding
            assert out[1].tolist() == [[False]] and out[0].eq(0).all()
        else:
            assert out.shape[0] == 0 and out.shape[1:] == front(noise(16000), 16000).shape[1:]
    assert front(noise(window), 16000)[-1].numel() > 0  # one window is one step
    clip = noise(20000)
    feats, mask = front.batch([clip, noise(0), noise(window - 1)], 16000)
    alone, alone_mask = front.batch([clip], 16000)
    assert mask[1:].sum() == 0 and mask[0].tolist() == alone_mask[0].tolist()
    assert feats.isfinite().all() and feats[1:].eq(0).all()
    torch.testing.assert_close(feats[:1], alone)
    feats, mask = front.batch([noise(0), noise(0)], 16000)  # nothing at all: still a batch
    assert feats.shape[1] >= 1 and not mask.any()
    # the same at 48 kHz: the window is counted after resampling
    assert not front.batch([noise(3 * window - 3)], 48000)[1].any()


@names
def test_the_model_fed_takes_an_all_padding_row(name: str) -> None:
    _, _, model_name = FRONT_ENDS[name]
    front = make(name)
    model = emofuse.build(model_name).eval()
    inputs = model.example_inputs(2)
    seconds = {"vggish": 4.0, "spectrogram_segments": 2.0}.get(name, 1.0)
    for clips in ([noise(int(seconds * 48000)), noise(0)], [noise(0), noise(100)]):
        audio, mask = front.batch(clips, 48000)
        assert audio.shape[2:] == inputs["audio"].shape[2:]
        with torch.no_grad():
            out = model(**{**inputs, "audio": audio, "audio_mask": mask})
        assert out.logits.shape[0] == 2 and out.logits.isfinite().all()
