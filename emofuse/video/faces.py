"""Finding and cropping the face in each frame with the Haar cascades that ship inside OpenCV's
wheel (Viola & Jones 2001, "Rapid object detection using a boosted cascade of simple
features", CVPR; Lienhart & Maydt 2002's extended features): no download, no weights to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as error:  # the optional extra is missing
        raise ImportError(
            "face detection needs OpenCV: pip install 'emofuse[video]' (opencv-python-headless)"
        ) from error
    if not hasattr(cv2, "CascadeClassifier"):
        raise ImportError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 moved the Haar "
            f"cascades out); install opencv-python-headless<5, as emofuse[video] pins it"
        )
    return cv2


@dataclass(frozen=True)
class FaceCrop:
    """One frame's face, as :class:`FaceDetector` crops it.

    Attributes:
        image: (S, S, 3) uint8 RGB, the square around the face; zeros when no face was found.
        box: (x0, y0, x1, y1) the detected face in frame pixels, or ``None`` (no face).
    """

    image: np.ndarray
    box: tuple[int, int, int, int] | None

    @property
    def found(self) -> bool:
        return self.box is not None


class FaceDetector:
    """The largest frontal face of a frame, found by an OpenCV Haar cascade and cropped square.

    Args:
        cascade: a file name in ``cv2.data.haarcascades`` or a path to a cascade XML file.
        crop_size: side S of the square crop in pixels.
        margin: the crop's side is the face box's side times ``1 + margin`` (0.25 keeps the
            chin and the brow, as face-crop corpora do); parts outside the frame are black.
        detect_side: frames are searched at this longer side in pixels (faster on large
            frames; boxes are mapped back to the full frame, which the crop is taken from).
        min_face: smallest face searched for, as a fraction of the shorter side.
        scale_factor: the cascade's search step (OpenCV's ``detectMultiScale``).
        min_neighbors: the overlapping hits a face needs (``detectMultiScale``).

    Inputs:
        frame: (H, W, 3) uint8 RGB.
    Returns:
        a :class:`FaceCrop`.

    Raises:
        ImportError: OpenCV missing (``pip install 'emofuse[video]'``).
        ValueError: a cascade file that does not exist or does not load; a frame not
            (H, W, 3) uint8; ``crop_size``, ``detect_side`` or ``min_face`` out of range.
    """

    def __init__(
        self,
        cascade: str = DEFAULT_CASCADE,
        *,
        crop_size: int = 224,
        margin: float = 0.25,
        detect_side: int = 320,
        min_face: float = 0.1,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
    ) -> None:
        cv2 = _cv2()
        if crop_size < 1 or detect_side < 16 or not 0 < min_face <= 1 or margin < 0:
            raise ValueError(
                f"crop_size, detect_side, min_face, margin: expected crop_size ≥ 1, "
                f"detect_side ≥ 16, 0 < min_face ≤ 1 and margin ≥ 0, got {crop_size}, "
                f"{detect_side}, {min_face}, {margin}"
            )
        path = cascade if "/" in cascade or "\\" in cascade else cv2.data.haarcascades + cascade
        self.classifier = cv2.CascadeClassifier(path)
        if self.classifier.empty():
            raise ValueError(f"cascade: no Haar cascade loads from {path}")
        self.crop_size, self.margin, self.detect_side = crop_size, margin, detect_side
        self.min_face, self.scale_factor, self.min_neighbors = (
            min_face,
            scale_factor,
            min_neighbors,
        )

    def detect(self, frame: np.ndarray) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the largest face in ``frame`` (pixels), or ``None``."""
        cv2 = _cv2()
        if not (isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] == 3):
            raise ValueError(
                f"frame: expected an (H, W, 3) uint8 RGB array, got "
                f"{getattr(frame, 'shape', type(frame).__name__)}"
            )
        if frame.dtype != np.uint8:
            raise ValueError(f"frame: expected uint8 RGB, got {frame.dtype}")
        height, width = frame.shape[:2]
        scale = min(1.0, self.detect_side / max(height, width))
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)  # the cascades were trained on equalised faces
        side = max(1, round(self.min_face * min(gray.shape)))
        hits = self.classifier.detectMultiScale(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(side, side),
        )
        if len(hits) == 0:
            return None
        x, y, w, h = max(hits, key=lambda b: int(b[2]) * int(b[3])) / scale
        return round(x), round(y), round(x + w), round(y + h)

    def crop(self, frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """The square around ``box`` (widened by ``margin``), resized to (S, S, 3); the part
        outside the frame is black."""
        cv2 = _cv2()
        x0, y0, x1, y1 = box
        side = max(x1 - x0, y1 - y0) * (1 + self.margin)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        left, top = round(cx - side / 2), round(cy - side / 2)
        size = max(1, round(side))
        height, width = frame.shape[:2]
        square = np.zeros((size, size, 3), np.uint8)
        fx0, fy0 = max(left, 0), max(top, 0)
        fx1, fy1 = min(left + size, width), min(top + size, height)
        if fx1 > fx0 and fy1 > fy0:
            square[fy0 - top : fy1 - top, fx0 - left : fx1 - left] = frame[fy0:fy1, fx0:fx1]
        interpolation = cv2.INTER_AREA if size > self.crop_size else cv2.INTER_LINEAR
        return cv2.resize(square, (self.crop_size, self.crop_size), interpolation=interpolation)

    def __call__(self, frame: np.ndarray) -> FaceCrop:
        box = self.detect(frame)
        if box is None:
            return FaceCrop(np.zeros((self.crop_size, self.crop_size, 3), np.uint8), None)
        return FaceCrop(self.crop(frame, box), box)


def fill_missing_faces(found: np.ndarray) -> np.ndarray | None:
    """For each frame, the index of the nearest frame (in time) whose face was found: a frame
    whose face the detector missed takes the crop of its nearest neighbour with one (ties: the
    earlier frame), as face trackers hold a face through a blink of the detector.

    Inputs:
        found: (T,) bool, True where a face was detected.
    Returns:
        (T,) int64 indices into the frames, or ``None`` when no frame has a face.
    """
    found = np.asarray(found, dtype=bool)
    hits = np.flatnonzero(found)
    if hits.size == 0:
        return None
    steps = np.arange(found.size)
    right = np.searchsorted(hits, steps).clip(max=hits.size - 1)
    left = (right - 1).clip(min=0)
    nearer_left = np.abs(steps - hits[left]) <= np.abs(hits[right] - steps)
    return np.where(nearer_left, hits[left], hits[right])


__all__ = ["DEFAULT_CASCADE", "FaceCrop", "FaceDetector", "fill_missing_faces"]
