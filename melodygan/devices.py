"""Devices: where tensors live and which precision they compute in.

CPU everywhere; CUDA when present. Mixed precision is bf16 autocast on CUDA; on CPU it is off by
default and only pays off on CPUs with AVX-512 bf16 (measure before turning it on).
"""

from __future__ import annotations

import contextlib
import os
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


THREADS_ENV = "MELODYGAN_THREADS"


def sampling_threads(n: int | None = None) -> int:
    """Threads for running a small model: ``n``, else ``$MELODYGAN_THREADS``, else 1.

    Raises:
        MelodyganError: not a positive whole number.
    """
    value: object = n if n is not None else os.environ.get(THREADS_ENV, "1")
    try:
        count = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        where = "--threads" if n is not None else f"${THREADS_ENV}"
        raise MelodyganError(f"{where} must be a whole number >= 1, got {value!r}")
    return count


def batch_threads(n: int | None = None) -> int:
    """Threads for a batched forward pass that fills the cores (the GAN writing many clips at once):
    ``n``, else ``$MELODYGAN_THREADS``, else torch's own default (one per core). A second thread
    pays here: 1,000 GAN clips ran at 1.9 thousand per second on one thread, 2.9 on two."""
    if n is None and THREADS_ENV not in os.environ:
        return _DEFAULT_THREADS
    return sampling_threads(n)


_DEFAULT_THREADS = torch.get_num_threads()  # torch's choice at import, before anything changes it


@contextlib.contextmanager
def cpu_threads(n: int | None = None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: :func:`sampling_threads`), then restore the previous setting.

    Small models (the harmonizer's LSTM over a few hundred beats, the transformer sampling one token
    at a time) run fastest on one thread: a second one only waits on the first. While other work
    kept a 2-core machine busy, harmonizing a 65-bar POP909 song took 6.7 s with torch's default of
    2 threads and 0.03 s with 1; ``generate --bars 8`` 35.8 s and 3.6 s.
    """
    n = sampling_threads(n)
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
