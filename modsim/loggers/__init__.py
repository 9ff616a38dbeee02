"""Training loggers (`training.loggers`): mirror a run's training curves and checkpoint metrics to other tools
while it trains. One file per kind (`tensorboard.py`, `wandb.py`), registered in `modsim.registry.loggers`; a
plugin registers its own with `modsim.register_logger`.

A logger reads what the training loop already computed (every step's logged values, every checkpoint's
metrics) and writes only inside the run's folder (`modsim.store.layout.logger_dir`: `<run>/logs/<kind>`); it
draws no random number, so a run's numbers are the same with or without loggers. A logger that raises while
the run trains is turned off with a warning naming it: the run goes on. A logger whose package is missing
stops the run before anything is written (`check_loggers`), naming the field and the pip extra.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import registry
from ..errors import UserError
from ..store import layout

if TYPE_CHECKING:
    from ..spec import Spec
    from ..store.record import Provenance, StoredRun
    from ..spec.loggers import LoggerSpec


class LoggerWarning(UserWarning):
    """A logger failed (it is turned off for the rest of the run) or could not be closed."""


@dataclass(frozen=True)
class LoggerContext:
    """What a logger knows of the run it logs."""

    run: Path
    """The run's folder in the store."""
    name: str
    """The run's name."""
    directory: Path
    """Where this logger writes (`<run>/logs/<kind>`, created before the logger is built)."""
    spec_json: dict[str, Any]
    """The run's resolved spec (JSON), e.g. a tracker's config."""
    run_id: str
    """An id of the run that stays the same when it is resumed (16 hex digits; a new one when the run is
    started again from nothing)."""
    resumed_after: int | None
    """For a resumed run, the step its saved state was taken after (what the killed process logged past it is
    logged again from `resumed_after + 1`); None for a new run."""
    field: str
    """The logger's place in the spec (`training.loggers[0]`), for messages."""


