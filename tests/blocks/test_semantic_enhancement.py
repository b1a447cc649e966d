from __future__ import annotations

import math

import pytest
import torch

from emofuse.blocks import SemanticEnhancedBackbone, SemanticEnhancement
from emofuse.encoders import ResNetEncoder, VGGish
from emofuse.layers import record_attentions, run_on_valid_steps


def _sem_map(sem: SemanticEnhancement, x: torch.Tensor, text: torch.Tensor) -> tuple:
    with record_attentions(sem) as maps:
        out = sem(x, text)
    return out, maps["SemanticEnhancement"]


def test_shapes_and_attention_sums_to_one_over_space() -> None:
    sem = SemanticEnhancement(8, text_dim=12)
    x, text = torch.randn(3, 8, 5, 7), torch.randn(3, 12)
    out, attention = _sem_map(sem, x, text)
    assert out.shape == x.shape and attention.shape == (3, 5, 7)
    torch.testing.assert_close(attention.sum((1, 2)), torch.ones(3))
    assert (out >= 0).all()  # the ReLU of eq. 3
    torch.testing.assert_close(sem(x, text), out)


def test_equations_one_to_three_by_hand() -> None:
    sem = SemanticEnhancement(4, text_dim=6)
    x, text = torch.randn(2, 4, 3, 3), torch.randn(2, 6)
    q = torch.nn.functional.conv2d(x, sem.query.weight, sem.query.bias).flatten(2)  # (N, C, P)
    k, v = sem.key(text), sem.value(text)
    a = torch.softmax((q * k[:, :, None]).sum(1) / math.sqrt(4), dim=-1)  # over positions
    e = (v[:, :, None] * a[:, None, :]).reshape(2, 4, 3, 3)
    mean = e.mean((1, 2, 3), keepdim=True)
    var = e.var((1, 2, 3), unbiased=False, keepdim=True)
    ln = (e - mean) / torch.sqrt(var + sem.norm.eps)  # over (C, H, W) together
    ln = ln * sem.norm.weight[:, None, None] + sem.norm.bias[:, None, None]
    expected = torch.relu(sem.out(x + ln))
    out, attention = _sem_map(sem, x, text)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(attention, a.reshape(2, 3, 3))


def test_text_changes_where_the_map_looks() -> None:
    sem = SemanticEnhancement(8, text_dim=4)
    x = torch.randn(1, 8, 4, 4)
    _, a1 = _sem_map(sem, x, torch.randn(1, 4))
    _, a2 = _sem_map(sem, x, torch.randn(1, 4))
    assert not torch.allclose(a1, a2)
    sem(x, torch.randn(1, 4)).sum().backward()
    assert all(p.grad is not None for p in sem.parameters())


@pytest.mark.parametrize(
    ("backbone", "sem_after", "size", "map_sides"),
    [
        (
            VGGish((8, 8, 16, 16), fc_dims=(32, 32, 12)),
            (1, 2, 4),
            (1, 96, 64),
            [(48, 32), (24, 16), (6, 4)],
        ),
        (ResNetEncoder(widths=(8, 16, 32, 64)), (1, 3, 5), (3, 64, 64), [(32, 32), (8, 8), (2, 2)]),
    ],
    ids=["vggish", "resnet18"],
)
def test_one_wrapper_puts_sems_between_the_stages_of_any_backbone(
    backbone: torch.nn.Module, sem_after: tuple, size: tuple, map_sides: list
) -> None:
    wrapped = SemanticEnhancedBackbone(backbone, text_dim=10, sem_after=sem_after).eval()
    x, text = torch.randn(2, *size), torch.randn(2, 10)
    with record_attentions(wrapped) as maps:
        out = wrapped(x, text)
    assert out.shape == (2, backbone.out_dim) and wrapped.out_dim == backbone.out_dim
    assert list(maps) == [f"sem.{g}" for g in sem_after]
    assert [tuple(m.shape[1:]) for m in maps.values()] == map_sides
    assert not torch.allclose(wrapped(x, torch.randn(2, 10)), out)  # the text guides the CNN
    # the wrapper only adds SEMs: the backbone's keys stay its own, under "backbone."
    assert {k for k in wrapped.state_dict() if not k.startswith("sem.")} == {
        f"backbone.{k}" for k in backbone.state_dict()
    }
    plain = SemanticEnhancedBackbone(backbone, text_dim=10, sem_after=()).eval()
    torch.testing.assert_close(plain(x, text), backbone(x))
    with pytest.raises(ValueError, match="sem_after"):
        SemanticEnhancedBackbone(
            backbone, text_dim=10, sem_after=(len(backbone.group_channels) + 1,)
        )


def test_sem_maps_of_frames_get_the_step_axes_back() -> None:
    wrapped = SemanticEnhancedBackbone(
        ResNetEncoder(widths=(4, 4, 8, 8)), text_dim=6, sem_after=(5,)
    ).eval()
    frames, text = torch.randn(2, 3, 3, 32, 32), torch.randn(2, 6)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    with record_attentions(wrapped) as maps:
        run_on_valid_steps(wrapped, frames, mask, text)
    sem = maps["sem.5"]
    assert sem.shape == (2, 3, 1, 1) and (sem[~mask] == 0).all()
    torch.testing.assert_close(sem[mask].sum((-1, -2)), torch.ones(4))
