"""Cross-modal transformer for audio, video or both (Takashima et al. 2022, Interspeech).

One model recognises emotions from audio and video together or from either alone:
``forward(audio=..., video=...)`` takes any non-empty subset, and the same weights answer all
three. Train it with :class:`emofuse.training.CoLearning` (interactive co-learning, eqs. 17–20)
so that all three work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn

from emofuse.blocks.modality_subset_transformer import (
    AttentiveSwishClassifier,
    CrossModalTransformer,
)
from emofuse.config import ModelConfig, Task, check_modalities
from emofuse.encoders.checkpointing import set_gradient_checkpointing
from emofuse.encoders.subsampling import ConvolutionPooling
from emofuse.encoders.timm_frames import TimmFrameEncoder
from emofuse.labels import CMU_MOSEI_SDK_6
from emofuse.layers import SinusoidalPositionalEncoding, TransformerEncoder
from emofuse.models.base import EmotionModel, example_mask, trainable
from emofuse.outputs import EmotionOutput
from emofuse.registry import Citation, register_model
from emofuse.validation import TensorSpec, ensure_mask, modality

CITATION = Citation(
    title="Interactive Co-Learning with Cross-Modal Transformer for Audio-Visual Emotion "
    "Recognition",
    authors="Akihiko Takashima, Ryo Masumura, Atsushi Ando, Yoshihiro Yamazaki, Mihiro Uchida, "
    "Shota Orihashi",
    venue="Interspeech 2022",
    year=2022,
    doi="10.21437/Interspeech.2022-11307",
)

Modality = Literal["audio", "video"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)


@dataclass(frozen=True, kw_only=True)
class ColearningTransformerConfig(ModelConfig):
    """Configuration of :class:`ColearningTransformer` (defaults: the paper's, sec. 4.2).

    Args:
        task: ``"multilabel"`` (the paper's: one sigmoid per emotion, BCE, eqs. 16–19) or
            ``"multiclass"`` (one softmax over the emotions, cross-entropy; e.g. RAVDESS-8 with
            ``label_names=emofuse.labels.RAVDESS_8``). The head is the same; the task says how
            its logits are read and trained.
        modalities: the modalities the model is built for: ``("audio", "video")`` (paper), or
            one alone. Only their encoders are built (an audio-only model carries no frame
            CNN); ``forward`` takes any non-empty subset of them.
        label_names: the six CMU-MOSEI emotions in the order of Takashima et al.'s tables 1–2,
            the CMU-MultimodalSDK's (:data:`emofuse.labels.CMU_MOSEI_SDK_6`): happiness,
            sadness, anger, surprise, disgust, fear.
        audio_dim: acoustic features per 10 ms step (80 log-mel + Δ + ΔΔ = 240).
        d_model: width of every transformer block (128).
        ffn_dim: hidden width of the Swish feed-forward networks (512).
        num_heads: attention heads (4).
        num_audio_layers: transformer blocks of the audio encoder (6).
        num_video_layers: transformer blocks of the visual encoder (2).
        num_cross_layers: transformer blocks of the cross-modal encoder (2).
        num_conv_layers: convolution-and-pooling stages of the audio subsampler (2 stages →
            T/4; at least 1, the first maps ``audio_dim`` to ``d_model``).
        conv_kernel: their kernel size over time.
        frame_backbone: timm model name of the frame CNN (``"mobilenetv3_large_100"``).
        frame_backbone_weights: a local state dict for the frame CNN, always loaded when given
            (otherwise ``pretrained=True`` fetches timm's published weights).
        face_size: face crops are ``face_size`` × ``face_size`` (128).
        dropout: inside the transformer blocks (0.1; the paper puts none in the classifier).
        gradient_checkpointing: during training, recompute the activations of the frame CNN
            block by block (timm's ``set_grad_checkpointing``) in the backward pass instead of
            keeping them (less memory, about one more CNN forward pass; same outputs and
            gradients).
    """

    label_names: tuple[str, ...] | None = CMU_MOSEI_SDK_6
    task: Task = "multilabel"
    modalities: tuple[Modality, ...] = MODALITIES
    audio_dim: int = 240
    d_model: int = 128
    ffn_dim: int = 512
    num_heads: int = 4
    num_audio_layers: int = 6
    num_video_layers: int = 2
    num_cross_layers: int = 2
    num_conv_layers: int = 2
    conv_kernel: int = 3
    frame_backbone: str = "mobilenetv3_large_100"
    frame_backbone_weights: str | None = None
    face_size: int = 128
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_modalities(self.modalities, MODALITIES)
        # num_conv_layers >= 1: the subsampler's convolutions map audio_dim to d_model
        for name in (
            "audio_dim",
            "d_model",
            "ffn_dim",
            "num_heads",
            "face_size",
            "conv_kernel",
            "num_conv_layers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive int, got {getattr(self, name)}")
        for name in ("num_audio_layers", "num_video_layers", "num_cross_layers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected an int >= 0, got {getattr(self, name)}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model: {self.d_model} is not divisible by num_heads={self.num_heads}"
            )
        if self.conv_kernel % 2 == 0:
            raise ValueError(f"conv_kernel: expected an odd size, got {self.conv_kernel}")
        import timm  # heavy: import on use, not when the model is registered

        if not timm.is_model(self.frame_backbone):
            raise ValueError(
                f"frame_backbone: expected a timm model name (timm.list_models()), "
                f"got {self.frame_backbone!r}"
            )


class ColearningTransformer(EmotionModel[ColearningTransformerConfig]):
    """Audio encoder, visual encoder, cross-modal encoder and classifier (Takashima et al.
    2022, sec. 3.1, Fig. 1); the encoders of ``config.modalities`` only.

    - Audio (eqs. 4–7): ``ConvolutionPooling`` (T/4) → sinusoidal positions → transformer.
    - Video (eqs. 8–11): MobileNetV3 per valid frame → d → sinusoidal positions → transformer.
    - Cross-modal (eqs. 12–13): segment embeddings, concatenation of the given modalities
      along time, transformer.
    - Classifier (eqs. 14–16): attentive pooling → Linear + Swish → Linear (logits, read as
      sigmoids for ``task="multilabel"``, a softmax for ``"multiclass"``).

    All transformer blocks are pre-norm with Swish feed-forward networks.
    """

    config_class = ColearningTransformerConfig

    def __init__(
        self, config: ColearningTransformerConfig | None = None, *, pretrained: bool = False
    ) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config

        def encoder(num_layers: int) -> TransformerEncoder:
            return TransformerEncoder(
                c.d_model,
                num_layers=num_layers,
                num_heads=c.num_heads,
                ffn_dim=c.ffn_dim,
                dropout=c.dropout,
                activation="swish",
            )

        # the paper's order (audio, then video) whatever order the config lists them in
        self.modalities = tuple(m for m in MODALITIES if m in c.modalities)
        self.has_audio, self.has_video = "audio" in c.modalities, "video" in c.modalities
        self.position = SinusoidalPositionalEncoding(c.d_model)
        if self.has_audio:
            self.subsampler = ConvolutionPooling(
                c.audio_dim,
                out_dim=c.d_model,
                num_layers=c.num_conv_layers,
                kernel_size=c.conv_kernel,
            )
            self.audio_encoder = encoder(c.num_audio_layers)
        if self.has_video:
            self.frame_encoder = TimmFrameEncoder(
                c.frame_backbone,
                out_dim=c.d_model,
                pretrained=pretrained,
                weights=c.frame_backbone_weights,
            )
            self.video_encoder = encoder(c.num_video_layers)
        self.cross_modal = CrossModalTransformer(
            self.modalities,
            d_model=c.d_model,
            num_heads=c.num_heads,
            ffn_dim=c.ffn_dim,
            num_layers=c.num_cross_layers,
            dropout=c.dropout,
        )
        # sec. 4.2: dropout "in the transformer blocks" only, none in the classifier
        self.classifier = AttentiveSwishClassifier(c.d_model, num_classes=c.num_classes)
        if c.gradient_checkpointing:
            set_gradient_checkpointing(self)

    @classmethod
    def input_specs(cls, config: ColearningTransformerConfig) -> list[TensorSpec]:
        s = config.face_size
        specs: list[TensorSpec] = []
        if "audio" in config.modalities:
            specs += modality(
                "audio", ("B", "T_a", config.audio_dim), meaning="log-mel+Δ+ΔΔ, 10 ms"
            )
        if "video" in config.modalities:
            specs += modality("video", ("B", "T_v", 3, s, s), meaning="face crops, 3 fps")
        return specs

    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        c, t_a, t_v = self.config, 22, 4
        inputs = {}
        if self.has_audio:
            inputs["audio"] = torch.randn(batch_size, t_a, c.audio_dim, generator=generator)
            inputs["audio_mask"] = example_mask(batch_size, t_a)
        if self.has_video:
            frames = (batch_size, t_v, 3, c.face_size, c.face_size)
            inputs["video"] = torch.randn(frames, generator=generator)
            inputs["video_mask"] = example_mask(batch_size, t_v)
        return inputs

    def encode_audio(self, audio: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Eqs. 4–6: (B, T_a, audio_dim) → (B, T_a', d) with its (B, T_a') mask."""
        a, mask = self.subsampler(audio, mask)
        return self.audio_encoder(self.position(a), mask), mask

    def encode_video(self, video: Tensor, mask: Tensor) -> Tensor:
        """Eqs. 8–10: (B, T_v, 3, H, W) → (B, T_v, d)."""
        v = self.frame_encoder(video, mask)
        return self.video_encoder(self.position(v), mask)

    def forward(  # type: ignore[override]  # named inputs, not the base class's **inputs
        self,
        audio: Tensor | None = None,
        video: Tensor | None = None,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> EmotionOutput:
        """Emotion logits from audio, video or both (of ``config.modalities``).

        Inputs:
            audio: (B, T_a, audio_dim) filter-bank features at 10 ms per step, or None.
            video: (B, T_v, 3, face_size, face_size) face crops, or None.
            audio_mask: (B, T_a) bool, True = valid; video_mask: (B, T_v) bool.
            At least one of ``config.modalities`` must be given, and no other.
        Returns:
            EmotionOutput with logits (B, num_classes), embedding (B, d_model) = the pooled
            vector o of eq. 14, and, with ``return_attentions=True``, attentions: every
            self-attention map of the encoders used, ``audio_encoder.layers.<i>.self_attn``,
            ``video_encoder.layers.<i>.self_attn`` and ``cross_modal.encoder.layers.<i>.self_attn``
            (B, heads, T, T), and the pooling weights ``classifier.pool`` (B, T_z).
        Raises:
            ValueError: no input of ``config.modalities``, an input of a modality the model
                was not built for, or inputs of the wrong layout.
        """
        self.check_inputs(audio=audio, video=video, audio_mask=audio_mask, video_mask=video_mask)
        if audio is None and video is None:
            layouts = {"audio": "audio (B, T_a, audio_dim)", "video": "video (B, T_v, 3, H, W)"}
            raise ValueError(
                f"{', '.join(self.modalities)}: expected at least one of "
                f"{' and '.join(layouts[m] for m in self.modalities)}, got neither"
            )
        streams: dict[str, tuple[Tensor, Tensor]] = {}
        if audio is not None:
            streams["audio"] = self.encode_audio(audio, ensure_mask(audio_mask, audio))
        if video is not None:
            video_mask = ensure_mask(video_mask, video)
            streams["video"] = (self.encode_video(video, video_mask), video_mask)
        logits, pooled = self.classifier(*self.cross_modal(streams))
        return EmotionOutput(logits=logits, embedding=pooled)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """One learning rate for all parts, as the paper fine-tunes everything together; the
        groups are named so a user can scale the pre-trained ones. The paper's optimizer is
        ``torch.optim.RAdam(model.param_groups(lr))`` with mini-batches of 16 and early
        stopping on the validation set (sec. 4.2; the learning rate is not given)."""
        parts: dict[str, list[nn.Module]] = {}
        if self.has_video:
            parts["frame_backbone"] = [self.frame_encoder.backbone]
        if self.has_audio:
            parts["audio_encoder"] = [self.subsampler, self.audio_encoder]
        if self.has_video:
            parts["video_encoder"] = [self.frame_encoder.proj, self.video_encoder]
        parts["cross_modal_classifier"] = [self.cross_modal, self.classifier]
        groups = []
        for name, modules in parts.items():
            params = [p for m in modules for p in trainable(m)]
            if params:
                groups.append({"name": name, "params": params, "lr": lr})
        return groups


@register_model(ColearningTransformer, citation=CITATION)
def colearning_transformer() -> ColearningTransformerConfig:
    """Cross-modal transformer for audio, video or both; interactive co-learning (CMU-MOSEI)."""
    return ColearningTransformerConfig()


@register_model(ColearningTransformer, citation=CITATION)
def colearning_transformer_tiny() -> ColearningTransformerConfig:
    """Tiny colearning_transformer for tests: width 32, one block each, MobileNetV3-Small-0.5."""
    return ColearningTransformerConfig(
        d_model=32,
        ffn_dim=64,
        num_heads=2,
        num_audio_layers=1,
        num_video_layers=1,
        num_cross_layers=1,
        frame_backbone="mobilenetv3_small_050",
        face_size=32,
    )


__all__ = [
    "CITATION",
    "ColearningTransformer",
    "ColearningTransformerConfig",
    "colearning_transformer",
    "colearning_transformer_tiny",
]
