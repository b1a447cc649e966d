"""Audio-video emotion recognition with spatial, channel and temporal attention, cross-correlation
fusion and a polarity-constrained triplet loss (Mocanu, Tapu and Zaharia 2023).

Video: N face snippets of k frames → 3D ResNet-101 (conv5, time averaged) → spatial (VS) and
channel-wise (VC) self-attention per snippet → spatial mean → temporal (VT) self-attention over the
snippets, projected to m'. Audio: N one-second spectrogram images → 2D ResNet-18 (conv5, spatial
mean) → temporal (AT) self-attention. Cross-correlation fusion → masked mean over N → FC →
embedding → FC → logits. Train with cross-entropy plus the polarity triplet loss on the
embedding (:class:`emofuse.losses.AVAttentionFusionLoss`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from einops import reduce
from torch import Tensor, nn

import emofuse.labels
from emofuse.blocks import (
    ChannelAttention,
    CrossCorrelationFusion,
    SpatialAttention,
    TemporalAttention,
)
from emofuse.config import ModelConfig, Task
from emofuse.encoders import (
    ResNet3D,
    ResNetEncoder,
    set_gradient_checkpointing,
    torchvision_imagenet_state,
)
from emofuse.encoders.resnet3d import DEFAULT_WIDTHS, Stem
from emofuse.layers import masked_mean, run_on_valid_steps
from emofuse.models.base import EmotionModel, example_mask, trainable
from emofuse.outputs import EmotionOutput
from emofuse.registry import Citation, register_model
from emofuse.validation import TensorSpec, modality

CITATION = Citation(
    title=(
        "Multimodal emotion recognition using cross modal audio-video fusion with attention "
        "and deep metric learning"
    ),
    authors="Bogdan Mocanu, Ruxandra Tapu, Titus Zaharia",
    venue="Image and Vision Computing 133, 104676",
    year=2023,
    doi="10.1016/j.imavis.2023.104676",
)

Modality = Literal["audio", "video"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)
VideoDepth = Literal[18, 34, 50, 101, 152]  # the depths ResNet3D builds
AudioBackbone = Literal["resnet18", "resnet34"]
AUDIO_BACKBONES: dict[AudioBackbone, int] = {"resnet18": 18, "resnet34": 34}


@dataclass(frozen=True, kw_only=True)
class AVAttentionFusionConfig(ModelConfig):
    """Configuration of :class:`AVAttentionFusion` (defaults: the paper, sec. 4.2).

    Args:
        task: ``"multiclass"``: one softmax over the emotions (the paper's single-label task).
        modalities: ``("audio", "video")``, or one of them alone (then no fusion).
        num_snippets: N snippets / one-second audio segments (paper: 6; used by
            ``example_inputs``, any N is accepted).
        frames_per_snippet: k frames per snippet (paper: 16).
        frame_size: face crop side in pixels (paper: 224).
        video_depth: 3D ResNet depth (paper: 101; 18, 34, 50, 152 also build).
        video_widths: stage widths of the 3D ResNet (Hara et al.: 64, 128, 256, 512).
        video_stem: ``"hara"`` (7×7×7 conv + max-pool) or ``"r3d"`` (torchvision's r3d_18).
        video_backbone_weights: a Hara et al. checkpoint file loaded when ``pretrained=True``.
        audio_backbone: ``"resnet18"`` (paper) or ``"resnet34"``.
        audio_backbone_weights: a torchvision ResNet state dict file loaded when
            ``pretrained=True`` (default: torchvision's ImageNet weights, conv1 averaged to one
            plane).
        audio_widths: stage widths of the 2D ResNet (torchvision: 64, 128, 256, 512).
        audio_size: side of the square spectrogram image per segment (paper: 224).
        heads: attention heads H (paper: 8).
        fused_dim: m', the temporal attention output and fusion width (paper: 512).
        embedding_dim: width of the embedding the triplet loss sees.
        use_spatial, use_channel, use_temporal: ablation switches (tables 1–2); without the
            temporal attention a linear layer maps the snippet features to ``fused_dim``.
        attention_residual: add a residual connection around the attention modules (the
            paper has none).
        gradient_checkpointing: during training, recompute the activations of the 3D ResNet
            and the audio ResNet stage by stage in the backward pass instead of keeping them
            (less memory, about one more backbone forward pass; same outputs and gradients).
    """

    num_classes: int = 8
    label_names: tuple[str, ...] | None = emofuse.labels.RAVDESS_8
    dropout: float = 0.0  # the paper uses none
    task: Task = "multiclass"
    modalities: tuple[Modality, ...] = MODALITIES
    num_snippets: int = 6
    frames_per_snippet: int = 16
    frame_size: int = 224
    video_depth: VideoDepth = 101
    video_widths: tuple[int, ...] = DEFAULT_WIDTHS
    video_stem: Stem = "hara"
    video_backbone_weights: str | None = None
    audio_backbone: AudioBackbone = "resnet18"
    audio_backbone_weights: str | None = None
    audio_widths: tuple[int, ...] = DEFAULT_WIDTHS
    audio_size: int = 224
    heads: int = 8
    fused_dim: int = 512
    embedding_dim: int = 512
    use_spatial: bool = True
    use_channel: bool = True
    use_temporal: bool = True
    attention_residual: bool = False
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.modalities or not set(self.modalities) <= set(MODALITIES):
            raise ValueError(
                f"modalities: expected a non-empty subset of {MODALITIES}, got {self.modalities}"
            )
        for name in ("video_widths", "audio_widths"):
            widths = getattr(self, name)
            if len(widths) != 4 or min(widths) < 1:
                raise ValueError(f"{name}: expected 4 positive stage widths, got {widths}")
        for name in (
            "num_snippets",
            "frames_per_snippet",
            "frame_size",
            "audio_size",
            "heads",
            "fused_dim",
            "embedding_dim",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive int, got {getattr(self, name)}")


class AVAttentionFusion(EmotionModel[AVAttentionFusionConfig]):
    """Mocanu et al. (2023): attention-weighted 3D-CNN video and 2D-CNN spectrogram streams
    fused by cross-correlation (sec. 3, fig. 1).

    Inputs:
        video: (B, N, 3, k, S, S) face snippets, S = ``frame_size``;
        audio: (B, N, 1, F, T) one-second spectrogram images (F = T = ``audio_size`` in the
        paper); video_mask, audio_mask: (B, N) bool, True = valid snippet / segment.
    Returns:
        :class:`EmotionOutput` with logits (B, num_classes), embedding (B, embedding_dim) and,
        when asked, attentions: ``video_spatial`` (B, N, H, s, s), ``video_channel``
        (B, N, H, m, m), ``video_temporal`` / ``audio_temporal`` (B, H, N, N),
        ``cross_correlation`` (B, N, N) and ``fusion_audio_weights`` /
        ``fusion_video_weights`` (B, N, N).
    """

    config_class = AVAttentionFusionConfig

    def __init__(
        self, config: AVAttentionFusionConfig | None = None, *, pretrained: bool = False
    ) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config
        if pretrained:
            _check_video_weights_available(c)
        self.has_audio, self.has_video = "audio" in c.modalities, "video" in c.modalities
        branch_dims = []
        if self.has_video:
            self.video_backbone = ResNet3D(c.video_depth, widths=c.video_widths, stem=c.video_stem)
            m = self.video_backbone.out_channels
            _, h, w = self.video_backbone.output_size(c.frames_per_snippet, c.frame_size)
            residual = c.attention_residual
            if c.use_spatial:
                self.spatial_attention = SpatialAttention(m, c.heads, residual=residual)
            if c.use_channel:
                self.channel_attention = ChannelAttention(h * w, c.heads, residual=residual)
            self.video_temporal = _temporal_module(m, c)
            branch_dims.append(c.fused_dim)
        if self.has_audio:
            depth = AUDIO_BACKBONES[c.audio_backbone]
            self.audio_backbone = ResNetEncoder(depth, in_channels=1, widths=c.audio_widths)
            self.audio_temporal = _temporal_module(self.audio_backbone.out_dim, c)
            branch_dims.append(c.fused_dim)
        if self.has_audio and self.has_video:
            self.fusion = CrossCorrelationFusion(c.fused_dim)
        self.embedding = nn.Linear(sum(branch_dims), c.embedding_dim)
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.embedding_dim, c.num_classes)
        if pretrained:
            self._load_backbone_weights()
        if c.gradient_checkpointing:
            set_gradient_checkpointing(self)

    def _load_backbone_weights(self) -> None:
        c = self.config
        if self.has_video:
            if c.video_backbone_weights is not None:
                self.video_backbone.load_hara_checkpoint(c.video_backbone_weights)
            else:
                self.video_backbone.load_torchvision_kinetics()
        if self.has_audio:
            self.audio_backbone.load_torchvision(
                c.audio_backbone_weights or torchvision_imagenet_state(self.audio_backbone.depth)
            )

    @classmethod
    def input_specs(cls, config: AVAttentionFusionConfig) -> list[TensorSpec]:
        s = config.frame_size
        specs = []
        if "audio" in config.modalities:
            specs += modality(
                "audio",
                ("B", "N", 1, "F", "T"),
                required=True,
                meaning="one-second spectrogram segments",
            )
        if "video" in config.modalities:
            specs += modality(
                "video", ("B", "N", 3, "k", s, s), required=True, meaning="face snippets"
            )
        return specs

    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        c = self.config
        n, inputs = c.num_snippets, {}
        if self.has_audio:
            size = (batch_size, n, 1, c.audio_size, c.audio_size)
            inputs["audio"] = torch.randn(size, generator=generator)
            inputs["audio_mask"] = example_mask(batch_size, n)
        if self.has_video:
            size = (batch_size, n, 3, c.frames_per_snippet, c.frame_size, c.frame_size)
            inputs["video"] = torch.randn(size, generator=generator)
            inputs["video_mask"] = example_mask(batch_size, n)
        return inputs

    def forward(  # type: ignore[override]
        self,
        audio: Tensor | None = None,
        video: Tensor | None = None,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
        *,
        return_attentions: bool = False,
    ) -> EmotionOutput:
        self.check_inputs(audio=audio, video=video, audio_mask=audio_mask, video_mask=video_mask)
        maps: dict[str, Tensor] = {}
        # (D_T (B, N, m'), its mask) per stream, video first
        branches: list[tuple[Tensor, Tensor | None]] = []
        if self.has_video:
            branches.append(
                (self._video_stream(video, video_mask, maps, return_attentions), video_mask)
            )
        if self.has_audio:
            branches.append(
                (self._audio_stream(audio, audio_mask, maps, return_attentions), audio_mask)
            )
        if self.has_audio and self.has_video:
            (d_vt, _), (d_at, _) = branches
            fused, fusion_maps = self.fusion(
                d_at, d_vt, audio_mask, video_mask, need_weights=return_attentions
            )
            # [V'; A'] (eq. 11): each half averaged over its own modality's valid steps
            half = d_vt.shape[-1]
            branches = [(fused[..., :half], video_mask), (fused[..., half:], audio_mask)]
            if fusion_maps is not None:
                maps["cross_correlation"] = fusion_maps["corr"]
                maps["fusion_audio_weights"] = fusion_maps["audio_weights"]
                maps["fusion_video_weights"] = fusion_maps["video_weights"]
        pooled = torch.cat([masked_mean(x, mask) for x, mask in branches], dim=-1)
        embedding = self.embedding(pooled)
        return EmotionOutput(
            logits=self.classifier(self.dropout(embedding)),
            embedding=embedding,
            attentions=(maps or None) if return_attentions else None,
        )

    def _video_stream(
        self, video: Tensor, mask: Tensor | None, maps: dict[str, Tensor], need_weights: bool
    ) -> Tensor:
        """Snippets (B, N, 3, k, S, S) → D_VT (B, N, m') (sec. 3.1)."""
        c = self.config
        names = [
            n
            for n, on in (("video_spatial", c.use_spatial), ("video_channel", c.use_channel))
            if on
        ]

        def snippet_descriptor(clips: Tensor) -> Tensor | tuple[Tensor, ...]:
            # the conv5 map keeps a short time axis: average it before the spatial attention
            x = reduce(self.video_backbone(clips), "n m t h w -> n (h w) m", "mean")
            snippet_maps = []
            if c.use_spatial:
                x, w = self.spatial_attention(x, need_weights=need_weights)
                snippet_maps.append(w)
            if c.use_channel:
                x, w = self.channel_attention(x, need_weights=need_weights)
                snippet_maps.append(w)
            x = x.mean(1)  # spatial average pooling (sec. 3.1, temporal attention)
            return (x, *snippet_maps) if need_weights else x

        out = run_on_valid_steps(snippet_descriptor, video, mask, module=self.video_backbone)
        if not need_weights:
            out = (out,)
        descriptors, *snippet_maps = out
        maps.update(zip(names, snippet_maps, strict=False))
        return self._temporal(
            self.video_temporal, descriptors, mask, maps, "video_temporal", need_weights
        )

    def _audio_stream(
        self, audio: Tensor, mask: Tensor | None, maps: dict[str, Tensor], need_weights: bool
    ) -> Tensor:
        """Spectrogram segments (B, N, 1, F, T) → D_AT (B, N, m') (sec. 3.2)."""

        descriptors = run_on_valid_steps(self.audio_backbone, audio, mask)
        return self._temporal(
            self.audio_temporal, descriptors, mask, maps, "audio_temporal", need_weights
        )

    def _temporal(
        self,
        module: nn.Module,
        x: Tensor,
        mask: Tensor | None,
        maps: dict[str, Tensor],
        key: str,
        need_weights: bool,
    ) -> Tensor:
        if not self.config.use_temporal:
            return module(x)  # the ablation's linear map to m'
        out, weights = module(x, mask, need_weights=need_weights)
        if weights is not None:
            maps[key] = weights
        return out

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The paper's recipe (sec. 4.2): Adam (lr 1e-4, β₁ 0.9) on every parameter, end to
        end, backbones included."""
        return [{"name": "all", "params": trainable(self), "lr": lr}]


def _temporal_module(dim: int, c: AVAttentionFusionConfig) -> nn.Module:
    if c.use_temporal:
        return TemporalAttention(dim, c.heads, out_dim=c.fused_dim, residual=c.attention_residual)
    return nn.Linear(dim, c.fused_dim)


def _check_video_weights_available(c: AVAttentionFusionConfig) -> None:
    if "video" not in c.modalities or c.video_backbone_weights is not None:
        return
    if (c.video_depth, tuple(c.video_widths), c.video_stem) != (18, DEFAULT_WIDTHS, "r3d"):
        raise ValueError(
            f"pretrained: no published weights can be fetched for a {c.video_depth}-layer 3D "
            f"ResNet with the {c.video_stem!r} stem (torchvision has Kinetics weights only for "
            "r3d_18: video_depth=18, video_stem='r3d'). Download a Kinetics checkpoint of Hara "
            "et al. (github.com/kenshohara/3D-ResNets-PyTorch, e.g. r3d101_K_200ep.pth) and pass "
            "it as video_backbone_weights='/path/to/checkpoint.pth', or use pretrained=False."
        )


@register_model(AVAttentionFusion, citation=CITATION)
def av_attention_fusion() -> AVAttentionFusionConfig:
    """Paper configuration: 3D ResNet-101 + ResNet-18, axis attentions, cross-correlation fusion.

    RAVDESS-8 labels, 6 snippets × 16 frames of 224², 224² spectrogram images (sec. 4.2).
    """
    return AVAttentionFusionConfig()


@register_model(AVAttentionFusion, citation=CITATION)
def av_attention_fusion_tiny() -> AVAttentionFusionConfig:
    """Tiny av_attention_fusion for tests and demos (narrow 3D ResNet-18, small frames)."""
    return AVAttentionFusionConfig(
        num_snippets=3,
        frames_per_snippet=4,
        frame_size=40,
        video_depth=18,
        video_widths=(8, 8, 16, 16),
        audio_widths=(8, 8, 16, 16),
        audio_size=32,
        heads=2,
        fused_dim=16,
        embedding_dim=16,
    )


__all__ = [
    "CITATION",
    "AVAttentionFusion",
    "AVAttentionFusionConfig",
    "av_attention_fusion",
    "av_attention_fusion_tiny",
]
