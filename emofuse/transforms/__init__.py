"""Front-ends turning waveforms and frame sequences into model inputs."""

from emofuse.transforms.kaldi_fbank import KaldiFbankDeltas

__all__: list[str] = []
__all__ += ["KaldiFbankDeltas"]
