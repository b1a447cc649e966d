"""Clips as models take them: decoding frames and audio with PyAV, finding and cropping faces
with OpenCV's Haar cascades, and writing clips (a real sample clip included).

Needs the optional extra: ``pip install 'emofuse[video]'`` (OpenCV for the face detector,
scikit-image for the sample clip's photograph; PyAV is a core dependency).
"""

from emofuse.video.decode import DecodedClip, decode_clip
from emofuse.video.faces import DEFAULT_CASCADE, FaceCrop, FaceDetector, fill_missing_faces
from emofuse.video.sample import (
    SAMPLE_TEXT,
    SampleClip,
    photo_frames,
    sample_clip,
    synthesize_speech,
    write_clip,
)

__all__ = [
    "DEFAULT_CASCADE",
    "SAMPLE_TEXT",
    "DecodedClip",
    "FaceCrop",
    "FaceDetector",
    "SampleClip",
    "decode_clip",
    "fill_missing_faces",
    "photo_frames",
    "sample_clip",
    "synthesize_speech",
    "write_clip",
]
