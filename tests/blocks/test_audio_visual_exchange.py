from __future__ import annotations

import math

import pytest
import torch

from emofuse.blocks import BottleneckTransformer, build_cross_modal
from emofuse.layers import record_attentions

KINDS = ["mbt", "joint", "bicross"]


def _inputs(ta: int = 5, tv: int = 3):
    g = torch.Generator().manual_seed(0)
    audio, video = torch.randn(2, ta, 16, generator=g), torch.randn(2, tv, 16, generator=g)
    audio_mask = torch.arange(ta) < torch.tensor([[ta], [2]])
    video_mask = torch.arange(tv) < torch.tensor([[tv], [1]])
    return audio, video, audio_mask, video_mask


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_with_streams_of_different_lengths(kind: str) -> None:
    block = build_cross_modal(kind, d_model=16, num_heads=4, num_layers=2).eval()
    audio, video, am, vm = _inputs()
    a, v = block(audio, video, am, vm)
    assert a.shape == audio.shape and v.shape == video.shape
    with record_attentions(block) as maps:
        block(audio, video, am, vm)
    assert maps and all(m.shape[:2] == (2, 4) and m.isfinite().all() for m in maps.values())
    assert sum(k.startswith(("layers.1", "encoder.layers.1", "audio_from_video.1")) for k in maps)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_never_changes_valid_outputs(kind: str) -> None:
    block = build_cross_modal(kind, d_model=16, num_heads=4, num_layers=2).eval()
    audio, video, am, vm = _inputs()
    a, v = block(audio, video, am, vm)
    scrambled_a = torch.where(am[..., None], audio, 9 * torch.randn_like(audio))
    scrambled_v = torch.where(vm[..., None], video, 9 * torch.randn_like(video))
    a2, v2 = block(scrambled_a, scrambled_v, am, vm)
    torch.testing.assert_close(a2[am], a[am])
    torch.testing.assert_close(v2[vm], v[vm])
    longer_a = torch.cat([audio, torch.randn(2, 4, 16)], 1)
    longer_am = torch.cat([am, torch.zeros(2, 4, dtype=torch.bool)], 1)
    a3, v3 = block(longer_a, video, longer_am, vm)
    torch.testing.assert_close(a3[:, :5][am], a[am])
    torch.testing.assert_close(v3[vm], v[vm])
    empty = torch.zeros_like(vm)
    a4, v4 = block(audio, video, am, empty)
    assert a4.isfinite().all() and v4.isfinite().all()


def test_mbt_audio_sees_video_only_through_the_bottleneck_tokens() -> None:
    torch.manual_seed(0)
    block = BottleneckTransformer(16, num_bottlenecks=3, num_heads=4, num_layers=2).eval()
    audio, video, am, vm = _inputs()
    video = video.requires_grad_()
    with record_attentions(block) as maps:
        a, _ = block(audio, video, am, vm)
    # audio queries attend to the N_b tokens only, never to video steps
    assert maps["layers.1.branches.audio.expand"].shape == (2, 4, 5, 3)
    assert maps["layers.1.branches.audio.compress"].shape == (2, 4, 3, 5)
    (grad,) = torch.autograd.grad(a[am].sum(), video)
    assert grad[vm].abs().sum() > 0  # video reaches audio ...
    # ... and only through what the video branch writes into the tokens: silence that write
    # (compression output of the video branch) and video has no effect on audio at all
    for layer in block.layers:
        torch.nn.init.zeros_(layer.branches["video"].compress.out_proj.weight)
        torch.nn.init.zeros_(layer.branches["video"].compress.out_proj.bias)
    a, v = block(audio, video, am, vm)
    (grad,) = torch.autograd.grad(a.sum(), video, retain_graph=True)
    assert (grad == 0).all()
    a_other, v_other = block(audio, torch.randn_like(video), am, vm)
    torch.testing.assert_close(a_other, a)
    assert not torch.allclose(v_other, v)


def test_mbt_tokens_are_learned_and_any_number_of_layers_builds() -> None:
    block = BottleneckTransformer(8, num_bottlenecks=4, num_heads=2, num_layers=3)
    assert block.tokens.shape == (4, 8) and len(block.layers) == 3
    audio, video, am, vm = _inputs()
    a, v = block(audio[..., :8], video[..., :8], am, vm)
    (a.sum() + v.sum()).backward()
    assert all(p.grad is not None for p in block.parameters())


def test_none_and_unknown_kinds() -> None:
    assert build_cross_modal("none", d_model=16) is None
    with pytest.raises(ValueError, match="cross_modal"):
        build_cross_modal("late", d_model=16)


def test_joint_and_bicross_mix_the_streams_directly() -> None:
    audio, video, am, vm = _inputs()
    for kind in ("joint", "bicross"):
        block = build_cross_modal(kind, d_model=16, num_heads=4).eval()
        a, _ = block(audio, video, am, vm)
        a2, _ = block(audio, video + torch.randn_like(video), am, vm)
        assert not torch.allclose(a2[am], a[am]), kind


def test_mbt_layer_follows_the_equations_by_hand() -> None:
    """One layer against sec. 3.2 / UMT written out: compression into the tokens (a sum of
    both branches on top of the tokens, PE on the keys only), expansion with the pre-update
    stream as query (PE on the query, no mask: the tokens are all valid), pre-norm FFN on the
    streams only. Random LayerNorm weights, so a swapped norm shows too."""
    torch.manual_seed(0)
    block = BottleneckTransformer(16, num_bottlenecks=3, num_heads=4, num_layers=1).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0.0, 0.3)
    audio, video, am, vm = _inputs(ta=5, tv=3)
    # zeros at padded steps, as the block selects them before anything else
    audio, video = audio.masked_fill(~am[..., None], 0.0), video.masked_fill(~vm[..., None], 0.0)
    streams, masks = {"audio": audio, "video": video}, {"audio": am, "video": vm}
    layer = block.layers[0]
    tokens = block.tokens.expand(2, -1, -1)
    with torch.no_grad():
        pe = {m: block.position.encoding(x.shape[1]) for m, x in streams.items()}
        updated = tokens
        for m, x in streams.items():
            br = layer.branches[m]
            ln_x = br.norm_stream(x)
            att = br.compress(br.norm_tokens(tokens), ln_x + pe[m], ln_x, key_padding_mask=masks[m])
            updated = updated + att
        expected = {}
        for m, x in streams.items():
            br = layer.branches[m]
            att = br.expand(br.norm_stream(x) + pe[m], br.norm_fused(updated))
            y = x + att
            expected[m] = y + br.ffn(br.norm_ffn(y))
        out, new_tokens = layer(streams, masks, tokens, pe)
        a, v = block(audio, video, am, vm)
    torch.testing.assert_close(new_tokens, updated)
    for m in streams:
        torch.testing.assert_close(out[m], expected[m])
    torch.testing.assert_close(a, expected["audio"])
    torch.testing.assert_close(v, expected["video"])
    # the positions are sine-cosine and differ per stream length
    assert pe["audio"].shape == (5, 16) and pe["video"].shape == (3, 16)
    torch.testing.assert_close(pe["audio"][:3], pe["video"])
    torch.testing.assert_close(pe["audio"][1, :2], torch.tensor([math.sin(1.0), math.cos(1.0)]))