class Logger:
    """Base of a training logger (`training.loggers`). Built as `Logger(spec, context)` when the run starts or
    resumes, before the first step; `log` receives every `spec.every`-th step's values (and the last step's),
    `log_metrics` every checkpoint's scalar metrics, `flush` each time the training log reaches the store,
    `close` the run's end. None of them may draw a random number or change the training state."""

    def __init__(self, spec: "LoggerSpec", context: LoggerContext):
        self.spec = spec
        """The logger's spec (its fields)."""
        self.context = context
        """The run it logs and where it writes."""

    def log(self, step: int, values: dict[str, float]) -> None:
        """One model step's logged values (loss terms, monitors, `total`), by name."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """The scalar held-out metrics of the checkpoint at model step `step`, by name."""

    def flush(self) -> None:
        """Bring the logger's files up to date: called whenever the run's training log reaches the store (every
        `training.log_every_seconds`, at checkpoints), so a reader of either sees the same steps."""

    def close(self, status: str, summary: dict[str, float] | None = None) -> None:
        """The run ended with `status` (finished, diverged, failed, interrupted); `summary`: its final numbers
        when it finished. Flush and release what the logger holds."""


def missing(spec: "Spec") -> list[str]:
    """One message for each logger of `spec` whose package is not installed ([] when all are), naming the field
    and the pip command."""
    problems = []
    for i, logger in enumerate(spec.training.loggers):
        needs = type(logger).requires
        if needs is None:
            continue
        module, extra = needs
        if importlib.util.find_spec(module) is None:
            problems.append(f"training.loggers[{i}]: the {logger.kind} logger needs the package `{module}`, which is "
                            f"not installed: pip install 'modsim[{extra}]' (or remove the logger)")
    return problems


def check_loggers(spec: "Spec") -> None:
    """UserError, before a run writes anything, when a logger of `spec` needs a package that is not installed
    (the spec itself validates without it)."""
    problems = missing(spec)
    if problems:
        raise UserError("; ".join(problems))


def run_id(provenance: "Provenance") -> str:
    """The run's logger id from its stored provenance: a hash of its name, start time and spec hash (the same
    after `modsim resume`, new when the run is started again)."""
    text = "|".join(str(value or "") for value in (provenance.name, provenance.started, provenance.spec_sha256))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def scalars(values: dict[str, Any]) -> dict[str, float]:
    """The scalar entries of `values` as floats (arrays, e.g. `r2_per_output`, are left out)."""
    return {name: float(value) for name, value in values.items() if np.ndim(value) == 0}


class TrainingLoggers:
    """The loggers of one run, as the training loop drives them: built by `open` once the run's start step is
    known, then fed every step and checkpoint, closed at the end. A logger that raises is turned off with a
    `LoggerWarning` (the run goes on)."""

    def __init__(self, spec: "Spec", record: "StoredRun"):
        self.spec = spec
        self.run = Path(record.path)
        self.record = record
        self.active: list[tuple[str, Logger]] = []
        """(field, logger) of every logger still on."""
        self.last = spec.training.steps
        """The run's last step (always logged, whatever a logger's `every`)."""

    def open(self, resumed_after: int | None) -> None:
        """Build every logger of the spec in its folder (`resumed_after`: see `LoggerContext`); UserError naming
        the field when its package is missing or it cannot start (those already built are closed)."""
        check_loggers(self.spec)
        name = self.record.name or self.run.name
        for i, logger_spec in enumerate(self.spec.training.loggers):
            field = f"training.loggers[{i}]"
            directory = layout.logger_dir(self.run, logger_spec.kind)
            directory.mkdir(parents=True, exist_ok=True)
            context = LoggerContext(self.run, name, directory, dict(self.record.spec_json),
                                    run_id(self.record.provenance), resumed_after, field)
            try:
                cls = registry.loggers.get(logger_spec.kind).implementation()
                self.active.append((field, cls(logger_spec, context)))
            except Exception as exc:
                self.close(layout.RunStatus.FAILED)
                raise UserError(f"{field}: the {logger_spec.kind} logger could not start ({type(exc).__name__}: "
                                f"{exc})") from exc

    def _guarded(self, entry: tuple[str, Logger], method: str, *args) -> None:
        """Call one logger; one that raises is turned off with a warning."""
        field, logger = entry
        try:
            getattr(logger, method)(*args)
        except Exception as exc:  # an auxiliary writer must not stop the training
            self.active = [other for other in self.active if other is not entry]
            warnings.warn(f"{field}: the {logger.spec.kind} logger failed ({type(exc).__name__}: {exc}); it is "
                          "turned off for the rest of the run, which goes on", LoggerWarning, stacklevel=3)
            try:
                logger.close(layout.RunStatus.FAILED)
            except Exception:
                pass

    def step(self, step: int, values: dict[str, float]) -> None:
        """One model step's values, to every logger whose `every` it falls on (and at the last step)."""
        for entry in list(self.active):
            if step % entry[1].spec.every == 0 or step == self.last:
                self._guarded(entry, "log", step, values)

    def metrics(self, step: int, metrics: dict[str, Any]) -> None:
        """One checkpoint's scalar metrics, to every logger."""
        if self.active:
            values = scalars(metrics)
            for entry in list(self.active):
                self._guarded(entry, "log_metrics", step, values)

    def flush(self) -> None:
        """Bring every logger's files up to date (the training log has just reached the store)."""
        for entry in list(self.active):
            self._guarded(entry, "flush")

    def close(self, status: str, summary: dict[str, Any] | None = None) -> None:
        """Close every logger; one that fails to close is reported as a `LoggerWarning`."""
        active, self.active = self.active, []
        for field, logger in active:
            try:
                logger.close(str(status), None if summary is None else scalars(summary))
            except Exception as exc:
                warnings.warn(f"{field}: the {logger.spec.kind} logger could not be closed ({type(exc).__name__}: "
                              f"{exc}); what it wrote before is kept", LoggerWarning, stacklevel=2)


__all__ = ["Logger", "LoggerContext", "LoggerWarning", "TrainingLoggers", "check_loggers", "missing", "run_id",
           "scalars"]
