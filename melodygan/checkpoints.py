"""Checkpoints: a folder with ``config.json`` + ``model.safetensors`` (no pickles), and training runs.

``config.json`` holds ``{"model_type": ..., "config": {...}, "extra": {...}}``: the model's frozen
config dataclass as a dict, plus free metadata (training data, steps, metrics). Training resume
state (optimizer, step, RNG) lives apart, in ``resume.pt``, loaded with ``weights_only=True``.
Configs load strictly: unknown keys, values of the wrong type and configs no model can be built
from are rejected; missing keys take the dataclass defaults. Weights load strictly too: every
tensor must be there with the config's shape (a mismatch names the tensor and both shapes) and
hold finite numbers. Every failure is one :class:`~melodygan.errors.MelodyganError` line.

A training run folder (:class:`TrainingRun`) is crash-consistent. Everything a checkpoint holds
(weights, ``resume.pt``, ``best/``) is written into a new folder ``.steps/<step>-<id>``, which is
then made current by atomically replacing the symbolic link ``current``; ``config.json``,
``model.safetensors``, ``resume.pt``, ``best`` … in the run folder are links into ``current``.
A kill at any instant leaves the previous checkpoint or the new one, never a mix; leftovers of an
interrupted save are removed at the next start. A lock file (``.lock``, ``flock``) keeps a second
training out of the folder while one runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import signal
import socket
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch.overrides import TorchFunctionMode

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


def load_resume_state(path: str | Path, keys: Iterable[str] = ()) -> dict[str, Any]:
    """Load a ``resume.pt`` with ``weights_only=True`` (a pickled payload is refused, never run).

    Raises:
        MelodyganError: missing, truncated, pickled or foreign files, or one without ``keys``.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise MelodyganError(f"{path}: no such file") from None
    except Exception as e:  # UnpicklingError (a pickle payload), EOFError / RuntimeError (truncated)
        raise MelodyganError(f"{path} is not a resume state melodygan wrote ({type(e).__name__}: "
                             f"{_first_line(e)}); delete the run folder or train without --resume") from None
    if not isinstance(state, dict):
        raise MelodyganError(f"{path} holds a {type(state).__name__}, not a resume state")
    missing = [k for k in keys if k not in state]
    if missing:
        raise MelodyganError(f"{path} lacks {', '.join(missing)}: it was written by another trainer or version")
    return state


@contextlib.contextmanager
def restoring(path: str | Path) -> Iterator[None]:
    """Turn a failure to restore a loaded resume state (a missing entry, an optimizer or model of
    other shapes) into one MelodyganError line naming ``path``."""
    try:
        yield
    except MelodyganError:
        raise
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as e:
        raise MelodyganError(f"cannot resume from {path}: {type(e).__name__}: {_first_line(e)}") from None


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (lines[0] if lines else type(e).__name__)[:200]


def _type_ok(value: Any, default: Any) -> bool:
    if default is None or default is dataclasses.MISSING:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if isinstance(default, str):
        return isinstance(value, str)
    if isinstance(default, tuple):
        return isinstance(value, (list, tuple))
    return True


def config_from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Build a config dataclass from a dict, rejecting unknown keys and values of the wrong type
    (missing keys take defaults). Tuples are restored from JSON lists where the default is a tuple.
    """
    if not isinstance(data, dict):
        raise MelodyganError(f"a {cls.__name__} must be a JSON object, not {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise MelodyganError(f"unknown {cls.__name__} keys {unknown}; allowed: {sorted(fields)}")
    values = {}
    for k, v in data.items():
        default = fields[k].default
        if not _type_ok(v, default):
            raise MelodyganError(f"{cls.__name__}.{k} = {str(v)[:40]!r} should be a {type(default).__name__}")
        values[k] = tuple(v) if isinstance(v, list) and isinstance(default, tuple) else v
    try:
        return cls(**values)
    except Exception as e:  # a __post_init__ check
        raise MelodyganError(f"impossible {cls.__name__}: {_first_line(e)}") from None


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


def save_checkpoint_folder(directory: str | Path, model: torch.nn.Module, config: Any, model_type: str,
                           extra: dict[str, Any] | None = None) -> Path:
    """:func:`save_checkpoint` into a new folder swapped in for ``directory`` by renames, so that a
    kill leaves the old folder, the new one, or (for an instant) none, never a mix of the two."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}"
    old = directory.parent / f".{directory.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        save_checkpoint(tmp, model, config, model_type, extra)
        if directory.is_dir() and not directory.is_symlink():
            os.rename(directory, old)
        elif directory.is_symlink():
            directory.unlink()
        os.rename(tmp, directory)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
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
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise MelodyganError(f"cannot read {path}: {_first_line(e)}") from None
    if not isinstance(meta, dict):
        raise MelodyganError(f"{path} holds a JSON {type(meta).__name__}, not a checkpoint config object")
    for key, kind in (("config", dict), ("tied", dict), ("extra", dict)):
        if key in meta and not isinstance(meta[key], kind):
            raise MelodyganError(f"{path}: {key!r} must be a JSON object, not {type(meta[key]).__name__}")
    return meta


