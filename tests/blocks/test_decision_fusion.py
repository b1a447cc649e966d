from __future__ import annotations

import pytest
import torch

from emofuse.blocks import AttentiveDecisionFusion
from emofuse.layers import record_attentions


def _fuse(
    fusion: AttentiveDecisionFusion, decisions: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple:
    with record_attentions(fusion) as maps:
        logits = fusion(decisions, mask)
    return logits, maps["AttentiveDecisionFusion"]


@pytest.mark.parametrize("modalities", [2, 3])
def test_weights_sum_to_one_and_mix_the_decisions(modalities: int) -> None:
    fusion = AttentiveDecisionFusion(6)
    decisions = torch.randn(4, modalities, 6)
    logits, weights = _fuse(fusion, decisions)
    assert logits.shape == (4, 6) and weights.shape == (4, modalities)
    torch.testing.assert_close(weights.sum(-1), torch.ones(4))
    torch.testing.assert_close(logits, (decisions * weights[..., None]).sum(1))


def test_equations_four_to_six_by_hand() -> None:
    fusion = AttentiveDecisionFusion(3)
    s_con = torch.randn(2, 3, 3)  # (B, modalities, M)
    w1, w2 = fusion.project.weight, fusion.score.weight[0]
    alpha = torch.softmax(torch.tanh(s_con @ w1.T) @ w2, dim=-1)
    logits, weights = _fuse(fusion, s_con)
    torch.testing.assert_close(weights, alpha)
    torch.testing.assert_close(logits, torch.einsum("bkm,bk->bm", s_con, alpha))
    assert sum(p.numel() for p in fusion.parameters()) == 3 * 3 + 3  # W_1 (M×M) and w_2 (M)


def test_an_absent_modality_takes_no_weight_and_equals_the_fusion_without_it() -> None:
    fusion = AttentiveDecisionFusion(4)
    decisions = torch.randn(3, 3, 4)
    mask = torch.tensor([[True, True, True], [True, False, True], [False, False, False]])
    poisoned = torch.where(mask[..., None], decisions, float("nan"))
    logits, weights = _fuse(fusion, poisoned, mask)
    assert logits.isfinite().all() and weights.isfinite().all()
    assert (weights[~mask] == 0).all()
    want_full = _fuse(fusion, decisions[:1])
    torch.testing.assert_close((logits[:1], weights[:1]), want_full)
    want_logits, want_weights = _fuse(fusion, decisions[1:2, [0, 2]])
    torch.testing.assert_close(logits[1:2], want_logits)
    torch.testing.assert_close(weights[1:2, [0, 2]], want_weights)
    assert (logits[2] == 0).all() and (weights[2] == 0).all()
