"""The `wandb` logger: a Weights & Biases run (offline by default) whose files stay in `<run>/logs/wandb`
(wandb >= 0.19.10: `reinit="create_new"`, `x_disable_stats`)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from . import Logger, LoggerContext
from ..spec.loggers import WandbLoggerSpec
from ..store import layout, sweep_of

TRAIN_PREFIX = "train/"
"""Key prefix of the per-step training values (`train/total`, ...)."""
METRICS_PREFIX = "metrics/"
"""Key prefix of the checkpoint metrics (`metrics/q_cor`, ...)."""


def private_dirs(directory: Path, mode: str) -> dict[str, str]:
    """The wandb folders pointed inside the logger's `directory` unless the user's environment names them: its
    cache (the wandb service's logs), its data and artifact folders, and in offline and disabled modes its
    config folder (online runs keep the user's login settings)."""
    wanted = {"WANDB_CACHE_DIR": directory / ".cache", "WANDB_DATA_DIR": directory / ".data",
              "WANDB_ARTIFACT_DIR": directory / "artifacts"}
    if mode != "online":
        wanted["WANDB_CONFIG_DIR"] = directory / ".config"
    return {name: str(path) for name, path in wanted.items() if not os.environ.get(name)}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set these environment variables inside the block, then put back what was there."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class WandbLogger(Logger):
    """Logs `train/<term>` at every logged step and `metrics/<name>` at every checkpoint to a wandb run over the
    model step (the run's resolved spec as its config, its final numbers as its summary). The wandb run's id is
    the modsim run's logger id, so a resumed run continues it (offline: a second offline folder of the same id,
    which `wandb sync` merges). wandb's service is started with its cache, data and config folders inside the
    logger's folder (`private_dirs`) and, when this logger started it, stopped when the run ends, so nothing is
    written outside the store."""

    def __init__(self, spec: WandbLoggerSpec, context: LoggerContext):
        super().__init__(spec, context)
        import wandb
        from wandb.sdk import wandb_setup

        self._env = private_dirs(context.directory, spec.mode)
        self._owns_service = getattr(wandb_setup, "_singleton", None) is None
        """Whether this logger started wandb's service (then it stops it at `close`)."""
        settings = wandb.Settings(silent=True, console="off", x_disable_stats=True, save_code=False,
                                  disable_git=True)
        with environment(self._env):
            self.run = wandb.init(
                dir=str(context.directory), mode=spec.mode, id=context.run_id, resume="allow",
                project=spec.project or str(context.spec_json.get("name") or context.name), entity=spec.entity,
                name=context.name, group=_group(context.run), tags=list(spec.tags) or None,
                config=context.spec_json, settings=settings, reinit="create_new")  # a user's own run stays
        """The wandb run."""
        self._wandb = wandb

    def log(self, step: int, values: dict[str, float]) -> None:
        """The step's values as `train/<name>` at wandb step `step`."""
        self.run.log({TRAIN_PREFIX + name: value for name, value in values.items()}, step=int(step))

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """The checkpoint's metrics as `metrics/<name>` at wandb step `step`."""
        if metrics:
            self.run.log({METRICS_PREFIX + name: value for name, value in metrics.items()}, step=int(step))

    def close(self, status: str, summary: dict[str, float] | None = None) -> None:
        """Record the summary (a finished run), finish the wandb run (exit code 0 when it finished, 1 otherwise)
        and stop wandb's service when this logger started it."""
        with environment(self._env):
            if summary:
                self.run.summary.update(summary)
            self.run.finish(exit_code=0 if status == str(layout.RunStatus.FINISHED) else 1)
            if self._owns_service:
                self._wandb.teardown()


def _group(run: Path) -> str | None:
    """The wandb group of a sweep's run (its sweep store's name); None for a run of its own."""
    sweep = sweep_of(run)
    return None if sweep is None else sweep.name
