"""Front-ends turning waveforms and frame sequences into model inputs."""

from emofuse.transforms.vggish_frontend import VGGishFrontEnd, face_frame_indices

__all__: list[str] = []
__all__ += ["VGGishFrontEnd", "face_frame_indices"]
