"""Activations by name and a plain multi-layer perceptron."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "swish": nn.SiLU,  # Swish with beta = 1 (Ramachandran et al. 2017) is SiLU
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
}


def get_activation(name: str) -> nn.Module:
    """A fresh activation module: ``"relu"``, ``"gelu"``, ``"swish"``/``"silu"`` or ``"tanh"``.

    Raises:
        ValueError: an unknown ``name``.
    """
    try:
        return ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ValueError(
            f"activation: expected one of {sorted(ACTIVATIONS)}, got {name!r}"
        ) from None


class MLP(nn.Sequential):
    """Linear layers with an activation and dropout between them (none after the last).

    Args:
        in_dim: input width.
        hidden_dims: widths of the hidden layers (may be empty: one linear layer).
        out_dim: output width.
        activation: name for :func:`get_activation`.
        dropout: dropout after each hidden activation.

    Inputs:
        x: (..., in_dim).
    Returns:
        (..., out_dim).
    """

    def __init__(
        self,
        in_dim: int,
        *,
        hidden_dims: Sequence[int],
        out_dim: int,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        layers: list[nn.Module] = []
        width = in_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), get_activation(activation), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, out_dim))
        super().__init__(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x)


class FeedForward(nn.Sequential):
    """Position-wise feed-forward network ``Linear → act → dropout → Linear`` (Vaswani et al.
    2017, eq. 2).

    Args:
        d_model: input and output width; ffn_dim: hidden width.
        activation: name for :func:`get_activation`; dropout: after the activation.

    Inputs:
        x: (..., d_model).
    Returns:
        (..., d_model).
    """

    def __init__(
        self, d_model: int, *, ffn_dim: int, activation: str = "relu", dropout: float = 0.0
    ):
        super().__init__(
            nn.Linear(d_model, ffn_dim),
            get_activation(activation),
            nn.Dropout(dropout),
            nn.Linear(ffn_dim, d_model),
        )


__all__ = ["ACTIVATIONS", "MLP", "FeedForward", "get_activation"]
