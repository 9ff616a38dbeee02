"""Your own data (`kind: arrays`): inputs and targets read from .npy / .npz files or Zarr arrays, checked
against the spec, split into a training pool and held-out trials."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..spec.task import ArrayTask
from .data import TaskData, task_streams
from .sequences import SequenceData


def read_array(ref: str) -> np.ndarray:
    """The array a reference names: `file.npy`, `file.npz:key` (or the only array of an .npz), or a Zarr array
    directory. UserError naming the file when it is missing or unreadable."""
    path, _, key = ref.partition(".npz:")
    path = path + ".npz" if key else ref
    file = Path(path)
    if not file.exists():
        raise UserError(f"{file}: no such file (task data)")
    try:
        if file.is_dir():
            import zarr

            return np.asarray(zarr.open_array(str(file), mode="r")[...])
        if file.suffix == ".npz":
            with np.load(file, allow_pickle=False) as archive:
                names = list(archive.files)
                if not key and len(names) != 1:
                    raise UserError(f"{file}: holds {names}; name one as {file}:<key>")
                return np.asarray(archive[key or names[0]])
        _check_npy_size(file)
        return np.load(file, allow_pickle=False)
    except UserError:
        raise
    except MemoryError:
        raise UserError(f"{ref}: the array it declares does not fit in memory") from None
    except (OSError, ValueError, KeyError, EOFError, RuntimeError, zipfile.BadZipFile) as exc:
        # RuntimeError: a Zarr chunk that does not decompress; BadZipFile: a truncated .npz
        raise UserError(f"{ref}: cannot read it as an array ({exc or type(exc).__name__})") from None


def _check_npy_size(file: Path) -> None:
    """UserError unless the .npy file holds as many bytes as its header declares (an empty, truncated or forged
    file is refused before anything is allocated)."""
    with open(file, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            shape, _, dtype = (np.lib.format.read_array_header_1_0(fh) if version == (1, 0)
                               else np.lib.format.read_array_header_2_0(fh))
        except (ValueError, EOFError) as exc:
            raise UserError(f"{file}: not a .npy array file ({exc or 'empty'})") from None
        if dtype.hasobject:
            return  # np.load refuses object arrays (allow_pickle=False) with its own message
        declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
        held = file.stat().st_size - fh.tell()
    if declared != held:
        raise UserError(f"{file}: its header declares a {'x'.join(map(str, shape)) or 'scalar'} {dtype} array "
                        f"({declared} bytes) but the file holds {held} bytes after it (truncated or corrupt)")


def _pair(spec: ArrayTask, inputs_ref: str, targets_ref: str) -> SequenceData:
    x, y = read_array(inputs_ref), read_array(targets_ref)
    for ref, a in ((inputs_ref, x), (targets_ref, y)):
        if a.ndim != 3 or not np.issubdtype(a.dtype, np.number):
            raise UserError(f"{ref}: expected a numeric (trials, time, channels) array, got {a.dtype} {a.shape}")
    if x.shape[:2] != y.shape[:2]:
        raise UserError(f"{inputs_ref} has (trials, time) {x.shape[:2]} but {targets_ref} has {y.shape[:2]}")
    if x.shape[2] != spec.input_dim:
        raise UserError(f"{inputs_ref}: {x.shape[2]} input channels, the spec says task.input_dim {spec.input_dim}")
    if y.shape[2] != spec.target_width():
        raise UserError(f"{targets_ref}: {y.shape[2]} target channels; loss {spec.loss} with this spec needs "
                        f"{spec.target_width()}")
    if spec.washout >= x.shape[1]:
        raise UserError(f"{inputs_ref}: {x.shape[1]} steps per trial, task.washout is {spec.washout}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise UserError(f"{inputs_ref} / {targets_ref}: the data hold NaN or infinite values")
    return SequenceData(x.astype(np.float32), y.astype(np.float32))


def build(spec: ArrayTask, seed: int) -> TaskData:
    """The training pool and the held-out set: the eval files, or a seeded split of the trials."""
    data = _pair(spec, spec.inputs, spec.targets)
    if spec.eval_inputs is not None:
        train, held = data, _pair(spec, spec.eval_inputs, spec.eval_targets)
    else:
        split_rng, _ = task_streams(seed)
        order = split_rng.permutation(data.inputs.shape[0])
        n_eval = max(1, int(round(spec.eval_fraction * len(order))))
        if n_eval >= len(order):
            raise UserError(f"{spec.inputs}: {len(order)} trials are too few to hold out {spec.eval_fraction:.0%}")
        pick = lambda idx: SequenceData(data.inputs[np.sort(idx)], data.targets[np.sort(idx)])  # noqa: E731
        held, train = pick(order[:n_eval]), pick(order[n_eval:])
    return TaskData(train=train, eval=held)
