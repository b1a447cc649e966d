from __future__ import annotations

import pytest
import torch

from emofuse.validation import TensorSpec, check_inputs, ensure_mask, modality

SPECS = [
    *modality("audio", ("B", "T", 1, 96, 64), required=True, meaning="log-mel examples"),
    *modality("text", ("B", "L"), kind="int"),
]


def _inputs(**kw):
    base = {
        "audio": torch.randn(2, 3, 1, 96, 64),
        "audio_mask": torch.ones(2, 3, dtype=torch.bool),
        "text": torch.zeros(2, 4, dtype=torch.long),
    }
    base.update(kw)
    return base


def test_valid_inputs_bind_sizes() -> None:
    assert check_inputs(SPECS, _inputs()) == {"B": 2, "T": 3, "L": 4}


@pytest.mark.parametrize(
    ("override", "pattern"),
    [
        ({"audio": None}, r"audio: required input missing; expected \(B, T, 1, 96, 64\) log-mel"),
        (
            {"audio": torch.randn(2, 3, 96, 64)},
            r"audio: expected a 5-d tensor .* got shape \(2, 3, 96, 64\)",
        ),
        ({"audio": torch.randn(2, 3, 1, 96, 32)}, r"audio: .*axis 4 must be 64"),
        (
            {"audio": torch.zeros(2, 3, 1, 96, 64, dtype=torch.long)},
            r"audio: expected a float tensor.*torch.int64",
        ),
        (
            {"audio_mask": torch.ones(2, 4, dtype=torch.bool)},
            r"audio_mask: .*T = 3 as in audio, got \(2, 4\)",
        ),
        ({"audio_mask": torch.ones(2, 3)}, r"audio_mask: expected a bool tensor.*torch.float32"),
        ({"text": torch.zeros(3, 4, dtype=torch.long)}, r"text: .*B = 2 as in audio, got \(3, 4\)"),
        ({"text": torch.zeros(2, 4)}, r"text: expected a int tensor"),
        ({"text": [1, 2]}, r"text: expected a tensor of shape \(B, L\).*got list"),
        (
            {"text": None, "text_mask": torch.ones(2, 4, dtype=torch.bool)},
            r"text_mask: given without text",
        ),
    ],
)
def test_bad_inputs_name_argument_layout_and_value(override, pattern) -> None:
    with pytest.raises(ValueError, match=pattern):
        check_inputs(SPECS, _inputs(**override))


def test_optional_inputs_may_be_missing() -> None:
    inputs = _inputs()
    del inputs["text"]
    assert "L" not in check_inputs(SPECS, inputs)


def test_spec_layout_text() -> None:
    assert TensorSpec("x", ("B", 3)).layout == "(B, 3)"


def test_ensure_mask() -> None:
    x = torch.randn(2, 5, 3)
    assert ensure_mask(None, x).all() and ensure_mask(None, x).shape == (2, 5)
    m = torch.zeros(2, 5, dtype=torch.bool)
    assert ensure_mask(m, x) is m
