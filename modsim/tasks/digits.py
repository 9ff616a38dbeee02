"""Digit-pair parity trials (Bena & Goodman): image loading (scikit-learn digits, IDX files), pair sampling
with a tunable covariance, structured noise, random start times. Vectorised over trials and steps."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..spec.task import DATA_PATH_RULE, DigitParityTask
from .sequences import SequenceData
from .data import TaskData, task_streams
from ..errors import UserError

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
"""IDX element type codes (LeCun's MNIST format)."""


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic 0x0000, type code, rank, big-endian int32 sizes, data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise UserError(f"{path}: not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, rank = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=rank, offset=4))
    offset = 4 + 4 * rank
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise UserError(f"{path}: IDX header says shape {shape} ({expected} bytes) but {len(raw) - offset} "
                         "bytes of data follow")
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write `array` as an uncompressed IDX file (uint8 or big-endian int32/float32/float64)."""
    codes = {np.dtype(v).newbyteorder(">") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in IDX_TYPES.items()}
    arr = np.asarray(array)
    dtype = arr.dtype.newbyteorder(">") if arr.dtype.itemsize > 1 else arr.dtype
    if dtype not in codes:
        raise UserError(f"IDX cannot store dtype {arr.dtype}")
    header = bytes([0, 0, codes[dtype], arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    Path(path).write_bytes(header + arr.astype(dtype).tobytes())


@dataclass(frozen=True)
class ImageSplit:
    """Flattened images in [0, 1] (float32, (count, pixels)) and their integer labels."""

    images: np.ndarray
    labels: np.ndarray


def _as_split(images: np.ndarray, labels: np.ndarray, scale: float) -> ImageSplit:
    return ImageSplit(np.asarray(images, dtype=np.float32).reshape(len(images), -1) / scale,
                      np.asarray(labels, dtype=np.int64).reshape(-1))


def _checked_split(spec: DigitParityTask, images_field: str, labels_field: str) -> ImageSplit:
    """The images and labels of two IDX fields, checked: as many labels as images, finite pixels, whole class
    indices in [0, classes); UserError naming the file, the field and the first bad index."""
    images_file, labels_file = getattr(spec, images_field), getattr(spec, labels_field)
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim < 2 or images.shape[0] == 0:
        raise UserError(f"{images_file}: task.{images_field} must hold images (count, rows, columns) or (count, "
                        f"pixels); it holds shape {images.shape}")
    if labels.size != images.shape[0]:
        raise UserError(f"{labels_file}: task.{labels_field} must hold one label per image of {images_file} "
                        f"({images.shape[0]}); it holds shape {labels.shape}")
    labels = labels.reshape(-1)
    if np.issubdtype(images.dtype, np.floating) and not np.isfinite(images).all():
        index = np.unravel_index(int(np.argmax(~np.isfinite(images))), images.shape)
        raise UserError(f"{images_file}: task.{images_field}[{', '.join(map(str, index))}] = "
                        f"{images[index]}; the pixels must be finite numbers")
    bad = (labels < 0) | (labels >= spec.classes) | (labels != np.floor(labels))
    if bad.any():
        first = int(np.argmax(bad))
        value = labels[first]
        shown = int(value) if float(value).is_integer() else value
        raise UserError(f"{labels_file}: task.{labels_field}[{first}] = {shown} is not a class index in "
                        f"[0, {spec.classes}) (task.classes is {spec.classes})")
    return _as_split(images, labels, 255.0)


def load_images(spec: DigitParityTask, rng: np.random.Generator) -> tuple[ImageSplit, ImageSplit]:
    """Train and test images of the task's source, checked against `pixels` and `classes`."""
    if spec.source == "sklearn_digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        data = _as_split(bunch.images, bunch.target, 16.0)
        test = None
    else:
        for field in ("images", "labels", "test_images", "test_labels"):
            value = getattr(spec, field)
            if value is not None and not Path(value).is_file():
                raise UserError(f"task.{field}: no such file {value!r} (an IDX file, e.g. MNIST's "
                                f"train-images-idx3-ubyte.gz; {DATA_PATH_RULE})")
        data = _checked_split(spec, "images", "labels")
        test = None if spec.test_images is None else _checked_split(spec, "test_images", "test_labels")
    for split, name in ((data, spec.images or "scikit-learn digits"), (test, spec.test_images)):
        if split is None:
            continue
        if split.images.shape[1] != spec.pixels:
            raise UserError(f"{name}: images have {split.images.shape[1]} pixels; task.pixels is {spec.pixels}")
    if test is None:
        order = rng.permutation(data.images.shape[0])
        cut = int(round(data.images.shape[0] * (1 - spec.test_fraction)))
        test = ImageSplit(data.images[order[cut:]], data.labels[order[cut:]])
        data = ImageSplit(data.images[order[:cut]], data.labels[order[:cut]])
    return data, test


class PairSampler:
    """Draws image index pairs whose classes follow the task's covariance (weight 1 for the same class,
    `cov_ratio` for each other class), and renders them into trials."""

    def __init__(self, spec: DigitParityTask, split: ImageSplit):
        self.spec, self.split = spec, split
        c = spec.classes
        present = np.bincount(split.labels, minlength=c) > 0
        weights = np.where(np.eye(c, dtype=bool), 1.0, spec.cov_ratio) * present[None, :]
        self.partner_cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        self.by_class = np.argsort(split.labels, kind="stable")
        self.class_start = np.searchsorted(split.labels[self.by_class], np.arange(c))
        self.class_count = np.bincount(split.labels, minlength=c)

    def image_of_class(self, classes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A uniformly drawn image index of each given class."""
        offset = np.floor(rng.random(classes.shape) * self.class_count[classes]).astype(np.int64)
        return self.by_class[self.class_start[classes] + offset]

    def partner(self, first: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Image indices of partners for images `first`, their classes drawn from the covariance."""
        cdf = self.partner_cdf[self.split.labels[first]]
        classes = (rng.random((first.size, 1)) > cdf).sum(axis=1).clip(max=self.spec.classes - 1)
        return self.image_of_class(classes, rng)

    def pairs(self, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """`count` (first, second) image index pairs."""
        first = rng.integers(self.split.images.shape[0], size=count)
        return first, self.partner(first, rng)

    def render(self, first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> SequenceData:
        """Trials for the given pairs: inputs (count, steps, 2 pixels), targets (count, steps, 2) holding
        the classes of T' and T'' at every step."""
        spec, images, labels = self.spec, self.split.images, self.split.labels
        inputs = np.concatenate([self._noisy(images[first], rng), self._noisy(images[second], rng)], axis=-1)
        d1, d2 = labels[first], labels[second]
        odd = (d1 + d2) % 2 == 1
        targets = np.stack([np.where(odd, d1, d2), np.where(odd, d2, d1)], axis=-1).astype(np.float32)
        return SequenceData(inputs.astype(np.float32), np.repeat(targets[:, None], spec.steps, axis=1))

    def _noisy(self, clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(count, steps, pixels): each step (1 - r) x + r * mean of k masked random batch images; with a
        random start, pure noise (r = 1) before each trial's start step."""
        spec = self.spec
        count, steps = clean.shape[0], spec.steps
        out = np.broadcast_to(clean[:, None], (count, steps, clean.shape[1]))
        if spec.noise_ratio == 0 and not spec.random_start:
            return out.copy()
        k = spec.noise_samples
        picks = rng.integers(count, size=(count, steps, k))
        keep = rng.random((count, steps, k, clean.shape[1])) < 1.0 / k
        noise = (clean[picks] * keep).mean(axis=2)
        ratio = np.full((count, steps, 1), spec.noise_ratio, dtype=np.float32)
        if spec.random_start:
            start = rng.integers(1, steps - 1, size=count)
            ratio[np.arange(steps)[None, :] < start[:, None]] = 1.0
        return (1 - ratio) * out + ratio * noise


def eval_blocks(sampler: PairSampler, count: int, rng: np.random.Generator) -> SequenceData:
    """Three blocks of `count` trials: base pairs (a, b); (a, new partner); (new first, b)."""
    first, second = sampler.pairs(count, rng)
    new_second = sampler.partner(first, rng)
    new_first = sampler.partner(second, rng)  # the covariance is symmetric in the two digits
    blocks = [sampler.render(f, s, rng) for f, s in ((first, second), (first, new_second), (new_first, second))]
    return SequenceData(np.concatenate([b.inputs for b in blocks]), np.concatenate([b.targets for b in blocks]))


def build(spec: DigitParityTask, seed: int) -> TaskData:
    """Fresh training pairs for every minibatch from the training images; three held-out blocks from the test
    images (a seeded split, or the test files)."""
    _, eval_rng = task_streams(seed)
    split_rng = np.random.default_rng(np.random.SeedSequence(seed + 1).spawn(1)[0])
    train_split, test_split = load_images(spec, split_rng)
    train_pairs, test_pairs = PairSampler(spec, train_split), PairSampler(spec, test_split)
    return TaskData(train=None, eval=eval_blocks(test_pairs, spec.eval_pairs, eval_rng),
                    draw=lambda count, rng: train_pairs.render(*train_pairs.pairs(count, rng), rng))
