"""Paper building blocks (fusion modules and the like), each usable on its own."""

__all__: list[str] = []
