"""Models: ``nn.Module`` classes, each with its frozen config dataclass beside it (no I/O, no sampling)."""
