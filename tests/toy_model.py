"""A small audio+text model registered by the tests, so the registry-wide contract tests have
a model to run before (and beside) the paper models. It uses the shared layers the way a paper
model would, and stands for a user's own model registered with ``emofuse.register_model``."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

import emofuse
from emofuse.layers import (
    MLP,
    SinusoidalPositionalEncoding,
    TransformerEncoder,
    masked_mean,
    zero_padding,
)
from emofuse.models import EmotionModel, example_mask
from emofuse.outputs import EmotionOutput
from emofuse.validation import TensorSpec, ensure_mask, modality


@dataclass(frozen=True, kw_only=True)
class ToyConfig(emofuse.ModelConfig):
    audio_dim: int = 8
    vocab_size: int = 50
    d_model: int = 16
    num_heads: int = 2
    num_layers: int = 1


class ToyFusion(EmotionModel[ToyConfig]):
    """Audio and text encoders, masked mean, concatenation, linear head."""

    config_class = ToyConfig

    def __init__(self, config: ToyConfig | None = None, *, pretrained: bool = False) -> None:
        super().__init__(config, pretrained=pretrained)
        c = self.config
        self.audio_proj = nn.Linear(c.audio_dim, c.d_model)
        self.token_embedding = nn.Embedding(c.vocab_size, c.d_model)
        self.position = SinusoidalPositionalEncoding(c.d_model)
        self.audio_encoder = TransformerEncoder(
            c.d_model,
            num_layers=c.num_layers,
            num_heads=c.num_heads,
            ffn_dim=2 * c.d_model,
            dropout=c.dropout,
        )
        self.text_encoder = TransformerEncoder(
            c.d_model,
            num_layers=c.num_layers,
            num_heads=c.num_heads,
            ffn_dim=2 * c.d_model,
            dropout=c.dropout,
        )
        self.head = MLP(
            2 * c.d_model, hidden_dims=[c.d_model], out_dim=c.num_classes, dropout=c.dropout
        )

    def vocab_sizes(self) -> dict[str, int]:
        return {"text": self.config.vocab_size}  # its own embedding: ids checked at the entrance

    @classmethod
    def input_specs(cls, config: ToyConfig) -> list[TensorSpec]:
        return [
            *modality("audio", ("B", "T_a", config.audio_dim), required=True, meaning="features"),
            *modality("text", ("B", "L"), kind="int", required=True, meaning="token ids"),
        ]

    def example_inputs(
        self, batch_size: int = 2, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        c = self.config
        return {
            "audio": torch.randn(batch_size, 6, c.audio_dim, generator=generator),
            "audio_mask": example_mask(batch_size, 6),
            "text": torch.randint(0, c.vocab_size, (batch_size, 5), generator=generator),
            "text_mask": example_mask(batch_size, 5),
        }

    def forward(  # type: ignore[override]
        self,
        audio: Tensor,
        text: Tensor,
        audio_mask: Tensor | None = None,
        text_mask: Tensor | None = None,
    ) -> EmotionOutput:
        self.check_inputs(audio=audio, text=text, audio_mask=audio_mask, text_mask=text_mask)
        audio_mask, text_mask = ensure_mask(audio_mask, audio), ensure_mask(text_mask, text)
        audio = zero_padding(audio, audio_mask)  # NaN in padding must reach no gradient
        a = self.audio_encoder(self.position(self.audio_proj(audio)), audio_mask)
        t = self.text_encoder(self.position(self.token_embedding(text)), text_mask)
        embedding = torch.cat([masked_mean(a, audio_mask), masked_mean(t, text_mask)], dim=-1)
        return EmotionOutput(logits=self.head(embedding), embedding=embedding)


@emofuse.register_model(ToyFusion)
def toy_fusion() -> ToyConfig:
    """A user-registered toy (tests only), larger configuration."""
    return ToyConfig(d_model=64, num_heads=4, num_layers=2)


@emofuse.register_model(ToyFusion)
def toy_fusion_tiny() -> ToyConfig:
    """A user-registered toy (tests only)."""
    return ToyConfig()
