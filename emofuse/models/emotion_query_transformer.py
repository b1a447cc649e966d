"""Transformer-based token fusion and emotion-level representation learning (Le et al. 2023).

ALBERT word states, VGG19 face-frame features and VGG19 mel-chunk features are projected to
``d``; faces and chunks pass through their own transformer encoders; ``[CLS; T; I; A]`` is fused
by a post-norm transformer encoder (eqs. 3–4); ``C`` learned emotion queries decode the fused
sequence (eqs. 5–7) and a group-wise linear head scores each emotion from its own vector. Trained
with BCE weighted per class by negatives over positives (eqs. 8–9, see
:func:`emofuse.losses.bce_pos_weight`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import torch
from einops import rearrange
from torch import Tensor, nn

from emofuse.blocks import EarlyFusion, EmotionQueryDecoder, GroupWiseLinear, TokenFusionEncoder
from emofuse.config import ModelConfig, Task, check_modalities
from emofuse.encoders import (
    FrameSequenceEncoder,
    HFTextEncoder,
    VGGFeatures,
    set_gradient_checkpointing,
)
from emofuse.labels import CMU_MOSEI_6, IEMOCAP_6
from emofuse.layers import MLP
from emofuse.models.base import EmotionModel, example_mask, text_encoder_groups, trainable
from emofuse.outputs import EmotionOutput
from emofuse.registry import Citation, register_model
from emofuse.validation import TensorSpec, ensure_mask, modality

CITATION = Citation(
    title=(
        "Multi-Label Multimodal Emotion Recognition With Transformer-Based Fusion and "
        "Emotion-Level Representation Learning"
    ),
    authors="Hoai-Duy Le, Guee-Sang Lee, Soo-Hyung Kim, Seungwon Kim, Hyung-Jeong Yang",
    venue="IEEE Access 11",
    year=2023,
    doi="10.1109/ACCESS.2023.3244390",
)

Modality = Literal["text", "video", "audio"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)  # the paper's order: [CLS; T; I; A]


@dataclass(frozen=True, kw_only=True)
class EmotionQueryTransformerConfig(ModelConfig):
    """Configuration of :class:`EmotionQueryTransformer` (defaults: the paper on IEMOCAP).

    Args:
        task: ``"multilabel"`` (the paper: one sigmoid per emotion, weighted BCE) or
            ``"multiclass"`` (one softmax over the emotions, e.g. MELD's 7 or IEMOCAP's 4
            or 6 single-label classes; cross-entropy).
        modalities: the modalities built and fused, any non-empty subset of ``("text",
            "video", "audio")`` (the paper: all three), e.g. ``("text",)`` for transcripts
            alone: only the text encoder, the fusion encoder over ``[CLS; T]``, the emotion
            queries and the head are built.
        text_encoder: a Hugging Face name, local config name or folder (paper: ALBERT-base);
            a folder's weights are always loaded (``pretrained`` is not needed).
        freeze_text_encoder: keep the text encoder as loaded (no gradient, no dropout); the
            paper fine-tunes it.
        text_max_len: tokens kept, CLS included (paper: 50).
        vgg_widths: channels of the five VGG stages (VGG19: 64, 128, 256, 512, 512).
        vgg_batch_norm: BatchNorm in the VGGs (VGG19 has none).
        projection_dim: hidden width of the two-layer projections (text 768→512→d).
        face_size: side of the square face crops (paper: 64).
        mel_bins: mel bands of one spectrogram chunk (128).
        chunk_frames: frames of one spectrogram chunk (32).
        d_model: width of every transformer (paper: 256).
        num_heads: attention heads of every transformer (paper: 4).
        ffn_dim: feed-forward width of every transformer (paper: 2048).
        num_video_layers: table 6's ImgEnc layers (IEMOCAP 2; CMU-MOSEI 4).
        num_audio_layers: table 6's SpecEnc layers (IEMOCAP 2; CMU-MOSEI 4).
        num_fusion_layers: table 6's FusionEnc layers (IEMOCAP 2; CMU-MOSEI 4).
        num_decoder_layers: table 6's EmoDec layers (IEMOCAP 2; CMU-MOSEI 4).
        fusion: ``"transformer"`` (the paper) or ``"early"`` (table 5's baseline: pooled
            modalities concatenated).
        use_emotion_queries: the emotion-level embedding module; False classifies with one linear
            layer from the CLS token (from the concatenation under early fusion), table 5.
        use_positional_encoding: sinusoidal positions in the face, chunk and fusion encoders (the
            authors' release uses none).
        gradient_checkpointing: during training, recompute the activations of the two VGGs
            stage by stage in the backward pass instead of keeping them (less memory, about one
            more VGG forward pass; same outputs and gradients). A BERT-like text encoder is
            checkpointed layer by layer; ALBERT, whose layers share weights, is not
            (transformers does not support it).
    """

    label_names: tuple[str, ...] | None = IEMOCAP_6
    task: Task = "multilabel"
    modalities: tuple[Modality, ...] = MODALITIES
    text_encoder: str = "albert-base-v2"
    freeze_text_encoder: bool = False
    text_max_len: int = 50
    vgg_widths: tuple[int, ...] = (64, 128, 256, 512, 512)
    vgg_batch_norm: bool = False
    projection_dim: int = 512
    face_size: int = 64
    mel_bins: int = 128
    chunk_frames: int = 32
    d_model: int = 256
    num_heads: int = 4
    ffn_dim: int = 2048
    num_video_layers: int = 2
    num_audio_layers: int = 2
    num_fusion_layers: int = 2
    num_decoder_layers: int = 2
    fusion: Literal["transformer", "early"] = "transformer"
    use_emotion_queries: bool = True
    use_positional_encoding: bool = False
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task not in ("multilabel", "multiclass"):
            raise ValueError(f"task: expected 'multilabel' or 'multiclass', got {self.task!r}")
        check_modalities(self.modalities, MODALITIES)
        if len(self.vgg_widths) != 5:
            raise ValueError(f"vgg_widths: expected 5 stage widths, got {self.vgg_widths}")
        side = 2 ** len(self.vgg_widths)  # five 2×2 pools
        for name in ("face_size", "mel_bins", "chunk_frames"):
            if getattr(self, name) < side:
                raise ValueError(f"{name}: expected at least {side} (five VGG pools)")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model: {self.d_model} is not divisible by num_heads={self.num_heads}"
            )
        if self.text_max_len < 2:
            raise ValueError(
                f"text_max_len: expected at least 2 (CLS and a word), got {self.text_max_len}"
            )
        for name in (
            "num_video_layers",
            "num_audio_layers",
            "num_fusion_layers",
            "num_decoder_layers",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected a non-negative int, got {getattr(self, name)}")


class EmotionQueryTransformer(EmotionModel[EmotionQueryTransformerConfig]):
    """Le et al. 2023: token-level transformer fusion of text, faces and audio, then emotion
    queries (fig. 1). See the module docstring and ``docs/models/emotion_query_transformer.md``.

    ``pretrained=True`` loads the text encoder's published weights (the VGGs are trained from
    scratch, as in the paper).
    """

    config_class = EmotionQueryTransformerConfig
    # ALBERT's learning rate relative to the rest (sec. IV.B.2: 5e-5 vs 5e-4).
    text_lr_factor: ClassVar[float] = 0.1

    def __init__(
        self, config: EmotionQueryTransformerConfig | None = None, *, pretrained: bool = False
    ) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config
        if "text" in c.modalities:
            self.text_encoder = HFTextEncoder(
                c.text_encoder,
                pretrained=pretrained,
                output="tokens_without_cls",
                frozen=c.freeze_text_encoder,
            )
            self.text_encoder.max_len = self.text_encoder.check_max_len(
                c.text_max_len, "text_max_len"
            )
            self.text_projection = MLP(
                self.text_encoder.hidden_size, hidden_dims=[c.projection_dim], out_dim=c.d_model
            )
        for name, channels, num_layers in (
            ("video", 3, c.num_video_layers),
            ("audio", 1, c.num_audio_layers),
        ):
            if name not in c.modalities:
                continue
            encoder = FrameSequenceEncoder(
                VGGFeatures(channels, widths=c.vgg_widths, batch_norm=c.vgg_batch_norm),
                backbone_dim=c.vgg_widths[-1],
                hidden_dim=c.projection_dim,
                d_model=c.d_model,
                num_layers=num_layers,
                num_heads=c.num_heads,
                ffn_dim=c.ffn_dim,
                dropout=c.dropout,
                use_positional_encoding=c.use_positional_encoding,
            )
            setattr(self, f"{name}_encoder", encoder)
        if c.fusion == "transformer":
            self.fusion: nn.Module = TokenFusionEncoder(
                c.d_model,
                num_layers=c.num_fusion_layers,
                num_heads=c.num_heads,
                ffn_dim=c.ffn_dim,
                dropout=c.dropout,
                use_positional_encoding=c.use_positional_encoding,
            )
            summary_dim = c.d_model  # the CLS token
        else:
            self.fusion = EarlyFusion()
            summary_dim = len(c.modalities) * c.d_model  # the concatenated modalities
        if c.use_emotion_queries:
            self.emotion_decoder = EmotionQueryDecoder(
                c.num_classes,
                d_model=c.d_model,
                num_layers=c.num_decoder_layers,
                num_heads=c.num_heads,
                ffn_dim=c.ffn_dim,
                dropout=c.dropout,
            )
            self.head: nn.Module = GroupWiseLinear(c.num_classes, d_model=c.d_model)
        else:
            self.head = nn.Linear(summary_dim, c.num_classes)
        if c.gradient_checkpointing:
            set_gradient_checkpointing(self)

    @classmethod
    def input_specs(cls, config: EmotionQueryTransformerConfig) -> list[TensorSpec]:
        s = config.face_size
        specs = {
            "text": modality("text", ("B", "L"), kind="int", required=True, meaning="token ids"),
            "video": modality(
                "video", ("B", "N_i", 3, s, s), required=True, meaning="face crops, 1 fps"
            ),
            "audio": modality(
                "audio",
                ("B", "N_a", 1, config.mel_bins, config.chunk_frames),
                required=True,
                meaning="mel-spectrogram chunks",
            ),
        }
        return [spec for m in MODALITIES if m in config.modalities for spec in specs[m]]

    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        c = self.config
        text_len, faces, chunks = 8, 3, 4
        inputs: dict[str, Tensor] = {}
        if "text" in c.modalities:
            inputs["text"] = torch.randint(
                0, self.text_encoder.vocab_size, (batch_size, text_len), generator=generator
            )
            inputs["text_mask"] = example_mask(batch_size, text_len)
        if "video" in c.modalities:
            inputs["video"] = torch.randn(
                batch_size, faces, 3, c.face_size, c.face_size, generator=generator
            )
            inputs["video_mask"] = example_mask(batch_size, faces)
        if "audio" in c.modalities:
            inputs["audio"] = torch.rand(
                batch_size, chunks, 1, c.mel_bins, c.chunk_frames, generator=generator
            )
            inputs["audio_mask"] = example_mask(batch_size, chunks)
        return inputs

    def forward(  # type: ignore[override]  # named inputs, not the base class's **inputs
        self,
        text: Tensor | None = None,
        video: Tensor | None = None,
        audio: Tensor | None = None,
        text_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
        audio_mask: Tensor | None = None,
    ) -> EmotionOutput:
        """Inputs (those of ``config.modalities``, each required):
            text: (B, L) token ids (CLS first, as the tokenizer writes it), text_mask (B, L);
            video: (B, N_i, 3, S, S) face crops at 1 fps, video_mask (B, N_i);
            audio: (B, N_a, 1, mel_bins, chunk_frames) mel chunks, audio_mask (B, N_a).
            Masks are bool, True = valid; None means all valid.
        Returns:
            EmotionOutput: logits (B, C) (one sigmoid per emotion for ``task="multilabel"``,
            one softmax over them for ``"multiclass"``); embedding = mean of the C emotion
            vectors (B, d), or the CLS state (B, d) / concatenated modalities (B, M·d) without
            emotion queries; with ``return_attentions=True``, attentions (B, heads, T_query,
            T_key) of every layer: ``video_encoder.encoder.layers.<i>.self_attn`` (N_i × N_i),
            ``audio_encoder.encoder.layers.<i>.self_attn`` (N_a × N_a),
            ``fusion.encoder.layers.<i>.self_attn`` (n_s × n_s over ``[CLS; text; video;
            audio]``, the modalities used), ``emotion_decoder.decoder.layers.<i>.self_attn``
            (C × C) and ``.cross_attn`` (C × n_s).
        Raises:
            ValueError: a missing input of ``config.modalities``, an input of another modality,
                or inputs of the wrong layout.
        """
        given = {
            "text": (text, text_mask),
            "video": (video, video_mask),
            "audio": (audio, audio_mask),
        }
        for m, (x, mask) in given.items():
            if m not in self.config.modalities and (x is not None or mask is not None):
                raise ValueError(
                    f"{m}: this model uses the modalities {self.config.modalities}; got {m}"
                )
        self.check_inputs(
            text=text,
            video=video,
            audio=audio,
            text_mask=text_mask,
            video_mask=video_mask,
            audio_mask=audio_mask,
        )
        sequences, masks = [], []
        for m in (m for m in MODALITIES if m in self.config.modalities):
            x, mask = given[m]
            assert x is not None  # required by input_specs
            mask = ensure_mask(mask, x)
            if m == "text":
                words, word_mask = self.text_encoder(x, mask)
                # zero the padded word states so nothing of the padding reaches later layers
                t = self.text_projection(words).masked_fill(~word_mask[..., None], 0.0)
                sequences.append(t)
                masks.append(word_mask)
            else:
                encoder: nn.Module = getattr(self, f"{m}_encoder")
                sequences.append(encoder(x, mask))
                masks.append(mask)
        fused, fused_mask = self.fusion(sequences, masks)
        if self.config.use_emotion_queries:
            emotions = self.emotion_decoder(fused, fused_mask)
            logits, embedding = self.head(emotions), emotions.mean(1)
        else:
            if self.config.fusion == "transformer":
                embedding = fused[:, 0]
            else:
                embedding = rearrange(fused, "b m d -> b (m d)")
            logits = self.head(embedding)
        return EmotionOutput(logits=logits, embedding=embedding)

    def param_groups(self, lr: float, *, layer_decay: float = 1.0) -> list[dict[str, Any]]:
        """Adam groups of sec. IV.B.2: ``"text_encoder"`` (ALBERT) at ``lr × 0.1`` (5e-5 when
        ``lr`` is the paper's 5e-4) and ``"others"`` (VGGs, projections, transformers, head) at
        ``lr``. ``layer_decay < 1`` splits the text encoder into one group per layer (see
        :func:`~emofuse.models.base.text_encoder_groups`); a frozen text encoder has no group.
        """
        groups: list[dict[str, Any]] = []
        if "text" in self.config.modalities:
            groups = text_encoder_groups(
                self.text_encoder, lr * self.text_lr_factor, layer_decay=layer_decay
            )
        taken = {id(p) for g in groups for p in g["params"]}
        others = [p for p in trainable(self) if id(p) not in taken]
        return [*groups, *([{"name": "others", "params": others, "lr": lr}] if others else [])]


@register_model(EmotionQueryTransformer, citation=CITATION)
def emotion_query_transformer() -> EmotionQueryTransformerConfig:
    """Token-level transformer fusion + emotion-query decoder, IEMOCAP setting (2, 2, 2, 2)."""
    return EmotionQueryTransformerConfig()


@register_model(EmotionQueryTransformer, citation=CITATION)
def emotion_query_transformer_mosei() -> EmotionQueryTransformerConfig:
    """Token-level transformer fusion + emotion-query decoder, CMU-MOSEI setting (4, 4, 4, 4)."""
    return EmotionQueryTransformerConfig(
        label_names=CMU_MOSEI_6,
        num_video_layers=4,
        num_audio_layers=4,
        num_fusion_layers=4,
        num_decoder_layers=4,
    )


@register_model(EmotionQueryTransformer, citation=CITATION)
def emotion_query_transformer_tiny() -> EmotionQueryTransformerConfig:
    """Same architecture, tiny ALBERT, narrow VGGs, small inputs (tests, demos)."""
    return EmotionQueryTransformerConfig(
        text_encoder="emofuse/albert-tiny",
        vgg_widths=(4, 4, 8, 8, 8),
        projection_dim=32,
        face_size=32,
        mel_bins=32,
        chunk_frames=32,
        d_model=16,
        num_heads=2,
        ffn_dim=32,
        num_video_layers=1,
        num_audio_layers=1,
        num_fusion_layers=1,
        num_decoder_layers=1,
    )


__all__ = [
    "CITATION",
    "EmotionQueryTransformer",
    "EmotionQueryTransformerConfig",
    "emotion_query_transformer",
    "emotion_query_transformer_mosei",
    "emotion_query_transformer_tiny",
]
