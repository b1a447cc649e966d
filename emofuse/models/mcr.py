"""MCR: target and source Modality Co-Reinforcement (Yang et al. 2023, Knowledge-Based Systems).

Unaligned feature sequences (language, video, audio) → per-modality Conv1d and sinusoidal
positions → ``num_layers`` modality reinforcement layers (CMU + SCU per target, SUM for the
sources) → the reinforced targets concatenated in time → a transformer encoder → masked mean →
MLP head. See ``docs/models/mcr.md``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args

import torch
from einops import rearrange
from torch import Tensor, nn

from emofuse.blocks.modality_reinforcement import (
    ModalityReinforcementStack,
    SourceUpdateMode,
    Structure,
)
from emofuse.config import ModelConfig, check_modalities
from emofuse.encoders.weights import loading_weights
from emofuse.labels import IEMOCAP_4
from emofuse.layers import MLP, SinusoidalPositionalEncoding, TransformerEncoder, masked_mean
from emofuse.models.base import EmotionModel, example_mask, trainable
from emofuse.outputs import EmotionOutput
from emofuse.registry import Citation, register_model
from emofuse.validation import TensorSpec, ensure_mask, modality

CITATION = Citation(
    title=(
        "Target and source modality co-reinforcement for emotion understanding from "
        "asynchronous multimodal sequences"
    ),
    authors=(
        "Dingkang Yang, Yang Liu, Can Huang, Mingcheng Li, Xiao Zhao, Yuzheng Wang, Kun Yang, "
        "Yan Wang, Peng Zhai, Lihua Zhang"
    ),
    venue="Knowledge-Based Systems 265, 110370",
    year=2023,
    doi="10.1016/j.knosys.2023.110370",
)

Modality = Literal["text", "video", "audio"]
MODALITIES: tuple[Modality, ...] = get_args(Modality)  # the paper's L, V, A; tuples' order
MCRTask = Literal["regression", "classification", "multilabel", "multiclass"]
_MEANING = {"text": "word features", "video": "facial features", "audio": "acoustic features"}


@dataclass(frozen=True, kw_only=True)
class MCRConfig(ModelConfig):
    """MCR hyper-parameters (Yang et al. 2023, table 1); the default is the MOSEI column.

    Args:
        input_dims: feature widths (text, video, audio): GloVe 300, Facet 35, COVAREP 74.
        seq_lens: fixed sequence lengths (text, video, audio) of the unaligned release; inputs
            are padded to them (the CMU exchange maps between these lengths).
        d_model: feature size d after the Conv1d front (table 1: 40).
        num_heads: attention heads (table 1: MOSI 10, MOSEI 8, IEMOCAP 10).
        kernel_sizes: Conv1d kernels (text, video, audio), odd ('same' padding).
        num_layers: modality reinforcement layers (table 1: MOSI 3, MOSEI 4, IEMOCAP 3).
        num_encoder_layers: layers of the final transformer encoder over [Z_L; Z_V; Z_A].
        ffn_dim: hidden width of every feed-forward layer (default ``4 * d_model``).
        task: ``"regression"`` (one output, L1 loss), ``"multilabel"`` (one binary decision per
            emotion, IEMOCAP's protocol; ``"classification"``, the paper's word for it in
            sec. 4.2, is the same) or ``"multiclass"`` (one softmax).
        modalities: the modalities used, any non-empty subset of (text, video, audio).
        use_cmu: an ablation switch of table 5 (see
            :class:`ModalityReinforcementLayer`).
        use_scu: an ablation switch of table 5 (see
            :class:`ModalityReinforcementLayer`).
        use_mutual_attention: an ablation switch of table 5 (see
            :class:`ModalityReinforcementLayer`).
        use_scu_attention_layer: an ablation switch of table 5 (see
            :class:`ModalityReinforcementLayer`).
        source_update: an ablation switch of table 5 (see
            :class:`ModalityReinforcementLayer`).
        structure: an ablation switch of table 5 (see
            :class:`ModalityReinforcementLayer`).
    """

    num_classes: int = 1
    input_dims: tuple[int, int, int] = (300, 35, 74)
    seq_lens: tuple[int, int, int] = (50, 500, 500)
    d_model: int = 40
    num_heads: int = 8
    kernel_sizes: tuple[int, int, int] = (3, 3, 3)
    num_layers: int = 4
    num_encoder_layers: int = 1
    ffn_dim: int | None = None
    # one value more than ModelConfig.task: "classification" (the paper's word), stored as
    # "multilabel" by __post_init__
    task: MCRTask = "regression"  # type: ignore[assignment]  # also "classification"
    modalities: tuple[Modality, ...] = MODALITIES
    use_cmu: bool = True
    use_scu: bool = True
    use_mutual_attention: bool = True
    use_scu_attention_layer: bool = True
    source_update: SourceUpdateMode = "sum"
    structure: Structure = "parallel"

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("input_dims", "seq_lens", "kernel_sizes"):
            value = getattr(self, name)
            if len(value) != 3 or any(v < 1 for v in value):
                raise ValueError(
                    f"{name}: expected three positive ints (text, video, audio), got {value}"
                )
        if any(k % 2 == 0 for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes: expected odd kernels, got {self.kernel_sizes}")
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model: {self.d_model} is not divisible by num_heads={self.num_heads}"
            )
        if self.num_layers < 1 or self.num_encoder_layers < 0:
            raise ValueError(
                f"num_layers, num_encoder_layers: expected >= 1 and >= 0, "
                f"got {self.num_layers}, {self.num_encoder_layers}"
            )
        if self.task == "classification":
            object.__setattr__(self, "task", "multilabel")
        if self.task == "regression" and self.num_classes != 1:
            raise ValueError(f"num_classes: regression has one output, got {self.num_classes}")
        check_modalities(self.modalities, MODALITIES)
        if not (self.use_cmu or self.use_scu):
            raise ValueError("use_cmu, use_scu: at least one target unit must be used")

    def per_modality(self, name: str) -> dict[str, int]:
        """``{modality: value}`` of the (text, video, audio) tuple ``name`` for the used
        modalities, in ``modalities`` order."""
        values = dict(zip(MODALITIES, getattr(self, name), strict=True))
        return {m: values[m] for m in self.modalities}


class MCR(EmotionModel[MCRConfig]):
    """Target and source Modality Co-Reinforcement (Yang et al. 2023, sec. 3, fig. 1b).

    Inputs are padded to the config's fixed ``seq_lens`` (the CMU's source-axis exchange maps
    between them), so the model cannot take other lengths: ``fixed_lengths = True``.

    It has no pretrained backbone (its inputs are pre-extracted features): ``pretrained=True``
    loads nothing and warns so (``UserWarning``).
    """

    config_class = MCRConfig
    fixed_lengths = True
    legacy_state_dict_prefixes: ClassVar[Mapping[str, str]] = {"layers.": "reinforcement.layers."}

    def __init__(self, config: MCRConfig | None = None, *, pretrained: bool = False) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config
        if pretrained and loading_weights():
            warnings.warn(
                "pretrained=True: MCR has no pretrained backbone (it reads precomputed "
                "features), so nothing is loaded; build with pretrained=False",
                UserWarning,
                stacklevel=2,
            )
        dims, lens, kernels = (
            c.per_modality(n) for n in ("input_dims", "seq_lens", "kernel_sizes")
        )
        ffn_dim = c.ffn_dim or 4 * c.d_model
        self.front = nn.ModuleDict(
            {
                m: nn.Conv1d(dims[m], c.d_model, kernels[m], padding=kernels[m] // 2, bias=False)
                for m in c.modalities
            }
        )
        self.position = SinusoidalPositionalEncoding(c.d_model, max_len=max(lens.values()))
        self.embed_dropout = nn.Dropout(c.dropout)
        self.reinforcement = ModalityReinforcementStack(
            c.d_model,
            num_heads=c.num_heads,
            seq_lens=lens,
            num_layers=c.num_layers,
            source_update=c.source_update,
            ffn_dim=ffn_dim,
            dropout=c.dropout,
            use_cmu=c.use_cmu,
            use_scu=c.use_scu,
            use_mutual_attention=c.use_mutual_attention,
            use_scu_attention_layer=c.use_scu_attention_layer,
            structure=c.structure,
        )
        self.encoder = TransformerEncoder(
            c.d_model,
            num_layers=c.num_encoder_layers,
            num_heads=c.num_heads,
            ffn_dim=ffn_dim,
            dropout=c.dropout,
        )
        self.head = MLP(
            c.d_model, hidden_dims=[c.d_model], out_dim=c.num_classes, dropout=c.dropout
        )

    @classmethod
    def input_specs(cls, config: MCRConfig) -> list[TensorSpec]:
        dims, lens = config.per_modality("input_dims"), config.per_modality("seq_lens")
        return [
            spec
            for m in config.modalities
            for spec in modality(
                m, ("B", lens[m], dims[m]), required=True, meaning=f"{_MEANING[m]}, padded"
            )
        ]

    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        c = self.config
        dims, lens = c.per_modality("input_dims"), c.per_modality("seq_lens")
        inputs: dict[str, Tensor] = {}
        for m in c.modalities:
            inputs[m] = torch.randn(batch_size, lens[m], dims[m], generator=generator)
            inputs[f"{m}_mask"] = example_mask(batch_size, lens[m])
        return inputs

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """One Adam group at ``lr`` (sec. 4.2; table 1: 1e-3 for MOSI and MOSEI, 2e-3 for
        IEMOCAP)."""
        return [{"name": "all", "params": trainable(self), "lr": lr}]

    def forward(  # type: ignore[override]  # named inputs, not the base class's **inputs
        self,
        text: Tensor | None = None,
        video: Tensor | None = None,
        audio: Tensor | None = None,
        text_mask: Tensor | None = None,
        video_mask: Tensor | None = None,
        audio_mask: Tensor | None = None,
    ) -> EmotionOutput:
        """Inputs:
            text: (B, T_L, d_L); video: (B, T_V, d_V); audio: (B, T_A, d_A) feature sequences
            padded to ``seq_lens``, for the modalities in ``config.modalities``; ``<m>_mask``:
            (B, T_m) bool, True = valid step (default: all valid).
        Returns:
            EmotionOutput with logits (B, num_classes), embedding (B, dim) and, with
            ``return_attentions=True``, attentions for every layer i and target m, under
            ``reinforcement.layers.<i>.``: ``cmu.<m>.attention_<j>`` (B, heads, T_m, T_s_j)
            over its j-th source, ``cmu.<m>.alpha`` (B, T_s1 + T_s2) the selective weights,
            ``scu.<m>.cross_attn`` (B, heads, T_m, ΣT_s), ``scu.<m>.self_attn``
            (B, heads, T_m, T_m) and ``scu.<m>.gamma`` (B, 2) (cross, self); and
            ``encoder.layers.<i>.self_attn`` (B, heads, ΣT, ΣT).
        Raises:
            ValueError: a modality outside ``config.modalities``, or inputs of the wrong layout
                or length (``fixed_lengths``).
        """
        given = {"text": text, "video": video, "audio": audio}
        masks_in = {"text": text_mask, "video": video_mask, "audio": audio_mask}
        for m, x in given.items():
            if m not in self.config.modalities and (x is not None or masks_in[m] is not None):
                raise ValueError(
                    f"{m}: this model uses the modalities {self.config.modalities}; got {m}"
                )
        self.check_inputs(**given, **{f"{m}_mask": v for m, v in masks_in.items()})
        inputs = {m: x for m, x in given.items() if x is not None}  # the model's, checked above
        masks = {m: ensure_mask(masks_in[m], inputs[m]) for m in self.config.modalities}
        targets: dict[str, Tensor] = {}
        for m in self.config.modalities:
            # zero padded steps first so that the convolution never carries padding in
            x = inputs[m].masked_fill(~masks[m][..., None], 0.0)
            z = rearrange(self.front[m](rearrange(x, "b t c -> b c t")), "b d t -> b t d")
            targets[m] = self.embed_dropout(self.position(z))
        targets = self.reinforcement(targets, masks)
        fused = torch.cat(list(targets.values()), dim=1)
        fused_mask = torch.cat(list(masks.values()), dim=1)
        embedding = masked_mean(self.encoder(fused, fused_mask), fused_mask)
        return EmotionOutput(logits=self.head(embedding), embedding=embedding)


@register_model(MCR, citation=CITATION)
def mcr() -> MCRConfig:
    """Paper configuration, CMU-MOSEI column of table 1 (unaligned, sentiment regression)."""
    return MCRConfig()


@register_model(MCR, citation=CITATION)
def mcr_mosi() -> MCRConfig:
    """CMU-MOSI column of table 1 (unaligned release of Tsai et al. 2019, regression)."""
    return MCRConfig(input_dims=(300, 20, 5), seq_lens=(50, 500, 375), num_heads=10, num_layers=3)


@register_model(MCR, citation=CITATION)
def mcr_iemocap() -> MCRConfig:
    """IEMOCAP column of table 1 (unaligned, 4 emotions, one binary decision each)."""
    return MCRConfig(
        seq_lens=(20, 500, 400),
        num_heads=10,
        kernel_sizes=(3, 3, 5),
        num_layers=3,
        task="multilabel",
        num_classes=len(IEMOCAP_4),
        label_names=IEMOCAP_4,
    )


@register_model(MCR, citation=CITATION)
def mcr_tiny() -> MCRConfig:
    """Tiny MCR for tests and demos: same architecture, d = 8, two layers, short sequences."""
    return MCRConfig(
        input_dims=(12, 5, 6),
        seq_lens=(6, 9, 7),
        d_model=8,
        num_heads=2,
        kernel_sizes=(3, 3, 5),
        num_layers=2,
        ffn_dim=16,
    )
