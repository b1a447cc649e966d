"""Generic layers: attention, transformer layers, positional encodings, pooling, MLPs."""

from emofuse.layers.attention import MultiHeadAttention
from emofuse.layers.checkpoint import checkpoint_module
from emofuse.layers.functional import (
    batch_norm_running_stats,
    masked_mean,
    masked_softmax,
    run_on_valid_steps,
    zero_padding,
)
from emofuse.layers.mlp import ACTIVATIONS, MLP, FeedForward, get_activation
from emofuse.layers.pooling import AttentivePooling, MaskedMeanPool
from emofuse.layers.positional import SinusoidalPositionalEncoding
from emofuse.layers.transformer import (
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "AttentivePooling",
    "FeedForward",
    "MaskedMeanPool",
    "MultiHeadAttention",
    "SinusoidalPositionalEncoding",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "batch_norm_running_stats",
    "checkpoint_module",
    "get_activation",
    "masked_mean",
    "masked_softmax",
    "run_on_valid_steps",
    "zero_padding",
]
