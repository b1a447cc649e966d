"""Register your own model with emofuse and train it with the library's layers.

Run: python examples/custom_model.py
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import torch
from torch import Tensor, nn

import emofuse
from emofuse.config import Task
from emofuse.layers import MLP, AttentivePooling, SinusoidalPositionalEncoding, TransformerEncoder
from emofuse.models import EmotionModel, example_mask
from emofuse.validation import TensorSpec, ensure_mask, modality


@dataclass(frozen=True, kw_only=True)
class AudioTransformerConfig(emofuse.ModelConfig):
    task: Task = "multiclass"  # one softmax over the classes (the default is "multilabel")
    feature_dim: int = 40
    d_model: int = 32
    num_heads: int = 4
    num_layers: int = 2


class AudioTransformer(EmotionModel[AudioTransformerConfig]):
    """Acoustic features → transformer encoder → attentive pooling → emotion logits."""

    config_class = AudioTransformerConfig

    def __init__(self, config: AudioTransformerConfig | None = None, *, pretrained: bool = False):
        super().__init__(config, pretrained=pretrained)
        c = self.config
        self.proj = nn.Linear(c.feature_dim, c.d_model)
        self.position = SinusoidalPositionalEncoding(c.d_model)
        self.encoder = TransformerEncoder(
            c.d_model,
            num_layers=c.num_layers,
            num_heads=c.num_heads,
            ffn_dim=4 * c.d_model,
            dropout=c.dropout,
        )
        self.pool = AttentivePooling(c.d_model)
        self.head = MLP(
            c.d_model, hidden_dims=[c.d_model], out_dim=c.num_classes, dropout=c.dropout
        )

    @classmethod
    def input_specs(cls, config: AudioTransformerConfig) -> list[TensorSpec]:
        return list(modality("audio", ("B", "T", config.feature_dim), required=True))

    def example_inputs(self, batch_size: int = 2, *, generator=None) -> dict[str, Tensor]:
        return {
            "audio": torch.randn(batch_size, 20, self.config.feature_dim, generator=generator),
            "audio_mask": example_mask(batch_size, 20),
        }

    def forward(self, audio, audio_mask=None):  # type: ignore[override]
        # return_attentions=True is added by EmotionModel: it records the maps of every layer
        self.check_inputs(audio=audio, audio_mask=audio_mask)
        mask = ensure_mask(audio_mask, audio)
        pooled = self.pool(self.encoder(self.position(self.proj(audio)), mask), mask)
        return emofuse.EmotionOutput(self.head(pooled), embedding=pooled)


@emofuse.register_model(AudioTransformer)
def audio_transformer() -> AudioTransformerConfig:
    """A small audio-only transformer (example)."""
    return AudioTransformerConfig(label_names=emofuse.labels.IEMOCAP_4, num_classes=4)


def main(steps: int = 30) -> float:
    torch.manual_seed(0)
    model = emofuse.build("audio_transformer", dropout=0.0)
    optimizer = torch.optim.Adam(model.param_groups(lr=3e-3))
    # Synthetic task: the class is the sign pattern of the first two features' means.
    inputs = model.example_inputs(batch_size=16)
    labels = (inputs["audio"][..., 0].mean(1) > 0).long() * 2 + (
        inputs["audio"][..., 1].mean(1) > 0
    )
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(**inputs).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with tempfile.TemporaryDirectory() as folder:
        model.save_pretrained(folder)
        reloaded = emofuse.build("audio_transformer", pretrained=folder).eval()
        accuracy = (reloaded(**inputs).logits.argmax(-1) == labels).float().mean().item()
    print(
        f"{emofuse.model_info('audio_transformer')['description']} — final loss {loss:.3f}, "
        f"train accuracy {accuracy:.2f}"
    )
    return loss.item()


if __name__ == "__main__":
    main()
