"""Semantic enhancement module (SEM): text-guided cross-attention on a CNN feature map
(Xia et al. 2022, sec. 3.1.4, eqs. 1–3), and the wrapper that puts SEMs between the conv groups
of any backbone."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, cast

from einops import einsum, rearrange
from torch import Tensor, nn

from emofuse.layers import checkpoint_module, record


class SemanticEnhancement(nn.Module):
    """Enrich a feature map with a sentence vector (Xia et al. 2022, fig. 2, eqs. 1–3).

    - eq. 1: ``Q = Conv1x1_q(F)`` (C→C), ``K = Linear_k(I_t)``, ``V = Linear_v(I_t)`` (d_t→C; a
      1×1 convolution of a vector is a linear map);
    - eq. 2: ``a = softmax_p(<Q[:, p], K> / sqrt(C))`` over the H·W spatial positions p (a
      softmax over the single key would be identically 1), ``E_att[:, p] = a_p · V``;
    - eq. 3: ``F' = ReLU(Conv1x1_o(F + LN(E_att)))`` where LN normalises over (C, H, W)
      together (``GroupNorm(1, C)``): a LayerNorm over C alone would cancel the weights ``a_p``.

    Args:
        channels: C, the feature map's channels.
        text_dim: d_t, the width of the text vector (768 for BERT-base).

    Inputs:
        feature_map: (N, C, H, W); text: (N, d_t).
    Returns:
        the enriched map (N, C, H, W).
    Records:
        the spatial attention ``a`` (N, H, W), which sums to one over (H, W).
    """

    def __init__(self, channels: int, *, text_dim: int) -> None:
        super().__init__()
        self.query = nn.Conv2d(channels, channels, kernel_size=1)
        self.key = nn.Linear(text_dim, channels)
        self.value = nn.Linear(text_dim, channels)
        self.norm = nn.GroupNorm(1, channels)
        self.out = nn.Conv2d(channels, channels, kernel_size=1)
        self.relu = nn.ReLU()
        self.scale = 1.0 / math.sqrt(channels)

    def forward(self, feature_map: Tensor, text: Tensor) -> Tensor:
        h, w = feature_map.shape[-2:]
        query = rearrange(self.query(feature_map), "n c h w -> n (h w) c")
        scores = einsum(query, self.key(text), "n p c, n c -> n p") * self.scale
        weights = scores.softmax(dim=-1)
        enhanced = einsum(weights, self.value(text), "n p, n c -> n c p")
        enhanced = rearrange(enhanced, "n c (h w) -> n c h w", h=h, w=w)
        record(self, rearrange(weights, "n (h w) -> n h w", h=h, w=w))
        return self.relu(self.out(feature_map + self.norm(enhanced)))


class _StagedBackbone(Protocol):
    """What :class:`SemanticEnhancedBackbone` needs of a backbone (an ``nn.Module``)."""

    @property
    def group_channels(self) -> Sequence[int]: ...

    @property
    def out_dim(self) -> int: ...

    def conv_groups(self) -> list[nn.Module]: ...

    def forward_head(self, x: Tensor) -> Tensor: ...


class SemanticEnhancedBackbone(nn.Module):
    """A CNN backbone with a :class:`SemanticEnhancement` after some of its conv groups
    (Xia et al. 2022, fig. 1: VGGish with SEMs after conv2 and conv4, ResNet-18 after conv3_x
    and conv5_x).

    Any backbone that exposes its stages works: ``conv_groups()`` (the conv groups in order),
    ``group_channels`` (each group's output channels), ``forward_head(x)`` (what follows the
    last group: pooling, FC layers) and ``out_dim``, as :class:`emofuse.encoders.VGGish` and
    :class:`emofuse.encoders.ResNetEncoder` do. The backbone's ``gradient_checkpointing`` flag
    is honoured group by group.

    Args:
        backbone: the CNN; its state-dict keys stay its own under ``backbone.``.
        text_dim: d_t, the width of the text vector (768 for BERT-base).
        sem_after: conv groups (1-based) each followed by a SEM; empty gives the plain
            backbone (the MER-MBT ablation).

    Inputs:
        images: (N, C, H, W); text: (N, d_t), the sentence vector of each image's clip.
    Returns:
        (N, out_dim) features.
    Records:
        ``sem.<g>``: the spatial attention of the SEM after group g, (N, H_g, W_g); inside
        :func:`emofuse.layers.run_on_valid_steps` (B, T, H_g, W_g).

    Raises:
        ValueError: a group number in ``sem_after`` that the backbone does not have.
    """

    def __init__(self, backbone: nn.Module, *, text_dim: int, sem_after: Sequence[int]) -> None:
        super().__init__()
        channels = tuple(cast(_StagedBackbone, backbone).group_channels)
        if any(not 1 <= g <= len(channels) for g in sem_after):
            raise ValueError(
                f"sem_after: expected conv group numbers in 1..{len(channels)}, got "
                f"{tuple(sem_after)}"
            )
        self.backbone = backbone
        self.sem_after = tuple(sem_after)
        self.sem = nn.ModuleDict(
            {
                str(g): SemanticEnhancement(channels[g - 1], text_dim=text_dim)
                for g in self.sem_after
            }
        )

    @property
    def _staged(self) -> _StagedBackbone:
        return cast(_StagedBackbone, self.backbone)  # as the class docstring requires

    @property
    def out_dim(self) -> int:
        return self._staged.out_dim

    def conv_groups(self) -> list[nn.Module]:
        """The backbone's conv groups, for freezing and optimizer groups."""
        return self._staged.conv_groups()

    def forward(self, images: Tensor, text: Tensor) -> Tensor:
        x = images
        checkpointed = bool(getattr(self.backbone, "gradient_checkpointing", False))
        checkpointed = checkpointed and self.training
        for group, layers in enumerate(self._staged.conv_groups(), start=1):
            x = checkpoint_module(layers, x, enabled=checkpointed)
            if str(group) in self.sem:
                x = self.sem[str(group)](x, text)
        return self._staged.forward_head(x)


__all__ = ["SemanticEnhancedBackbone", "SemanticEnhancement"]
