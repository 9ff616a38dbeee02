"""Functional specialisation of two modules on two sub-tasks (Bena & Goodman), per time step.

For module m and digit k a measure M(m, k) in [b, 1] is normalised to M_bar = (M - b) / (1 - b), clipped
to [0, 1]; F^m = M_bar(m, 0) - M_bar(m, 1) in [-1, 1] and F = |F^0 - F^1| / 2 in [0, 1]. Three measures,
each computed at every time step from held-out activity in one batched pass:

- retraining: a fresh linear readout (ridge-regularised least squares on one-hot labels, the closed form
  of a linear classifier) from module m's state to digit k; M = its test accuracy, b = chance;
- ablation: a readout shared by both modules, fitted to digit k; M_bar = the fraction of its
  above-chance accuracy lost when module m's state is set to 0: (acc - acc_without_m) / (acc - b);
- correlation: mean Pearson r (across a module's units) between the states of trials that share the
  image of digit k (or, with class pairing, only its class), against b = the mean r between unrelated
  trials.

Held-out trials come in three equal blocks (see the digit-parity task): base pairs, pairs sharing the
first image, pairs sharing the second. Readouts are fitted on the first half of the base block and tested
on the second half.
"""

from __future__ import annotations

import numpy as np

MEASURES = ("retrain", "ablate", "corr")
"""The specialisation measures, stored as `spec_<measure>`."""

RIDGE = 1e-2
"""Ridge penalty of the fitted readouts, on z-scored features."""


def digit_classes(targets: np.ndarray) -> np.ndarray:
    """(trials, 2) digit classes (d1, d2) recovered from T', T'' targets (trials, ..., 2): since
    T' + T'' = d1 + d2, d1 = T' when that sum is odd and T'' otherwise."""
    t = np.asarray(targets)
    t = t[:, -1] if t.ndim == 3 else t
    t1, t2 = t[:, 0].astype(np.int64), t[:, 1].astype(np.int64)
    odd = (t1 + t2) % 2 == 1
    return np.stack([np.where(odd, t1, t2), np.where(odd, t2, t1)], axis=-1)


def normalise(measure: np.ndarray, base: float | np.ndarray) -> np.ndarray:
    """M_bar = (M - b) / (1 - b), clipped to [0, 1]."""
    base = np.asarray(base, dtype=np.float64)
    return np.clip((np.asarray(measure, dtype=np.float64) - base) / np.maximum(1.0 - base, 1e-12), 0.0, 1.0)


def specialisation(mbar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F^m (modules, ...) and F (...) from M_bar of shape (2 modules, 2 digits, ...)."""
    f_m = mbar[:, 0] - mbar[:, 1]
    return f_m, np.abs(f_m[0] - f_m[1]) / 2.0


def _zscore(fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Z-score features with the statistics of `fit` (..., samples, features)."""
    mean = fit.mean(axis=-2, keepdims=True)
    sd = fit.std(axis=-2, keepdims=True)
    sd = np.where(sd > 1e-8, sd, 1.0)
    return [(x - mean) / sd for x in (fit, *others)]


def fit_readout(x: np.ndarray, labels: np.ndarray, classes: int, ridge: float = RIDGE) -> np.ndarray:
    """Ridge least-squares readout, batched: x (batch, samples, features), labels (samples,) ->
    weights (batch, features + 1, classes) including a bias row."""
    xb = np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)
    onehot = np.eye(classes)[labels]
    gram = np.swapaxes(xb, -1, -2) @ xb
    reg = ridge * x.shape[-2] * np.eye(xb.shape[-1])
    reg[-1, -1] = 0.0
    return np.linalg.solve(gram + reg, np.swapaxes(xb, -1, -2) @ onehot)


