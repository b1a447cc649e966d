"""Frame sampling: one frame per second, one face per 0.96 s window, uniform snippets; indices
on the device asked for."""

from __future__ import annotations

import pytest
import torch

from emofuse.transforms import face_frame_indices, frame_indices_per_second, uniform_snippet_indices


@pytest.mark.parametrize(
    ("num_frames", "fps", "expected"),
    [
        (95, 30, [0, 30, 60, 90]),
        (90, 30, [0, 30, 60]),
        (100, 29.97, [0, 29, 59, 89]),
        (10, 30, [0]),
        (50, 25, [0, 25]),
    ],
)
def test_one_frame_per_second(num_frames: int, fps: float, expected: list[int]) -> None:
    assert frame_indices_per_second(num_frames, fps).tolist() == expected


def test_other_sampling_rates_and_bad_arguments() -> None:
    assert frame_indices_per_second(60, 30, frames_per_second=2).tolist() == [0, 15, 30, 45]
    with pytest.raises(ValueError, match="num_frames"):
        frame_indices_per_second(0, 30)
    with pytest.raises(ValueError, match="fps"):
        frame_indices_per_second(10, 0)


def test_face_frames_one_per_window_centre_or_random() -> None:
    centre = face_frame_indices(100, fps=25.0)  # 4 s: 4 whole windows of 24 frames
    assert centre.tolist() == [12, 36, 60, 84]
    g = torch.Generator().manual_seed(0)
    random = face_frame_indices(100, fps=25.0, training=True, generator=g)
    window = torch.arange(4) * 24
    assert ((random >= window) & (random < window + 24)).all()
    aligned = face_frame_indices(50, fps=25.0, num_windows=3)  # audio has 3 examples
    assert aligned.tolist() == [12, 36, 49]
    assert face_frame_indices(5, fps=25.0).tolist() == [2]


def test_indices_go_to_the_device_asked_for() -> None:
    meta = torch.device("meta")
    assert frame_indices_per_second(95, 30, device=meta).device == meta
    assert face_frame_indices(100, 25.0, device=meta).device == meta
    assert uniform_snippet_indices(40, 2, 4, device=meta).shape == (2, 4)
    assert uniform_snippet_indices(40, 2, 4, device=meta).device == meta
    with pytest.raises(ValueError, match="num_frames"):
        face_frame_indices(0, 25.0)