def _file_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from a safetensors header, without loading the data."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except Exception as e:  # SafetensorError, OSError: truncated or not a safetensors file
        raise MelodyganError(f"{path} is not a readable safetensors file ({_first_line(e)})") from None


def non_finite(tensors: dict[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]],
               parameters: Iterable[str] | None = None) -> str | None:
    """The name of the first floating-point tensor holding NaN, or infinity where it is one of
    ``parameters`` (default: every tensor; buffers such as log-probability tables may hold -inf)."""
    items = tensors.items() if isinstance(tensors, dict) else tensors
    params = None if parameters is None else set(parameters)
    for name, t in items:
        if not t.is_floating_point():
            continue
        if bool(torch.isnan(t).any()) or ((params is None or name in params) and bool(torch.isinf(t).any())):
            return name
    return None


_INIT_FILLS = frozenset(
    [getattr(torch.nn.init, name) for name in dir(torch.nn.init) if name.endswith("_") and not name.startswith("_")]
    + [getattr(torch.Tensor, name) for name in ("normal_", "uniform_", "fill_", "zero_", "copy_", "bernoulli_",
                                                 "exponential_", "random_", "erfinv_", "clamp_", "mul_", "add_")])
_LITERALS = frozenset([torch.tensor, torch.as_tensor, torch.scalar_tensor])
_FACTORIES = frozenset([torch.empty, torch.zeros, torch.ones, torch.full, torch.arange, torch.linspace, torch.eye,
                        torch.rand, torch.randn, torch.randint, torch.randperm])
_SMALL_ELEMENTS = 1 << 16


class _ShapeProbe(TorchFunctionMode):
    """Inside ``torch.device("meta")``: a model built only for its tensor shapes, fast.

    Large tensors stay on the meta device (no memory, so absurd sizes cost nothing), and filling
    them with values is skipped (they hold none). Small tensors (at most 65,536 elements) and
    tensors made from Python data are made for real: a constructor may compute with them, and
    arithmetic on meta tensors runs through torch's Python decompositions, which import
    ``torch._dynamo`` on first use and so cost seconds per command.
    """

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _INIT_FILLS:
            target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        elif kwargs.get("device") is None and (func in _LITERALS or func in _FACTORIES):
            if func in _FACTORIES:
                shape_only = func(*args, **{**kwargs, "device": "meta"})
                if shape_only.numel() > _SMALL_ELEMENTS:
                    return shape_only
            kwargs = {**kwargs, "device": "cpu"}
        return func(*args, **kwargs)


