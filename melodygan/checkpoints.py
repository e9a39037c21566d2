"""Checkpoints: a folder with ``config.json`` + ``model.safetensors`` (no pickles).

``config.json`` holds ``{"model_type": ..., "config": {...}, "extra": {...}}``: the model's frozen
config dataclass as a dict, plus free metadata (training data, steps, metrics). Training resume
state (optimizer, step, RNG) lives apart, in ``resume.pt``, loaded with ``weights_only=True``.
Configs load strictly: unknown keys are rejected, missing keys take the dataclass defaults.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file

from melodygan.errors import MelodyganError
from melodygan.files import atomic_output

C = TypeVar("C")
PACKAGE_WEIGHTS = Path(__file__).parent / "weights"


def checkpoint_folder(checkpoint: str | Path | None, shipped: str, what: str, hint: str) -> Path:
    """The folder of a checkpoint to load: ``checkpoint``, or the shipped ``weights/<shipped>``.

    Raises:
        MelodyganError: no ``config.json`` there; ``hint`` says how to make one.
    """
    path = Path(checkpoint) if checkpoint is not None else PACKAGE_WEIGHTS / shipped
    if not (path / "config.json").is_file():
        raise MelodyganError(f"no {what} checkpoint in {path}; {hint}")
    return path


def save_resume_state(state: Any, path: str | Path) -> None:
    """``torch.save`` a training run's resume state atomically (load it with ``weights_only=True``)."""
    with atomic_output(Path(path), force=True) as tmp:
        torch.save(state, tmp)


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build a config dataclass from a dict, rejecting unknown keys (missing keys take defaults).

    Tuples are restored from JSON lists where the field's default is a tuple.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise MelodyganError(f"unknown {cls.__name__} keys {unknown}; allowed: {sorted(fields)}")
    values = {}
    for k, v in data.items():
        default = fields[k].default
        values[k] = tuple(v) if isinstance(v, list) and isinstance(default, tuple) else v
    return cls(**values)


def save_checkpoint(directory: str | Path, model: torch.nn.Module, config: Any, model_type: str,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created), each atomically.

    Tied weights are stored once (safetensors refuses shared storage), and restored on load.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    seen: dict[int, str] = {}
    tied: dict[str, str] = {}
    for k in list(state):
        ptr = state[k].data_ptr()
        if ptr in seen and state[k].shape == state[seen[ptr]].shape:
            tied[k] = seen[ptr]
            del state[k]
        else:
            seen[ptr] = k
    meta = {"model_type": model_type, "config": dataclasses.asdict(config), "tied": tied, "extra": extra or {}}
    with atomic_output(directory / "model.safetensors", force=True) as tmp:
        save_file(state, str(tmp))
    text = json.dumps(meta, indent=2, sort_keys=True)
    with atomic_output(directory / "config.json", force=True) as tmp:
        tmp.write_text(text)
    return directory


def read_checkpoint_meta(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint folder.

    Raises:
        MelodyganError: the folder or its files are missing or unreadable.
    """
    path = Path(directory) / "config.json"
    if not path.is_file() or not (Path(directory) / "model.safetensors").is_file():
        raise MelodyganError(f"{directory} is not a checkpoint folder (needs config.json and model.safetensors)")
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError) as e:
        raise MelodyganError(f"cannot read {path}: {e}") from e


def load_checkpoint(directory: str | Path, model_cls: type[torch.nn.Module], config_cls: type[C],
                    model_type: str, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, C, dict[str, Any]]:
    """Load ``(model, config, extra)`` from a checkpoint folder; the model is in eval mode.

    Raises:
        MelodyganError: wrong model type, bad config keys, or weights that do not fit the config.
    """
    meta = read_checkpoint_meta(directory)
    if meta.get("model_type") != model_type:
        raise MelodyganError(f"{directory} holds a {meta.get('model_type')!r} model, expected {model_type!r}")
    config = config_from_dict(config_cls, meta["config"])
    model = model_cls(config)
    state = load_file(str(Path(directory) / "model.safetensors"))
    for k, source in meta.get("tied", {}).items():
        state[k] = state[source]
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise MelodyganError(f"weights in {directory} do not match its config: {str(e).splitlines()[0]}") from e
    model.to(device).eval()
    return model, config, dict(meta.get("extra", {}))
