"""Generic layers: attention, transformer layers, positional encodings, pooling, MLPs, and the
recording of attention maps."""

from emofuse.layers.attention import MultiHeadAttention, scaled_dot_product
from emofuse.layers.checkpoint import checkpoint_module
from emofuse.layers.functional import (
    batch_norm_running_stats,
    masked_mean,
    masked_softmax,
    run_on_valid_steps,
    zero_padding,
)
from emofuse.layers.masks import lengths_to_mask, mask_to_lengths, staircase_mask
from emofuse.layers.mlp import ACTIVATIONS, MLP, FeedForward, get_activation
from emofuse.layers.pooling import AttentivePooling, MaskedMeanPool
from emofuse.layers.positional import SinusoidalPositionalEncoding
from emofuse.layers.recording import is_recording, record, record_attentions
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
    "is_recording",
    "lengths_to_mask",
    "mask_to_lengths",
    "masked_mean",
    "masked_softmax",
    "record",
    "record_attentions",
    "run_on_valid_steps",
    "scaled_dot_product",
    "staircase_mask",
    "zero_padding",
]