def load_checkpoint(directory: str | Path, model_cls: type[torch.nn.Module], config_cls: type[C],
                    model_type: str, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, C, dict[str, Any]]:
    """Load ``(model, config, extra)`` from a checkpoint folder; the model is in eval mode.

    Raises:
        MelodyganError: wrong model type, bad config keys, or weights that do not fit the config.
    """
    meta = read_checkpoint_meta(directory)
    if meta.get("model_type") != model_type:
        raise MelodyganError(f"{directory} holds a {meta.get('model_type')!r} model, expected {model_type!r}")
    if not isinstance(meta.get("config"), dict):
        raise MelodyganError(f"{directory}/config.json has no model config")
    try:
        config = config_from_dict(config_cls, meta["config"])
    except MelodyganError as e:
        raise MelodyganError(f"{directory}/config.json: {e}") from None
    try:  # on the meta device: no memory, so absurd sizes cost nothing before the shapes are compared
        with torch.random.fork_rng(devices=[]), torch.device("meta"), _ShapeProbe():
            probe = model_cls(config)  # (the small tensors it makes for real draw from a forked RNG)
    except Exception:  # a model whose constructor reads values (meta tensors have none): build it for real
        try:
            probe = model_cls(config)
        except Exception as e:  # e.g. n_head 0 (division by zero), dropout 5 (ValueError)
            raise MelodyganError(f"{directory}/config.json: no model can be built from this config "
                                 f"({type(e).__name__}: {_first_line(e)})") from None
    expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    parameter_names = [k for k, _ in probe.named_parameters(remove_duplicate=False)]
    del probe
    weights = Path(directory) / "model.safetensors"
    found = _file_shapes(weights)
    tied = {str(k): str(v) for k, v in meta.get("tied", {}).items()}
    for k, source in tied.items():
        if source in found:
            found[k] = found[source]
    missing = sorted(set(expected) - set(found))
    extra_keys = sorted(set(found) - set(expected))
    if missing or extra_keys:
        raise MelodyganError(f"weights in {directory} do not match its config: missing {missing[:5]}, "
                             f"unexpected {extra_keys[:5]}")
    for k, shape in expected.items():
        if found[k] != shape:
            raise MelodyganError(f"weights in {directory} do not match its config: tensor {k!r} has shape "
                                 f"{list(found[k])} in the file, the config needs {list(shape)}")
    try:
        state = load_file(str(weights))
    except Exception as e:  # a header that passed, data that does not (truncated file)
        raise MelodyganError(f"{weights} is not a readable safetensors file ({_first_line(e)})") from None
    for k, source in tied.items():
        state[k] = state[source]
    bad = non_finite(state, parameter_names)
    if bad is not None:
        raise MelodyganError(f"weights in {directory} hold NaN or infinite values (tensor {bad!r}); "
                             "use an earlier checkpoint")
    model = model_cls(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise MelodyganError(f"weights in {directory} do not match its config: {_first_line(e)}") from None
    model.to(device).eval()
    return model, config, dict(meta.get("extra", {}))


# --- training runs: one atomic unit per checkpoint, a lock, refusal of another run ----------------
RUN_FILES = ("current", ".steps", "config.json", "model.safetensors", "resume.pt", "best", "best.pt",
             "metrics.jsonl", "loss.png", "meta.json", "samples")
MAX_NONFINITE_STEPS = 10  # a run stops after this many steps in a row with non-finite loss or gradients
CRASH_ENV = "MELODYGAN_CRASH_AT"  # fault injection for tests: "<point>:<n>" (points: see TrainingRun.commit)
_crash_counts: dict[str, int] = {}


class SimulatedCrash(BaseException):
    """Raised at a fault-injection point when ``MELODYGAN_CRASH_AT`` asks for it in-process."""


def _crash_point(point: str, unit: Path | None = None) -> None:
    """Die here when ``MELODYGAN_CRASH_AT`` names this point (``kill:`` prefix: SIGKILL, else
    :class:`SimulatedCrash`). ``partial`` first cuts the unit's largest file in half: a write cut short."""
    spec = os.environ.get(CRASH_ENV, "")
    kill = spec.startswith("kill:")
    want, _, nth = spec.removeprefix("kill:").partition(":")
    if want != point:
        return
    _crash_counts[point] = _crash_counts.get(point, 0) + 1
    if _crash_counts[point] != int(nth or 1):
        return
    if point == "partial" and unit is not None:
        files = sorted((p for p in unit.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
        if files:
            with open(files[-1], "r+b") as f:
                f.truncate(files[-1].stat().st_size // 2)
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    raise SimulatedCrash(point)


def _fsync_tree(folder: Path) -> None:
    for p in [*sorted(folder.rglob("*"), reverse=True), folder]:
        with contextlib.suppress(OSError):
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class TrainingRun:
    """A training run folder: a lock, refusal of a finished or foreign run, atomic checkpoints.

    Usage::

        with TrainingRun(out, resume=resume, force=force) as run:
            if run.has_checkpoint: ... load out/"resume.pt" ...
            ...
            run.commit(step, lambda unit: save_checkpoint(unit, ...), carry=("best",))

    Args:
        out: the run folder (created).
        resume: continue the run in ``out``. Without a complete checkpoint yet (a run killed
            before or during its first save) the run starts again from step 0.
        force: start afresh in a folder that holds a run (its files are removed first).

    Raises:
        MelodyganError: another training holds the lock (names its process), the folder holds
            a run and neither ``resume`` nor ``force`` is given, or ``resume`` finds no run.
    """

    def __init__(self, out: str | Path, *, resume: bool = False, force: bool = False) -> None:
        self.out = Path(out)
        self.resume = resume
        self.force = force
        self._lock_fd: int | None = None

    # the folder ----------------------------------------------------------------------------------
    @property
    def has_checkpoint(self) -> bool:
        """Whether a complete checkpoint exists (the old layout's ``resume.pt`` counts)."""
        return (self.out / "current").is_dir() or (self.out / "resume.pt").is_file()

    def holds_run(self) -> bool:
        return any((self.out / n).exists() or (self.out / n).is_symlink() for n in RUN_FILES)

    def __enter__(self) -> TrainingRun:
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MelodyganError(f"cannot create the run folder {self.out}: {e.strerror}") from None
        if not self.out.is_dir():
            raise MelodyganError(f"{self.out} is not a folder")
        started_before = (self.out / ".lock").exists()
        self._lock()
        try:
            self._clean()
            if self.resume:
                if not self.has_checkpoint:
                    if not (started_before or self.holds_run()):
                        raise MelodyganError(f"nothing to resume in {self.out}: no training run there")
                    warnings.warn(f"{self.out}: no complete checkpoint yet; starting again from step 0",
                                  UserWarning, stacklevel=2)
                    self._remove_run_files()
            elif self.holds_run():
                if not self.force:
                    raise MelodyganError(f"{self.out} already holds a run; pass --resume to continue it, "
                                         "--force to start again (its files are replaced), or choose another --out")
                self._remove_run_files()
        except BaseException:
            self._unlock()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._unlock()

    def _remove_run_files(self) -> None:
        for name in RUN_FILES:
            p = self.out / name
            if p.is_symlink() or p.is_file():
                p.unlink()
            elif p.is_dir():
                shutil.rmtree(p)

    def _clean(self) -> None:
        """Remove what an interrupted save left: unfinished units, units that are not current,
        temporary links; re-create missing links into ``current``."""
        steps = self.out / ".steps"
        current = (self.out / "current").resolve() if (self.out / "current").is_symlink() else None
        if steps.is_dir():
            for unit in steps.iterdir():
                if current is None or unit.resolve() != current:
                    shutil.rmtree(unit, ignore_errors=True)
        for p in self.out.glob(".current.tmp-*"):
            p.unlink(missing_ok=True)
        for p in [*self.out.glob(".*.tmp-*"), *self.out.glob(".*.old-*")]:  # atomic_output, save_checkpoint_folder
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
        if current is not None and current.is_dir():
            self._link_entries(current)

    # the lock --------------------------------------------------------------------------------------
    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): no lock
            return
        path = self.out / ".lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise MelodyganError(f"cannot create {path}: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise MelodyganError(f"{self.out} is in use by another training ({holder}); wait for it to end "
                                 "or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    # checkpoints -----------------------------------------------------------------------------------
    def commit(self, step: int, write: Callable[[Path], None], carry: Sequence[str] = ()) -> Path:
        """Write one checkpoint as one unit and make it current (see the module docstring).

        Args:
            step: the training step (or epoch) of the checkpoint, for the unit's name.
            write: writes every file of the checkpoint into the folder it is given.
            carry: entries of the current checkpoint kept when ``write`` does not write them
                (e.g. ``"best"`` when the validation did not improve); hard-linked, not copied.

        Returns:
            The new unit folder.
        """
        steps = self.out / ".steps"
        steps.mkdir(exist_ok=True)
        unit = steps / f".{step:08d}-{uuid.uuid4().hex[:8]}.tmp"
        unit.mkdir()
        write(unit)
        previous = self.out / "current"
        for name in carry:
            src = (previous if previous.is_dir() else self.out) / name  # the old layout: plain files
            if not (unit / name).exists() and src.exists():
                _link_tree(src.resolve(), unit / name)
        _crash_point("partial", unit)
        _crash_point("written", unit)
        _fsync_tree(unit)
        final = steps / unit.name.removeprefix(".").removesuffix(".tmp")
        os.rename(unit, final)
        _crash_point("renamed", final)
        old = previous.resolve() if previous.is_symlink() else None
        tmp_link = self.out / f".current.tmp-{uuid.uuid4().hex[:8]}"
        os.symlink(os.path.join(".steps", final.name), tmp_link)
        os.replace(tmp_link, previous)  # the switch: atomic
        with contextlib.suppress(OSError):
            fd = os.open(self.out, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
        _crash_point("switched", final)
        self._link_entries(final)
        if old is not None and old != final.resolve() and old.parent == steps.resolve():
            shutil.rmtree(old, ignore_errors=True)
        return final

    def _link_entries(self, unit: Path) -> None:
        """``out/<name>`` → ``current/<name>`` for every entry of the current unit (replacing an old
        layout's plain files)."""
        for entry in unit.iterdir():
            link = self.out / entry.name
            target = os.path.join("current", entry.name)
            if link.is_symlink() and os.readlink(link) == target:
                continue
            tmp = self.out / f".current.tmp-{uuid.uuid4().hex[:8]}"
            os.symlink(target, tmp)
            if link.is_dir() and not link.is_symlink():
                shutil.rmtree(link)
            os.replace(tmp, link)


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a file or a folder's files (copy where links are not possible)."""
    if src.is_dir():
        dst.mkdir()
        for p in src.iterdir():
            _link_tree(p, dst / p.name)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def trim_metrics(path: str | Path, last: int, key: str = "step") -> None:
    """Drop the lines of a ``metrics.jsonl`` written after the checkpoint a run resumes from
    (``key`` > ``last``), and a last line cut short by a kill."""
    path = Path(path)
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and float(row.get(key, 0)) <= last:
            kept.append(line + "\n")
    with atomic_output(path, force=True) as tmp:
        tmp.write_text("".join(kept) or "\n")


def weights_finite(model: torch.nn.Module) -> bool:
    """No NaN anywhere and no infinity in the parameters (see :func:`non_finite`)."""
    names = [k for k, _ in model.named_parameters(remove_duplicate=False)]
    return non_finite(model.state_dict(), names) is None


class NonFiniteGuard:
    """Skip optimizer steps whose loss or gradient norm is NaN or infinite; stop the run after
    ``limit`` in a row (one warning at the start of each streak).

    Usage: ``if guard.ok(step, loss, grad_norm): optimizer.step()``.
    """

    def __init__(self, limit: int = MAX_NONFINITE_STEPS, hint: str = "lower the learning rate") -> None:
        self.limit = limit
        self.hint = hint
        self.in_row = 0
        self.skipped = 0

    def ok(self, step: int, *values: torch.Tensor | float) -> bool:
        finite = all(math.isfinite(float(v.detach()) if isinstance(v, torch.Tensor) else float(v)) for v in values)
        if finite:
            self.in_row = 0
            return True
        self.in_row += 1
        self.skipped += 1
        if self.in_row == 1:
            warnings.warn(f"step {step}: non-finite loss or gradients, step skipped (the run stops after "
                          f"{self.limit} in a row)", UserWarning, stacklevel=2)
        if self.in_row >= self.limit:
            raise MelodyganError(f"training stopped at step {step}: {self.limit} steps in a row with non-finite "
                                 f"loss or gradients; the last checkpoint is kept; {self.hint}")
        return False


def resume_epoch_run(path: str | Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     model_config: Any, train_config: Any, rng: random.Random) -> tuple[int, float]:
    """Restore an epoch-based run from ``resume.pt``: model, optimizer, Python and torch RNG;
    returns ``(epoch, best)``.

    Raises:
        MelodyganError: the run was started with other settings (only ``epochs`` and
            ``max_minutes``, how long it runs, may change), or the file is unreadable.
    """
    state = load_resume_state(path, ("model_config", "train_config", "model", "optimizer", "epoch", "best",
                                     "rng", "torch_rng"))

    def fixed(c: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in c.items() if k not in ("epochs", "max_minutes")}

    if state["model_config"] != dataclasses.asdict(model_config) or fixed(state["train_config"]) != fixed(
            dataclasses.asdict(train_config)):
        raise MelodyganError(f"{Path(path).parent}: the run was started with other settings; resume with the same "
                             "ones (only --epochs and --max-minutes may change)")
    with restoring(path):
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        version, internal, gauss = state["rng"]  # torch may hand the inner tuple back as a list
        rng.setstate((version, tuple(internal), gauss))
        torch.set_rng_state(state["torch_rng"])
        return int(state["epoch"]), float(state["best"])


def commit_epoch(run: TrainingRun, epoch: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                 model_config: Any, train_config: Any, rng: random.Random, best: float, improved: bool) -> None:
    """Write one epoch of an epoch-based run as one atomic unit: ``resume.pt`` (model, optimizer,
    epoch, best score, Python and torch RNG, both configs; what :func:`resume_epoch_run` reads) and,
    when the epoch ``improved`` on the best, ``best.pt`` with the model alone (else the last one is
    carried over)."""
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "best": best,
             "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
             "model_config": dataclasses.asdict(model_config), "train_config": dataclasses.asdict(train_config)}

    def write(unit: Path) -> None:
        if improved:
            torch.save({"model": model.state_dict()}, unit / "best.pt")
        torch.save(state, unit / "resume.pt")

    run.commit(epoch, write, carry=("best.pt",))
