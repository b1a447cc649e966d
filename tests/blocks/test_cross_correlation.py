from __future__ import annotations

import math

import torch

from emofuse.blocks import CrossCorrelationFusion
from emofuse.layers import record_attentions


def test_equations_7_to_11_without_masks() -> None:
    fusion = CrossCorrelationFusion(8)
    audio, video = torch.randn(2, 4, 8), torch.randn(2, 4, 8)
    with record_attentions(fusion) as recorded:
        fused = fusion(audio, video)
    assert {k: v.shape[1] for k, v in recorded.items()} == {
        "corr": 1,
        "audio_weights": 1,
        "video_weights": 1,
    }  # one head: the attention-map layout
    maps = {k: v[:, 0] for k, v in recorded.items()}
    corr = torch.einsum("bid,de,bje->bij", audio, fusion.weight, video)  # eq. 7
    torch.testing.assert_close(maps["corr"], corr)
    for b in range(2):
        for j in range(4):  # video step j attends over audio steps i (column softmax)
            weights = corr[b, :, j].softmax(0)
            attended_audio = (weights[:, None] * audio[b]).sum(0)
            torch.testing.assert_close(maps["audio_weights"][b, j], weights)
            want = torch.tanh(audio[b, j] + attended_audio)  # eq. 9
            torch.testing.assert_close(fused[b, j, 8:], want)
        for i in range(4):  # audio step i attends over video steps j (row softmax)
            weights = corr[b, i, :].softmax(0)
            attended_video = (weights[:, None] * video[b]).sum(0)
            want = torch.tanh(video[b, i] + attended_video)  # eq. 10
            torch.testing.assert_close(fused[b, i, :8], want)  # eq. 11: [V'; A']
    torch.testing.assert_close(fusion(audio, video), fused)


def test_xavier_initialised_weight() -> None:
    weight = CrossCorrelationFusion(512).weight
    bound = math.sqrt(6 / (512 + 512))
    assert weight.abs().max() <= bound and weight.std() > 0.5 * bound / math.sqrt(3)


def test_masks_are_honoured_in_both_softmaxes() -> None:
    fusion = CrossCorrelationFusion(6)
    audio, video = torch.randn(2, 5, 6), torch.randn(2, 5, 6)
    audio_mask = torch.tensor([[True] * 5, [True, True, True, False, False]])
    video_mask = torch.tensor([[True, True, True, True, False], [True, True, False, False, False]])
    with record_attentions(fusion) as recorded:
        fused = fusion(audio, video, audio_mask, video_mask)
    maps = {k: v[:, 0] for k, v in recorded.items()}
    assert (maps["audio_weights"][1, :, 3:] == 0).all()  # padded audio keys
    assert (maps["video_weights"][1, :, 2:] == 0).all()  # padded video keys
    torch.testing.assert_close(maps["audio_weights"][1, :2].sum(-1), torch.ones(2))
    assert (maps["audio_weights"][1, 2:] == 0).all()  # padded video queries get no weights
    scrambled_audio, scrambled_video = audio.clone(), video.clone()
    scrambled_audio[1, 3:] = 50 * torch.randn(2, 6)
    scrambled_video[1, 2:] = 50 * torch.randn(3, 6)
    again = fusion(scrambled_audio, scrambled_video, audio_mask, video_mask)
    torch.testing.assert_close(again[1, :2, :6], fused[1, :2, :6])  # valid video steps
    torch.testing.assert_close(again[1, :3, 6:], fused[1, :3, 6:])  # valid audio steps
    nothing = torch.zeros(2, 5, dtype=torch.bool)
    with record_attentions(fusion) as recorded:
        assert fusion(audio, video, nothing, nothing).isfinite().all()
    assert all(m.isfinite().all() for m in recorded.values())
