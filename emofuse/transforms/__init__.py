"""Front-ends turning waveforms and frame sequences into model inputs."""

__all__: list[str] = []
