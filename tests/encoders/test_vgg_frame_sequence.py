from __future__ import annotations

import torch
import torchvision
from torch import Tensor, nn

from emofuse.encoders import FrameSequenceEncoder, VGGFeatures, vgg_layout
from emofuse.encoders.vgg import VGG19_CONVS, VGG_WIDTHS
from emofuse.layers import record_attentions


def test_default_layout_is_torchvision_vgg19_and_its_weights_load() -> None:
    assert vgg_layout(VGG_WIDTHS, VGG19_CONVS) == torchvision.models.vgg.cfgs["E"]
    with torch.device("meta"):  # skips initialising VGG19's 120M-parameter classifier
        reference = torchvision.models.vgg19(weights=None).features
    reference = reference.to_empty(device="cpu").eval()
    ours = VGGFeatures().eval()
    reference.load_state_dict(ours.features.state_dict())  # same names and shapes
    faces = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        expected = reference(faces).mean((2, 3))  # 2×2 maps after five pools
        torch.testing.assert_close(ours(faces), expected, atol=1e-5, rtol=1e-4)
    convs = [m for m in ours.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 16 and ours.out_dim == 512


def test_one_channel_spectrogram_chunks_and_narrow_widths() -> None:
    vgg = VGGFeatures(1, widths=(4, 4, 8, 8, 8), batch_norm=True)
    assert vgg.features[0].in_channels == 1
    assert any(isinstance(m, nn.BatchNorm2d) for m in vgg.modules())
    assert vgg(torch.randn(3, 1, 128, 32)).shape == (3, 8)  # 4×1 maps pooled


class _CountingBackbone(nn.Module):
    """A real (tiny) CNN that records the batch size of each call."""

    def __init__(self) -> None:
        super().__init__()
        self.net = VGGFeatures(3, widths=(4, 4, 4, 4, 8))
        self.calls: list[int] = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append(x.shape[0])
        return self.net(x)


def _encoder(backbone: nn.Module, positions: bool = False) -> FrameSequenceEncoder:
    return FrameSequenceEncoder(
        backbone,
        backbone_dim=8,
        hidden_dim=16,
        d_model=16,
        num_layers=2,
        num_heads=2,
        ffn_dim=32,
        dropout=0.0,
        use_positional_encoding=positions,
    ).eval()


def test_backbone_runs_once_on_valid_frames_and_padding_is_invisible() -> None:
    backbone = _CountingBackbone()
    encoder = _encoder(backbone, positions=True)
    frames = torch.randn(2, 4, 3, 32, 32)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    with torch.no_grad(), record_attentions(encoder) as maps:
        out = encoder(frames, mask)
    weights = maps["encoder.layers.1.self_attn"]
    assert backbone.calls == [6]
    assert out.shape == (2, 4, 16) and weights.shape == (2, 2, 4, 4)
    assert (weights[1, :, :, 2:] == 0).all()
    noisy = torch.where(mask[:, :, None, None, None], frames, torch.randn_like(frames))
    padded = torch.cat([noisy, torch.randn(2, 2, 3, 32, 32)], 1)
    padded_mask = torch.cat([mask, torch.zeros(2, 2, dtype=torch.bool)], 1)
    with torch.no_grad():
        out_padded = encoder(padded, padded_mask)
    torch.testing.assert_close(out_padded[:, :4][mask], out[mask], atol=1e-5, rtol=1e-4)


def test_batch_without_any_valid_frame_is_finite() -> None:
    encoder = _encoder(VGGFeatures(3, widths=(4, 4, 4, 4, 8)))
    out = encoder(torch.randn(2, 3, 3, 32, 32), torch.zeros(2, 3, dtype=torch.bool))
    assert out.shape == (2, 3, 16) and out.isfinite().all()


def test_frame_transformer_is_post_norm_as_dai_et_al() -> None:
    """CNN, Linear → ReLU → Linear, then torch's post-norm encoder stack (no final norm)."""
    encoder = _encoder(VGGFeatures(3, widths=(4, 4, 4, 4, 8)))
    assert [type(m) for m in encoder.projection] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    ref = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True),
        num_layers=2,
        enable_nested_tensor=False,
    ).eval()
    for layer, torch_layer in zip(encoder.encoder.layers, ref.layers, strict=True):
        layer.self_attn.load_torch_weights(torch_layer.self_attn)
        layer.ffn[0].load_state_dict(torch_layer.linear1.state_dict())
        layer.ffn[3].load_state_dict(torch_layer.linear2.state_dict())
        for ours, theirs in ((layer.norm1, torch_layer.norm1), (layer.norm2, torch_layer.norm2)):
            nn.init.normal_(theirs.weight, 1.0, 0.3)
            nn.init.normal_(theirs.bias, 0.0, 0.3)
            ours.load_state_dict(theirs.state_dict())
    frames = torch.randn(2, 4, 3, 32, 32)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool)
    with torch.no_grad():
        projected = encoder.embed_frames(frames.flatten(0, 1)).unflatten(0, (2, 4))
        expected = ref(projected, src_key_padding_mask=~mask)
        out = encoder(frames, mask)
    torch.testing.assert_close(out[mask], expected[mask], atol=1e-5, rtol=1e-4)
