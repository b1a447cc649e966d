"""MER-SEM-MBT: semantic enhancement, multimodal bottleneck transformer and attentive decision
fusion (Xia, Zhao and Jiang 2022, Frontiers in Neuroscience 16:1086380).

::

    text ids ─BERT─► CLS I_t ─────────────────────────────────────────────┬──► MLP_t ► S_t
    audio examples ─VGGish[SEM(I_t) after conv2, conv4]─► I_a (B,Ta,128) ─┐
    face frames ─ResNet-18[SEM(I_t) after conv3_x, conv5_x]─► I_v (B,Tv,512) ┤ linear → d_model
                                 bottleneck transformer (N_b tokens) ◄──┘
    reinforced audio / video ─ masked mean over T ─ MLP_a ► S_a, MLP_v ► S_v
    attentive decision fusion(S_a, S_v, S_t) ► logits
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import torch
from torch import Tensor, nn

from emofuse.blocks import AttentiveDecisionFusion, SemanticEnhancedBackbone, build_cross_modal
from emofuse.blocks.audio_visual_exchange import CrossModalKind
from emofuse.config import ModelConfig, Task
from emofuse.encoders.checkpointing import set_gradient_checkpointing
from emofuse.encoders.resnet2d import ResNetEncoder
from emofuse.encoders.text import HFTextEncoder
from emofuse.encoders.vggish import EXAMPLE_FRAMES, MEL_BANDS, VGGish
from emofuse.encoders.weights import load_backbones
from emofuse.labels import IEMOCAP_6
from emofuse.layers import MLP, masked_mean, run_on_valid_steps
from emofuse.models.base import EmotionModel, example_mask, text_encoder_groups, trainable
from emofuse.outputs import EmotionOutput
from emofuse.registry import Citation, register_model
from emofuse.validation import TensorSpec, ensure_mask, modality

CITATION = Citation(
    title="Multimodal interaction enhanced representation learning for video emotion recognition",
    authors="Xiaohan Xia, Yong Zhao, Dongmei Jiang",
    venue="Frontiers in Neuroscience 16:1086380",
    year=2022,
    doi="10.3389/fnins.2022.1086380",
)

Modality = Literal["text", "audio", "video"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)

# Conv groups the paper freezes (sec. 4.3): VGGish conv1–2, ResNet-18 conv1 … conv3_x.
FROZEN_AUDIO_GROUPS, FROZEN_VIDEO_GROUPS = 2, 3
BACKBONE_LR_SCALE = 0.1  # backbones fine-tuned at 1e-5 while the rest trains at 1e-4


@dataclass(frozen=True, kw_only=True)
class MerSemMbtConfig(ModelConfig):
    """Configuration of :class:`MerSemMbt` (defaults: the paper's, sec. 4.3).

    Args:
        task: ``"multilabel"`` (the paper: one sigmoid per emotion, BCE with ``pos_weight``)
            or ``"multiclass"`` (one softmax over the emotions, e.g. MELD's 7 or IEMOCAP's 4
            or 6 single-label classes; cross-entropy).
        modalities: the modalities built, ``"text"`` and any of ``"audio"``, ``"video"`` (the
            paper: all three). ``("text",)`` builds the text encoder and the text decision
            S_t alone (no VGGish, ResNet-18, bottleneck transformer or fusion): the logits
            are S_t.
        text_encoder: BERT name (built from a local config when ``pretrained=False``), hub id
            (fetched with ``pretrained=True``) or local folder of a Hugging Face encoder
            (always loaded, whatever ``pretrained`` is); its CLS state is I_t.
        text_pooling: how the text vector I_t is read from the encoder's states: ``"cls"``
            (the paper: the CLS state) or ``"mean"`` (the mean over the valid tokens, as
            sentence encoders such as all-MiniLM-L6-v2 were trained to be read).
        freeze_text_encoder: keep the text encoder as loaded (no gradient, no dropout); the
            paper fine-tunes it.
        d_model: width of the cross-modal encoder (paper: 64).
        num_bottlenecks: N_b bottleneck tokens (paper: 4).
        num_heads: heads of the cross-modal encoder (paper: 8).
        num_layers: layers of the cross-modal encoder (paper: 1).
        cross_modal: ``"mbt"`` (paper), ``"joint"``, ``"bicross"`` (table 5) or ``"none"``
            (MER-SEM, table 3).
        use_sem: semantic enhancement in the audio and video encoders (False: MER-MBT).
        audio_sem_after: VGGish conv groups (1–4) followed by a SEM (paper: 2 and 4).
        video_sem_after: ResNet-18 conv groups (1–5) followed by a SEM (paper: 3 and 5).
        use_text_decision: fuse the text decision S_t (False: "w/o textual decision", table 2).
        face_size: face crop side in pixels.
        vggish_channels: VGGish conv widths (released VGGish: 64-128-256-512).
        vggish_fc_dims: VGGish fully connected widths (released VGGish: 4096-4096-128).
        resnet_width: ResNet first-stage channels, doubled at each later stage (ResNet-18: 64).
        text_head_dim: hidden width of the text MLP (768 → 256 → M).
        freeze_backbone_layers: freeze VGGish conv1–2 and ResNet conv1 … conv3_x (the paper's
            recipe); frozen parameters get ``requires_grad=False``.
        audio_backbone_weights: torchvggish state dict (``vggish-10086976.pth``), always loaded
            when given; otherwise ``pretrained=True`` fetches torchvggish's release.
        video_backbone_weights: a torchvision ResNet-18 state dict (e.g. AffectNet, the
            paper's), always loaded when given; otherwise ``pretrained=True`` fetches
            torchvision's ImageNet weights.
        gradient_checkpointing: during training, recompute the activations of VGGish and
            ResNet-18 (stage by stage) and BERT (layer by layer) in the backward pass instead of
            keeping them (less memory, about one more backbone forward pass; same outputs and
            gradients).
    """

    label_names: tuple[str, ...] | None = IEMOCAP_6
    task: Task = "multilabel"
    modalities: tuple[Modality, ...] = MODALITIES
    text_encoder: str = "bert-base-uncased"
    text_pooling: Literal["cls", "mean"] = "cls"
    freeze_text_encoder: bool = False
    d_model: int = 64
    num_bottlenecks: int = 4
    num_heads: int = 8
    num_layers: int = 1
    cross_modal: CrossModalKind = "mbt"
    use_sem: bool = True
    audio_sem_after: tuple[int, ...] = (2, 4)
    video_sem_after: tuple[int, ...] = (3, 5)
    use_text_decision: bool = True
    face_size: int = 224
    vggish_channels: tuple[int, ...] = (64, 128, 256, 512)
    vggish_fc_dims: tuple[int, ...] = (4096, 4096, 128)
    resnet_width: int = 64
    text_head_dim: int = 256
    freeze_backbone_layers: bool = True
    audio_backbone_weights: str | None = None
    video_backbone_weights: str | None = None
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task not in ("multilabel", "multiclass"):
            raise ValueError(f"task: expected 'multilabel' or 'multiclass', got {self.task!r}")
        if (
            "text" not in self.modalities
            or len(set(self.modalities)) != len(self.modalities)
            or not set(self.modalities) <= set(MODALITIES)
        ):
            raise ValueError(
                f"modalities: expected 'text' (the SEMs condition on it) and any of 'audio', "
                f"'video', without repeats, got {self.modalities}"
            )
        if self.modalities == ("text",) and not self.use_text_decision:
            raise ValueError(
                "use_text_decision: modalities=('text',) decides from the text alone; "
                "got use_text_decision=False (no decision left)"
            )
        for name, groups, count in (
            ("audio_sem_after", self.audio_sem_after, 4),
            ("video_sem_after", self.video_sem_after, 5),
        ):
            if list(groups) != sorted(set(groups)) or not all(1 <= g <= count for g in groups):
                raise ValueError(
                    f"{name}: expected increasing conv group numbers in 1..{count}, got {groups}"
                )
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model: expected a multiple of num_heads={self.num_heads}, got {self.d_model}"
            )
        for name in ("d_model", "num_bottlenecks", "num_layers", "resnet_width", "text_head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive int, got {getattr(self, name)}")
        if len(self.vggish_channels) != 4 or len(self.vggish_fc_dims) != 3:
            raise ValueError(
                f"vggish_channels/vggish_fc_dims: expected 4 and 3 widths, got "
                f"{self.vggish_channels} and {self.vggish_fc_dims}"
            )
        if self.face_size < 32:
            raise ValueError(f"face_size: expected at least 32 pixels, got {self.face_size}")


class MerSemMbt(EmotionModel[MerSemMbtConfig]):
    """MER-SEM-MBT (Xia et al. 2022, fig. 1): text-guided audio and face encoders, an
    audio-visual bottleneck transformer and attentive fusion of the audio, video and text
    decisions. Multi-label (train with BCE and ``pos_weight``, sec. 4.3).

    ``audio`` and ``video`` are each optional (``text`` is required: the SEMs condition on it);
    with one of them missing the cross-modal encoder is skipped and the decisions of the
    modalities present are fused.
    """

    config_class = MerSemMbtConfig
    # the backbones moved under the SEM wrapper (``<stream>_encoder.backbone``)
    legacy_state_dict_prefixes: ClassVar[Mapping[str, str]] = {
        **{
            f"audio_encoder.{n}.": f"audio_encoder.backbone.{n}."
            for n in ("features", "embeddings")
        },
        **{
            f"video_encoder.{n}.": f"video_encoder.backbone.{n}."
            for n in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
        },
    }

    def __init__(self, config: MerSemMbtConfig | None = None, *, pretrained: bool = False) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config
        self.text_encoder = HFTextEncoder(
            c.text_encoder,
            pretrained=pretrained,
            output="cls" if c.text_pooling == "cls" else "tokens",
            frozen=c.freeze_text_encoder,
        )
        text_dim = self.text_encoder.hidden_size
        self.has_audio, self.has_video = "audio" in c.modalities, "video" in c.modalities
        backbones: dict[str, tuple[nn.Module, str | None]] = {}
        if self.has_audio:
            self.audio_encoder = SemanticEnhancedBackbone(
                VGGish(c.vggish_channels, fc_dims=c.vggish_fc_dims),
                text_dim=text_dim,
                sem_after=c.audio_sem_after if c.use_sem else (),
            )
            backbones["audio_backbone_weights"] = (
                self.audio_encoder.backbone,
                c.audio_backbone_weights,
            )
            if c.freeze_backbone_layers:
                for group in self.audio_encoder.conv_groups()[:FROZEN_AUDIO_GROUPS]:
                    group.requires_grad_(False)
            self.audio_proj = nn.Linear(self.audio_encoder.out_dim, c.d_model)
            self.audio_head = MLP(
                c.d_model, hidden_dims=[c.d_model], out_dim=c.num_classes, dropout=c.dropout
            )
        if self.has_video:
            self.video_encoder = SemanticEnhancedBackbone(
                ResNetEncoder(widths=[c.resnet_width * 2**i for i in range(4)]),
                text_dim=text_dim,
                sem_after=c.video_sem_after if c.use_sem else (),
            )
            backbones["video_backbone_weights"] = (
                self.video_encoder.backbone,
                c.video_backbone_weights,
            )
            if c.freeze_backbone_layers:
                for group in self.video_encoder.conv_groups()[:FROZEN_VIDEO_GROUPS]:
                    group.requires_grad_(False)
            self.video_proj = nn.Linear(self.video_encoder.out_dim, c.d_model)
            self.video_head = MLP(
                c.d_model, hidden_dims=[c.d_model], out_dim=c.num_classes, dropout=c.dropout
            )
        load_backbones(backbones, pretrained=pretrained)
        self.cross_modal = (
            build_cross_modal(
                c.cross_modal,
                d_model=c.d_model,
                num_heads=c.num_heads,
                num_layers=c.num_layers,
                num_bottlenecks=c.num_bottlenecks,
                dropout=c.dropout,
            )
            if self.has_audio and self.has_video
            else None
        )
        self.text_head = (
            MLP(text_dim, hidden_dims=[c.text_head_dim], out_dim=c.num_classes, dropout=c.dropout)
            if c.use_text_decision
            else None
        )
        # one decision (the text alone) needs no fusion
        decisions = self.has_audio + self.has_video + c.use_text_decision
        self.fusion = AttentiveDecisionFusion(c.num_classes) if decisions > 1 else None
        if c.gradient_checkpointing:
            set_gradient_checkpointing(self)

    @classmethod
    def input_specs(cls, config: MerSemMbtConfig) -> list[TensorSpec]:
        s = config.face_size
        specs: list[TensorSpec] = []
        if "audio" in config.modalities:
            specs += modality(
                "audio", ("B", "T_a", 1, EXAMPLE_FRAMES, MEL_BANDS), meaning="log-mel examples"
            )
        if "video" in config.modalities:
            specs += modality("video", ("B", "T_v", 3, s, s), meaning="face crops, one per 0.96 s")
        specs += modality("text", ("B", "L"), kind="int", required=True, meaning="token ids")
        return specs

    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        steps, tokens, s = 4, 8, self.config.face_size
        vocab = self.text_encoder.vocab_size
        inputs: dict[str, Tensor] = {}
        if self.has_audio:
            inputs["audio"] = torch.randn(
                batch_size, steps, 1, EXAMPLE_FRAMES, MEL_BANDS, generator=generator
            )
            inputs["audio_mask"] = example_mask(batch_size, steps)
        if self.has_video:
            inputs["video"] = torch.randn(batch_size, steps, 3, s, s, generator=generator)
            inputs["video_mask"] = example_mask(batch_size, steps)
        inputs["text"] = torch.randint(0, vocab, (batch_size, tokens), generator=generator)
        inputs["text_mask"] = example_mask(batch_size, tokens)
        return inputs

    def forward(  # type: ignore[override]  # named inputs, not the base class's **inputs
        self,
        text: Tensor | None = None,
        audio: Tensor | None = None,
        video: Tensor | None = None,
        text_mask: Tensor | None = None,
        audio_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
    ) -> EmotionOutput:
        """Inputs:
            text: (B, L) token ids; audio: (B, T_a, 1, 96, 64) log-mel examples; video:
            (B, T_v, 3, face_size, face_size) face crops; masks (B, L), (B, T_a), (B, T_v)
            bool, True = valid. Only the modalities of ``config.modalities`` are taken; with
            audio and video built, one of them may be omitted, not both (with
            ``modalities=("text",)`` the text alone is the input). Padding may lie anywhere
            (I_t is the state of the first valid token, or the mean of the valid ones). A
            modality whose row is all padding is missing from that row: it takes no decision
            weight, gets no cross-modal exchange and pools to zeros, so the row's logits and
            embedding equal those computed without that modality.
        Returns:
            EmotionOutput: logits (B, M) (one sigmoid per emotion for ``task="multilabel"``,
            one softmax over them for ``"multiclass"``); embedding (B, 2·d_model + d_t) =
            [audio; video; I_t] pooled (zeros for a missing modality), or I_t (B, d_t) with
            ``modalities=("text",)``; modality_logits S_a, S_v, S_t (those built); with
            ``return_attentions=True``, attentions: ``fusion`` (B, K) the decision weights over
            the fused modalities in the order audio, video, text (those given; zero where a row
            misses one); the SEM maps
            ``{audio,video}_encoder.sem.<group>`` (B, T, H, W); and the cross-modal encoder's
            maps (B, heads, T_query, T_key) of every layer: for MBT
            ``cross_modal.layers.<i>.branches.<m>.compress`` (N_b × T_m) and ``.expand``
            (T_m × N_b); for joint attention ``cross_modal.encoder.layers.<i>.self_attn``; for
            bi-cross attention ``cross_modal.audio_from_video.<i>.attention`` and
            ``cross_modal.video_from_audio.<i>.attention``.
        Raises:
            ValueError: neither ``audio`` nor ``video`` where they are built, an input of a
                modality that is not built, or inputs of the wrong layout.
        """
        for m, x, mask in (("audio", audio, audio_mask), ("video", video, video_mask)):
            if m not in self.config.modalities and (x is not None or mask is not None):
                raise ValueError(
                    f"{m}: this model uses the modalities {self.config.modalities}; got {m}"
                )
        self.check_inputs(
            text=text,
            audio=audio,
            video=video,
            text_mask=text_mask,
            audio_mask=audio_mask,
            video_mask=video_mask,
        )
        assert text is not None  # required by input_specs
        if (self.has_audio or self.has_video) and audio is None and video is None:
            raise ValueError(
                "audio, video: expected at least one of audio (B, T_a, 1, 96, 64) and video "
                "(B, T_v, 3, H, W) for modalities="
                f"{self.config.modalities}; build with modalities=('text',) for text alone, "
                "got neither"
            )
        text_vec, text_present = self._text_vector(text, text_mask)
        streams: dict[str, Tensor] = {}
        masks: dict[str, Tensor] = {}
        for name, x, mask in (("audio", audio, audio_mask), ("video", video, video_mask)):
            if x is None:
                continue
            encoder, proj = getattr(self, f"{name}_encoder"), getattr(self, f"{name}_proj")
            masks[name] = ensure_mask(mask, x)
            # the frame CNN on the valid steps only, the clip's text vector on each for the SEMs
            streams[name] = proj(run_on_valid_steps(encoder, x, masks[name], text_vec))
        # a modality whose row is all padding is missing from that row
        present = {m: mask.any(1) for m, mask in masks.items()}
        if self.cross_modal is not None and len(streams) == 2:
            audio_out, video_out = self.cross_modal(
                streams["audio"], streams["video"], masks["audio"], masks["video"]
            )
            # a row missing either modality keeps its streams, as if the other were left out
            both = (present["audio"] & present["video"])[:, None, None]
            streams["audio"] = torch.where(both, audio_out, streams["audio"])
            streams["video"] = torch.where(both, video_out, streams["video"])
        pooled = {m: masked_mean(x, masks[m]) for m, x in streams.items()}
        decisions = {m: getattr(self, f"{m}_head")(p) for m, p in pooled.items()}
        if self.text_head is not None:
            decisions["text"] = self.text_head(text_vec)
            present["text"] = text_present
        if self.fusion is None:  # the text decision alone
            logits = torch.where(present["text"][:, None], decisions["text"], 0.0)
            return EmotionOutput(logits=logits, embedding=text_vec, modality_logits=decisions)
        logits = self.fusion(
            torch.stack(list(decisions.values()), dim=1),
            torch.stack([present[m] for m in decisions], dim=1),
        )
        zeros = text_vec.new_zeros(text_vec.shape[0], self.config.d_model)
        embedding = torch.cat(
            [pooled.get("audio", zeros), pooled.get("video", zeros), text_vec], dim=-1
        )
        return EmotionOutput(logits=logits, embedding=embedding, modality_logits=decisions)

    def _text_vector(self, text: Tensor, text_mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """I_t (B, d_t) and (B,) True where the text has a valid token (zeros where not)."""
        if self.config.text_pooling == "cls":
            return self.text_encoder(text, text_mask)
        states, mask = self.text_encoder(text, text_mask)
        return masked_mean(states, mask), mask.any(1)

    def param_groups(self, lr: float, *, layer_decay: float = 1.0) -> list[dict[str, Any]]:
        """The paper's recipe (sec. 4.3): frozen backbone layers excluded (``requires_grad``
        False), the rest of VGGish and ResNet-18 at ``lr × 0.1``, everything else (SEMs, BERT,
        cross-modal encoder, heads, fusion) at ``lr``. ``layer_decay < 1`` splits BERT into one
        group per layer (see :func:`~emofuse.models.base.text_encoder_groups`). A group with
        no trainable parameter (a frozen text encoder, a modality not built) is left out."""
        groups: list[dict[str, Any]] = []
        for name in ("audio", "video"):
            if name in self.config.modalities:
                backbone = getattr(self, f"{name}_encoder").backbone
                # the SEMs train at the full rate
                groups.append(
                    {
                        "name": f"{name}_backbone",
                        "params": trainable(backbone),
                        "lr": lr * BACKBONE_LR_SCALE,
                    }
                )
        if layer_decay != 1.0:
            groups += text_encoder_groups(self.text_encoder, lr, layer_decay=layer_decay)
        taken = {id(p) for g in groups for p in g["params"]}
        rest = [p for p in trainable(self) if id(p) not in taken]
        groups.append({"name": "others", "params": rest, "lr": lr})
        return [g for g in groups if g["params"]]


@register_model(MerSemMbt, citation=CITATION)
def mer_sem_mbt() -> MerSemMbtConfig:
    """SEM + bottleneck transformer + attentive decision fusion, audio/face/text (paper config)."""
    return MerSemMbtConfig()


@register_model(MerSemMbt, citation=CITATION)
def mer_sem_mbt_tiny() -> MerSemMbtConfig:
    """MER-SEM-MBT with tiny BERT, narrow VGGish and ResNet-18, 64-pixel faces (tests, demos)."""
    return MerSemMbtConfig(
        text_encoder="emofuse/bert-tiny",
        d_model=16,
        num_heads=2,
        face_size=64,
        vggish_channels=(8, 16, 32, 32),
        vggish_fc_dims=(64, 64, 32),
        resnet_width=8,
        text_head_dim=16,
    )


__all__ = ["CITATION", "MerSemMbt", "MerSemMbtConfig", "mer_sem_mbt", "mer_sem_mbt_tiny"]
