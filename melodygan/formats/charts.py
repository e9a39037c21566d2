"""Charts for training runs and evaluation reports (matplotlib, Agg canvas: no display needed).

Piano rolls of a :class:`~melodygan.piece.Piece` are :mod:`melodygan.formats.plot`; this module
draws the plain charts around them — loss curves, grouped bars, histograms real vs model, and
strips of raw roll images — from numbers the caller computed. Every chart is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from melodygan.files import atomic_output


def _figure(width: float, height: float, rows: int = 1, cols: int = 1) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _save(fig: Any, path: str | Path, dpi: int) -> Path:
    fig.tight_layout()
    with atomic_output(Path(path), force=True) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def line_chart(series: dict[str, Sequence[tuple[float, float]]], path: str | Path, *, xlabel: str, ylabel: str,
               markers: dict[str, str] | None = None, dpi: int = 100) -> Path:
    """One line per series of ``(x, y)`` points (empty series are left out), with a legend."""
    fig, axes = _figure(6, 3.5)
    ax = axes[0, 0]
    for name, points in series.items():
        if points:
            ax.plot(*zip(*points), (markers or {}).get(name, "-"), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path, dpi)


def bar_chart(groups: dict[str, np.ndarray], labels: Sequence[str], path: str | Path, *, ylabel: str, title: str,
              dpi: int = 100) -> Path:
    """Grouped bars: one bar per group at each label, e.g. ``{"real": h1, "model": h2}`` over 12 pitch classes."""
    fig, axes = _figure(7, 3)
    ax = axes[0, 0]
    x = np.arange(len(labels))
    width = 0.8 / max(len(groups), 1)
    for i, (name, values) in enumerate(groups.items()):
        ax.bar(x + (i - (len(groups) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, list(labels))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    return _save(fig, path, dpi)


def histogram_grid(panels: dict[str, dict[str, Sequence[float]]], path: str | Path, *, bins: int = 12,
                   dpi: int = 100) -> Path:
    """One panel per feature, overlaid density histograms per group on common bins."""
    fig, axes = _figure(3 * max(len(panels), 1), 2.8, 1, max(len(panels), 1))
    for ax, (name, groups) in zip(axes[0], panels.items()):
        edges = np.histogram_bin_edges([v for vs in groups.values() for v in vs], bins=bins)
        for label, values in groups.items():
            ax.hist(list(values), bins=edges, alpha=0.6, density=True, label=label)
        ax.set_title(name, fontsize=9)
    axes[0, 0].legend(fontsize=8)
    return _save(fig, path, dpi)


def image_strips(images: Sequence[np.ndarray], path: str | Path, *, title: str, line_every: Sequence[int],
                 vmax: float = 1.0, dpi: int = 80) -> Path:
    """Raw images one above the other (e.g. ``(P, T)`` rolls), greyscale, a vertical line every ``line_every[i]``."""
    fig, axes = _figure(10, 1.6 * max(len(images), 1), max(len(images), 1), 1)
    for ax, image, every in zip(axes[:, 0], images, line_every):
        ax.imshow(image, origin="lower", aspect="auto", cmap="Greys", vmin=0, vmax=vmax, interpolation="nearest")
        for x in range(0, image.shape[1], every):
            ax.axvline(x - 0.5, color="tab:blue", lw=0.5)
        ax.set_yticks([])
    axes[0, 0].set_title(title)
    return _save(fig, path, dpi)
