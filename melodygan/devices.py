"""Devices: where tensors live and which precision they compute in.

CPU everywhere; CUDA when present. Mixed precision is bf16 autocast on CUDA; on CPU it is off by
default and only pays off on CPUs with AVX-512 bf16 (measure before turning it on).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from melodygan.errors import MelodyganError


def pick_device(name: str | None = None) -> torch.device:
    """The device to run on: ``name`` if given (``'cpu'``, ``'cuda'``, ``'cuda:1'``), else CUDA when available.

    Raises:
        MelodyganError: when CUDA is asked for and not available, or the name is not a device.
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise MelodyganError(f"unknown device {name!r}; use 'cpu', 'cuda' or 'cuda:N'") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MelodyganError(f"device {name!r} asked for but CUDA is not available here; use --device cpu")
    return device


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool | None = None) -> Iterator[None]:
    """bf16 autocast on CUDA (default on) or CPU (default off); a no-op when disabled."""
    on = (device.type == "cuda") if enabled is None else enabled
    if not on:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
        yield


def make_generator(seed: int, device: torch.device | None = None) -> torch.Generator:
    """A seeded ``torch.Generator`` on ``device`` (CPU by default): every random draw takes one."""
    g = torch.Generator(device=device or "cpu")
    g.manual_seed(int(seed))
    return g


@contextlib.contextmanager
def cpu_threads(n: int = 1) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous setting.

    Small models (the harmonizer's LSTM over a few hundred beats) run fastest on one thread: a
    second one only waits on the first. While other work kept a 2-core machine busy, harmonizing a
    65-bar POP909 song took 6.7 s with torch's default of 2 threads and 0.03 s with 1.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
