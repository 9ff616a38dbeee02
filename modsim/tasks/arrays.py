"""Your own data (`kind: arrays`): inputs and targets read from .npy / .npz files or Zarr arrays, checked
against the spec, split into a training pool and held-out trials."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from ..errors import UserError
from ..spec.task import DATA_PATH_RULE, ArrayTask, split_ref
from .data import TaskData, task_streams
from .sequences import SequenceData


def read_array(ref: str) -> np.ndarray:
    """The array a reference names: `file.npy`, `file.npz:key` (or the only array of an .npz), or a Zarr array
    directory. UserError naming the file when it is missing or unreadable."""
    path, key = split_ref(ref)
    file = Path(path)
    if not file.exists():
        raise UserError(f"{file}: no such file (task data; {DATA_PATH_RULE})")
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


def _first(bad: np.ndarray) -> tuple[int, ...]:
    """The index of the first True element of `bad` (C order)."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))


def _at(field: str, index: tuple[int, ...]) -> str:
    return f"task.{field}[{', '.join(map(str, index))}]"


def _checked(spec: ArrayTask, field: str) -> np.ndarray:
    """The array of the task's field `field` (`inputs`, `targets`, `eval_inputs`, `eval_targets`), checked: a
    numeric (trials, time, channels) array with at least one trial, the declared channels, finite values and,
    for a classification target, whole class indices in range. UserError naming the file, the field and the
    first bad index."""
    ref = getattr(spec, field)
    a = read_array(ref)
    if a.ndim != 3 or not (np.issubdtype(a.dtype, np.number) and not np.issubdtype(a.dtype, np.complexfloating)):
        raise UserError(f"{ref}: task.{field} must be a real-valued (trials, time, channels) array; the file holds a "
                        f"{a.dtype} array of shape {a.shape}")
    if 0 in a.shape:
        raise UserError(f"{ref}: task.{field} holds no data (shape {a.shape})")
    targets = field.endswith("targets")
    width = spec.target_width() if targets else spec.input_dim
    if a.shape[2] != width:
        what = (f"; loss {spec.loss} with this spec needs {width}" if targets
                else f", the spec says task.input_dim {width}")
        raise UserError(f"{ref}: task.{field} has {a.shape[2]} {'target' if targets else 'input'} channels{what}")
    if np.issubdtype(a.dtype, np.floating):
        bad = ~np.isfinite(a)
        if bad.any():
            index = _first(bad)
            raise UserError(f"{ref}: {_at(field, index)} = {a[index]}; the data must be finite numbers "
                            f"({int(bad.sum())} value(s) are not)")
    if targets:
        _check_classes(spec, field, ref, a)
    return a


def _check_classes(spec: ArrayTask, field: str, ref: str, y: np.ndarray) -> None:
    """UserError unless every target the loss reads (the last step for `cross_entropy_last`, every step for
    `cross_entropy_steps`) is a whole number in [0, n) for its channel's n (`ArrayTask.class_bounds`)."""
    bounds = spec.class_bounds()
    if not bounds:
        return
    steps = slice(-1, None) if spec.loss == "cross_entropy_last" else slice(None)
    read = y[:, steps]
    limit = np.asarray(bounds).reshape(1, 1, -1)
    bad = (read < 0) | (read >= limit) | (read != np.floor(read))
    if not bad.any():
        return
    index = _first(bad)
    index = (index[0], index[1] + (y.shape[1] - 1 if spec.loss == "cross_entropy_last" else 0), index[2])
    n = bounds[index[2]]
    why = f"task.classes is {spec.classes}"
    if n < (spec.classes or 0):
        why += (f", but the network has {n} outputs" if spec.loss == "cross_entropy_steps"
                else f", but output set {list(spec.output_sets())[index[2]]!r} has {n} logits")
    value = y[index]
    shown = int(value) if float(value).is_integer() else value
    count = int(bad.sum())
    more = f"; {count} target(s) are not" if count > 1 else ""
    raise UserError(f"{ref}: {_at(field, index)} = {shown} is not a class index in [0, {n}) ({why}{more})")


def _pair(spec: ArrayTask, inputs_field: str, targets_field: str) -> SequenceData:
    x, y = _checked(spec, inputs_field), _checked(spec, targets_field)
    inputs_ref, targets_ref = getattr(spec, inputs_field), getattr(spec, targets_field)
    if x.shape[:2] != y.shape[:2]:
        raise UserError(f"{inputs_ref}: task.{inputs_field} has (trials, time) {x.shape[:2]} but {targets_ref} "
                        f"(task.{targets_field}) has {y.shape[:2]}")
    if spec.washout >= x.shape[1]:
        raise UserError(f"{inputs_ref}: task.{inputs_field} has {x.shape[1]} steps per trial, task.washout is "
                        f"{spec.washout}")
    return SequenceData(x.astype(np.float32), y.astype(np.float32))


def _first_trials(data: SequenceData, most: int | None) -> SequenceData:
    """The first `most` trials of `data` (all of them when `most` is None or not fewer)."""
    if most is None or most >= data.inputs.shape[0]:
        return data
    return SequenceData(data.inputs[:most].copy(), data.targets[:most].copy())


def build(spec: ArrayTask, seed: int) -> TaskData:
    """The training pool and the held-out set: the eval files, or a seeded split of the trials; each cut to its
    first `train_trials` / `eval_trials` trials when the spec sets them (a `--quick` run does)."""
    data = _pair(spec, "inputs", "targets")
    if spec.eval_inputs is not None:
        train, held = data, _pair(spec, "eval_inputs", "eval_targets")
    else:
        split_rng, _ = task_streams(seed)
        order = split_rng.permutation(data.inputs.shape[0])
        n_eval = max(1, int(round(spec.eval_fraction * len(order))))
        if n_eval >= len(order):
            raise UserError(f"{spec.inputs}: {len(order)} trials are too few to hold out {spec.eval_fraction:.0%}")
        pick = lambda idx: SequenceData(data.inputs[np.sort(idx)], data.targets[np.sort(idx)])  # noqa: E731
        held, train = pick(order[:n_eval]), pick(order[n_eval:])
    return TaskData(train=_first_trials(train, spec.train_trials), eval=_first_trials(held, spec.eval_trials))
