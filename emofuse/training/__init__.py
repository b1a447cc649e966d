"""Training utilities that work across models."""

__all__: list[str] = []
