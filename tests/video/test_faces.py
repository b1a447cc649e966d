from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data
from video_clips import no_face_image

from emofuse.video import FaceDetector, decode_clip, fill_missing_faces, sample_clip

# The astronaut's face in skimage.data.astronaut() (512 × 512), x0, y0, x1, y1 in pixels.
ASTRONAUT_FACE = (177, 66, 272, 161)


def _iou(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
    return w * h / (area - w * h)


def test_finds_the_real_face_and_crops_a_square_around_it() -> None:
    detector = FaceDetector(crop_size=96, margin=0.25, detect_side=256)
    photo = data.astronaut()
    crop = detector(photo)
    assert crop.found and crop.box is not None
    assert _iou(crop.box, ASTRONAUT_FACE) > 0.6  # found at half resolution, mapped back
    assert crop.image.shape == (96, 96, 3) and crop.image.dtype == np.uint8
    # the crop is the face box widened by 25 %: the face box itself fills its central 80 %
    x0, y0, x1, y1 = crop.box
    side = round(max(x1 - x0, y1 - y0) * 1.25)
    left, top = round((x0 + x1) / 2 - side / 2), round((y0 + y1) / 2 - side / 2)
    expected = detector.crop(photo, crop.box)
    np.testing.assert_array_equal(crop.image, expected)
    reference = photo[top : top + side, left : left + side]
    assert abs(float(reference.mean()) - float(crop.image.mean())) < 3


def test_no_face_gives_a_black_crop_and_no_box() -> None:
    crop = FaceDetector(crop_size=32)(no_face_image(256))
    assert not crop.found and crop.box is None
    assert crop.image.shape == (32, 32, 3) and not crop.image.any()


def test_crop_outside_the_frame_is_black() -> None:
    frame = np.full((100, 100, 3), 200, np.uint8)
    crop = FaceDetector(crop_size=20, margin=0.0).crop(frame, (80, 80, 120, 120))
    assert crop[:8, :8].max() == 200 and crop[-5:, -5:].max() == 0  # only the corner is inside


def test_bad_frames_and_settings_are_value_errors(tmp_path: Path) -> None:
    detector = FaceDetector()
    with pytest.raises(ValueError, match=r"frame: expected an \(H, W, 3\)"):
        detector(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        detector(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(ValueError, match="crop_size"):
        FaceDetector(crop_size=0)
    with pytest.raises(ValueError, match="cascade"):
        FaceDetector(str(tmp_path / "missing.xml"))


def test_fill_missing_faces_takes_the_nearest_found_frame() -> None:
    found = np.array([False, True, False, False, False, True, False])
    assert fill_missing_faces(found).tolist() == [1, 1, 1, 1, 5, 5, 5]  # a tie: the earlier
    assert fill_missing_faces(np.ones(3, bool)).tolist() == [0, 1, 2]
    assert fill_missing_faces(np.zeros(4, bool)) is None
    assert fill_missing_faces(np.zeros(0, bool)) is None


def test_sample_clip_is_a_real_talking_face(tmp_path: Path) -> None:
    clip = sample_clip(tmp_path / "sample.mp4", fps=5, size=128)
    decoded = decode_clip(clip.path, frame_fn=FaceDetector(crop_size=32))
    assert all(c.found for c in decoded.frames)  # the photograph's face, in every frame
    assert len(decoded.frames) == round(clip.duration * 5)
    assert clip.has_audio == (decoded.audio is not None)
    if clip.has_audio:  # espeak-ng installed: the speech sets the length
        assert decoded.audio is not None and decoded.audio.mono().abs().max() > 0.1
        assert decoded.audio.duration == pytest.approx(clip.duration - 0.2, abs=0.1)
    silent = sample_clip(tmp_path / "silent.mp4", fps=5, size=64, speech=False)
    assert not silent.has_audio and decode_clip(silent.path).audio is None
    assert silent.duration == 3.0
