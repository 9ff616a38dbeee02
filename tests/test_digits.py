"""Digit-parity task: IDX loader, pair covariance, parity targets, structured noise, eval blocks."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from modsim.analysis.specialisation import digit_classes
from modsim.spec.task import DigitParityTask
from modsim.tasks import build_task
from modsim.tasks.digits import PairSampler, load_images, read_idx, write_idx
from tests.conftest import ROOT


def synthetic_idx(tmp_path, count=200, side=4, classes=10, seed=0):
    """Tiny IDX image/label files: class c lights pixel c (plus noise)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count, dtype=np.uint8) % classes
    images = (rng.random((count, side, side)) * 40).astype(np.uint8)
    images.reshape(count, -1)[np.arange(count), labels] = 255
    write_idx(tmp_path / "images.idx", images)
    write_idx(tmp_path / "labels.idx", labels)
    return images, labels


def test_idx_round_trip_plain_and_gzipped(tmp_path):
    images, labels = synthetic_idx(tmp_path)
    np.testing.assert_array_equal(read_idx(tmp_path / "images.idx"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "labels.idx"), labels)
    with gzip.open(tmp_path / "images.idx.gz", "wb") as fh:
        fh.write((tmp_path / "images.idx").read_bytes())
    np.testing.assert_array_equal(read_idx(tmp_path / "images.idx.gz"), images)
    floats = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    write_idx(tmp_path / "f.idx", floats)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)


def test_idx_errors_name_the_file(tmp_path):
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04" + bytes(8))
    with pytest.raises(ValueError, match="bad.idx: not an IDX file"):
        read_idx(tmp_path / "bad.idx")
    synthetic_idx(tmp_path)
    raw = (tmp_path / "images.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(raw[:-5])
    with pytest.raises(ValueError, match="short.idx: IDX header says shape"):
        read_idx(tmp_path / "short.idx")


def idx_task(tmp_path, **kw) -> DigitParityTask:
    synthetic_idx(tmp_path)
    base = dict(kind="digit_parity", source="idx", images=str(tmp_path / "images.idx"),
                labels=str(tmp_path / "labels.idx"), pixels=16, steps=3, eval_pairs=30)
    return DigitParityTask(**{**base, **kw})


def test_idx_task_shapes_targets_and_blocks(tmp_path):
    spec = idx_task(tmp_path)
    data = build_task(spec, 3)
    n = spec.eval_pairs
    assert data.eval.inputs.shape == (3 * n, 3, 32) and data.eval.targets.shape == (3 * n, 3, 2)
    assert spec.loss == "cross_entropy_last" and data.train is None
    assert data.eval.inputs.min() >= 0 and data.eval.inputs.max() <= 1
    digits = digit_classes(data.eval.targets)
    # the class of each image is the index of its brightest pixel (how the files were made)
    seen = data.eval.inputs[:, 0].reshape(3 * n, 2, 16).argmax(axis=-1)
    np.testing.assert_array_equal(seen, digits)
    t1, t2 = data.eval.targets[:, -1, 0], data.eval.targets[:, -1, 1]
    odd = (digits.sum(axis=1) % 2) == 1
    np.testing.assert_array_equal(t1, np.where(odd, digits[:, 0], digits[:, 1]))
    np.testing.assert_array_equal(t2, np.where(odd, digits[:, 1], digits[:, 0]))
    # block 1 repeats block 0's first images, block 2 its second images
    np.testing.assert_array_equal(data.eval.inputs[n:2 * n, :, :16], data.eval.inputs[:n, :, :16])
    np.testing.assert_array_equal(data.eval.inputs[2 * n:, :, 16:], data.eval.inputs[:n, :, 16:])
    batch = data.draw(8, np.random.default_rng(0))
    assert batch.inputs.shape == (8, 3, 32)


def test_idx_task_checks_pixels_and_classes(tmp_path):
    with pytest.raises(ValueError, match="16 pixels; task.pixels is 64"):
        load_images(idx_task(tmp_path, pixels=64), np.random.default_rng(0))
    with pytest.raises(ValueError, match="task.classes is 5"):
        load_images(idx_task(tmp_path, classes=5), np.random.default_rng(0))


@pytest.mark.parametrize("cov_ratio,expected_same", [(0.0, 1.0), (1.0, 0.1), (0.5, 1 / (1 + 9 * 0.5))])
def test_partner_covariance(tmp_path, cov_ratio, expected_same):
    spec = idx_task(tmp_path, cov_ratio=cov_ratio)
    train, _ = load_images(spec, np.random.default_rng(0))
    first, second = PairSampler(spec, train).pairs(20000, np.random.default_rng(1))
    same = (train.labels[first] == train.labels[second]).mean()
    assert same == pytest.approx(expected_same, abs=0.015)


def test_structured_noise_and_random_start(tmp_path):
    clean = build_task(idx_task(tmp_path, steps=4), 0).eval.inputs
    assert np.array_equal(clean[:, 0], clean[:, -1])
    noisy = build_task(idx_task(tmp_path, steps=4, noise_ratio=0.4), 0).eval.inputs
    assert not np.array_equal(noisy[:, 0], noisy[:, 1])
    assert np.all(noisy <= 1.0) and np.all(noisy >= 0.0)
    late = build_task(idx_task(tmp_path, steps=5, noise_ratio=0.4, random_start=True), 0)
    digits = digit_classes(late.eval.targets)
    first_image = late.eval.inputs[..., :16]
    # the stimulus is on at the last step (start < steps - 1) but often not at the first
    hit = first_image.argmax(axis=-1) == digits[:, :1]
    assert hit[:, -1].mean() > 0.9 and hit[:, 0].mean() < hit[:, -1].mean() - 0.2


def test_sklearn_digits_split_is_disjoint_and_seeded():
    spec = DigitParityTask(kind="digit_parity", eval_pairs=10)
    a_train, a_test = load_images(spec, np.random.default_rng(5))
    b_train, _ = load_images(spec, np.random.default_rng(5))
    assert a_train.images.shape[1] == 64 and a_train.images.shape[0] + a_test.images.shape[0] == 1797
    np.testing.assert_array_equal(a_train.labels, b_train.labels)
    assert a_test.images.shape[0] == round(1797 * 0.2)


def test_missing_idx_file_exits_2_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from modsim.cli import main

    store = tmp_path / "store"
    spec_file = ROOT / "specs" / "paper" / "bena_fused.yaml"
    result = CliRunner().invoke(main, ["run", str(spec_file), "--store", str(store), "--quiet"])
    assert result.exit_code == 2
    assert "task.images: no such file" in " ".join(result.output.split())
    assert not store.exists() or not any(store.iterdir())