def readout_accuracy(weights: np.ndarray, x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy (batch,) of batched readouts on x (batch, samples, features)."""
    xb = np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)
    return ((xb @ weights).argmax(axis=-1) == labels).mean(axis=-1)


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of a and b across the last axis, averaged over rows: (...,)."""
    za = a - a.mean(axis=-1, keepdims=True)
    zb = b - b.mean(axis=-1, keepdims=True)
    num = (za * zb).sum(axis=-1)
    den = np.sqrt((za ** 2).sum(axis=-1) * (zb ** 2).sum(axis=-1))
    r = np.divide(num, den, out=np.zeros_like(num), where=den > 1e-12)
    return r.mean(axis=-1)


def class_pair_corr(states: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Mean r (steps,) between trials that share the digit's class (Bena & Goodman's pairing): within each
    class, every trial is paired with the next trial of that class (a derangement, so never with itself);
    the mean over pairs of each class, then the unweighted mean over classes with at least two trials.

    states: (steps, trials, units); digit: (trials,) class of the fixed digit."""
    per_class = []
    for d in np.unique(digit):
        idx = np.flatnonzero(digit == d)
        if idx.size >= 2:
            per_class.append(_row_corr(states[:, idx], states[:, np.roll(idx, 1)]))
    if not per_class:
        raise ValueError("class pairing needs at least two held-out trials of one digit class")
    return np.mean(per_class, axis=0)


def specialisation_measures(activity: np.ndarray, digits: np.ndarray, labels: np.ndarray,
                            groups: tuple[int, int], classes: int, pairs: str = "image") -> dict[str, np.ndarray]:
    """M_bar of each measure, shape (2 modules, 2 digits, steps).

    activity: (3 * n, steps, units) held-out states in the three-block layout; digits: (3 * n, 2) classes
    (d1, d2); labels: module of every unit; groups: the two modules compared. `pairs`: the correlation
    measure pairs trials sharing the digit's `image` (the second and third blocks against the first) or
    only its `class` (trials of the first block with the same class of that digit, Bena & Goodman's code)."""
    activity = np.asarray(activity, dtype=np.float64)  # every measure in float64, whatever the stored dtype
    trials, steps, _ = activity.shape
    if trials % 3:
        raise ValueError(f"specialisation needs held-out trials in three equal blocks, got {trials} trials")
    n = trials // 3
    half = n // 2
    base = np.moveaxis(activity[:n], 1, 0)            # (steps, n, units)
    same = [np.moveaxis(activity[n:2 * n], 1, 0), np.moveaxis(activity[2 * n:], 1, 0)]
    units = [np.flatnonzero(np.asarray(labels) == g) for g in groups]
    both = np.concatenate(units)
    chance = 1.0 / classes
    fit_idx, test_idx = slice(0, half), slice(half, n)
    out = {name: np.zeros((2, 2, steps)) for name in MEASURES}
    for k in range(2):
        y_fit, y_test = digits[:n][fit_idx, k], digits[:n][test_idx, k]
        for m, idx in enumerate(units):
            fit, test = _zscore(base[:, fit_idx][..., idx], base[:, test_idx][..., idx])
            acc = readout_accuracy(fit_readout(fit, y_fit, classes), test, y_test)
            out["retrain"][m, k] = normalise(acc, chance)
        raw_fit, raw_test = base[:, fit_idx][..., both], base[:, test_idx][..., both]
        fit, test = _zscore(raw_fit, raw_test)
        weights = fit_readout(fit, y_fit, classes)
        full = readout_accuracy(weights, test, y_test)
        offset = 0
        for m, idx in enumerate(units):
            ablated = raw_test.copy()
            ablated[..., offset:offset + idx.size] = 0.0
            offset += idx.size
            _, ablated = _zscore(raw_fit, ablated)
            lost = full - readout_accuracy(weights, ablated, y_test)
            out["ablate"][m, k] = np.where(full > chance, np.clip(lost / np.maximum(full - chance, 1e-12), 0, 1), 0)
    for m, idx in enumerate(units):
        states = base[..., idx]
        unrelated = _row_corr(states, np.roll(states, 1, axis=1))
        for k in range(2):
            if pairs == "class":
                shared = class_pair_corr(states, digits[:n, k])
            else:
                shared = _row_corr(states, same[k][..., idx])
            out["corr"][m, k] = normalise(shared, unrelated)
    return out
