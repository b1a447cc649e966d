"""ConvolutionPooling: T/4 subsampling whose valid outputs never depend on padding."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.fx.experimental import _config as fx_config

from emofuse.encoders import ConvolutionPooling


def _lengths_mask(lengths: list[int], t: int) -> torch.Tensor:
    return torch.arange(t) < torch.tensor(lengths)[:, None]


@pytest.mark.parametrize("t", [1, 7, 8, 9, 22])
def test_output_length_and_mask(t: int) -> None:
    block = ConvolutionPooling(10, out_dim=8)
    y, mask = block(torch.randn(2, t, 10))
    expected = -(-t // 4)  # ceil(T / 4)
    assert y.shape == (2, expected, 8) and block.output_length(t) == expected
    assert mask.all() and block.stride == 4


def test_pooled_step_valid_iff_it_covers_a_valid_step() -> None:
    block = ConvolutionPooling(4, out_dim=4)
    lengths = [9, 4, 5, 1, 0]
    _, mask = block(torch.randn(5, 12, 4), _lengths_mask(lengths, 12))
    # 2 stages of pairs: a valid output step covers input steps 4j .. 4j+3
    assert mask.sum(1).tolist() == [-(-n // 4) for n in lengths]


@pytest.mark.parametrize("length", [5, 6, 7, 8])
def test_padding_invariance(length: int) -> None:
    torch.manual_seed(0)
    block = ConvolutionPooling(6, out_dim=8, kernel_size=5).eval()
    x = torch.randn(1, length, 6) - 2.0  # negative values: zero padding would win a max-pool
    reference, _ = block(x)
    for extra in (1, 2, 3, 9):
        padded = torch.cat([x, 5 * torch.randn(1, extra, 6)], dim=1)
        mask = _lengths_mask([length], length + extra)
        y, out_mask = block(padded, mask)
        n = reference.shape[1]
        assert out_mask[0, :n].all() and not out_mask[0, n:].any()
        torch.testing.assert_close(y[:, :n], reference, atol=1e-6, rtol=1e-5)
        assert (y[:, n:] == 0).all()


def test_matches_plain_conv_pool_on_unpadded_input() -> None:
    """Without padding it is exactly conv → ReLU → max-pool, twice."""
    block = ConvolutionPooling(3, out_dim=5)
    x = torch.randn(2, 16, 3)
    h = x.transpose(1, 2)
    for conv in block.convs:
        h = nn.functional.max_pool1d(torch.relu(conv(h)), 2, 2)
    torch.testing.assert_close(block(x)[0], h.transpose(1, 2))


def test_all_padding_row_is_finite_and_gradients_flow() -> None:
    block = ConvolutionPooling(4, out_dim=4)
    x = torch.randn(2, 10, 4, requires_grad=True)
    y, mask = block(x, _lengths_mask([10, 0], 10))
    assert y.isfinite().all() and not mask[1].any() and (y[1] == 0).all()
    y.sum().backward()
    assert x.grad is not None and x.grad.isfinite().all() and (x.grad[1] == 0).all()


def test_even_kernel_is_rejected() -> None:
    with pytest.raises(ValueError, match="kernel_size"):
        ConvolutionPooling(4, out_dim=4, kernel_size=4)


def test_no_stage_is_rejected() -> None:
    with pytest.raises(ValueError, match="num_layers"):
        ConvolutionPooling(4, out_dim=8, num_layers=0)


def test_bf16_autocast_pools_padded_rows() -> None:
    """Under autocast the convolution returns bf16: the padding fill must fit that dtype."""
    block = ConvolutionPooling(4, out_dim=4)
    x, mask = torch.randn(2, 10, 4), _lengths_mask([10, 5], 10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y, out_mask = block(x, mask)
    assert y.dtype == torch.bfloat16 and y.isfinite().all()
    assert out_mask[1, :2].all() and (y[1, 2:] == 0).all()
    torch.testing.assert_close(y.float(), block(x, mask)[0], atol=0.1, rtol=0.05)


@pytest.mark.parametrize("length", [2, 3, 7, 8])
def test_exported_with_a_dynamic_length_equals_eager(length: int) -> None:
    """Pooling with ceil_mode=True freezes the length of an exported graph; the pairwise
    maximum that replaces it takes any length, odd or even, after one export."""
    pool = ConvolutionPooling(3, out_dim=4, num_layers=2)
    x, mask = torch.randn(2, 5, 3), torch.tensor([[True] * 5, [True, True, False, False, False]])
    steps = {1: torch.export.Dim.DYNAMIC}
    with fx_config.patch(backed_size_oblivious=True):  # as emofuse.export traces
        program = torch.export.export(pool, (x, mask), dynamic_shapes=(steps, steps)).module()
    y = torch.randn(2, length, 3)
    y_mask = torch.ones(2, length, dtype=torch.bool)
    y_mask[1, length // 2 + 1 :] = False
    for got, want in zip(program(y, y_mask), pool(y, y_mask), strict=True):
        torch.testing.assert_close(got, want)
