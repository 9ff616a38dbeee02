"""How a training run reports its progress (no torch: the command line imports it at start-up)."""

from __future__ import annotations

from typing import Callable

ProgressFn = Callable[[int, dict[str, float]], None]
"""Called after every training step with the step and its logged values."""


class TrainingProgress:
    """Receives a run's progress: every step's values (`step`), and the phases in which no step is taken
    (`phase`: warm-up, evaluation at a checkpoint, the final analysis). Subclass it to show both; a plain
    `ProgressFn` receives the steps only."""

    def step(self, step: int, values: dict[str, float]) -> None:
        """After every training step."""

    def phase(self, text: str) -> None:
        """Before a stretch of work that takes no step (`text` says what it is)."""


class _StepsOnly(TrainingProgress):
    def __init__(self, fn: ProgressFn):
        self.fn = fn

    def step(self, step: int, values: dict[str, float]) -> None:
        self.fn(step, values)


def as_progress(progress: TrainingProgress | ProgressFn | None) -> TrainingProgress:
    """A `TrainingProgress` for a progress object, a plain step callable, or None (nothing shown)."""
    if isinstance(progress, TrainingProgress):
        return progress
    return TrainingProgress() if progress is None else _StepsOnly(progress)


def in_notebook() -> bool:
    """Whether this process runs inside IPython or Jupyter (checked without importing IPython: a plain script
    that never imported it is not)."""
    import sys

    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        return ipython.get_ipython() is not None
    except Exception:  # an IPython too old or half-imported
        return False


UPDATE_SECONDS = 0.5
"""Most often the notebook progress redraws its line (tqdm has its own limit)."""


class NotebookProgress(TrainingProgress):
    """A compact progress line for notebooks and scripts (`modsim.run(..., progress=True)`, and by default inside
    IPython or Jupyter): a tqdm bar (`tqdm.auto`: a widget in Jupyter when ipywidgets is installed) with the
    step's total and task loss and the phase; without tqdm, one line redrawn through IPython's display, or
    printed about every 5% of the run outside IPython. `close` ends it."""

    def __init__(self, total: int, name: str = ""):
        self.total, self.name = int(total), name
        self.bar = None
        """The tqdm bar (None without tqdm)."""
        self.handle = None
        """IPython's display handle of the line (without tqdm, inside IPython)."""
        self.shown_at = 0.0
        self.every = max(1, self.total // 20)
        self.last: tuple[int, dict[str, float]] | None = None
        """The last step shown and its values."""
        self.phased = False
        """Whether the bar's description names a phase (put back to the name at the next step)."""
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        import warnings

        with warnings.catch_warnings():  # tqdm.auto warns when Jupyter lacks ipywidgets, then falls back to text
            warnings.simplefilter("ignore")
            self.bar = tqdm(total=self.total, desc=name, unit="step", dynamic_ncols=True, leave=True)

    @staticmethod
    def stats(values: dict[str, float]) -> str:
        """The step's total (and task) loss as short text."""
        shown = [f"{key}={values[key]:.4g}" for key in ("total", "task") if key in values]
        return " ".join(shown)

    def _line(self) -> str:
        step, values = self.last if self.last is not None else (0, {})
        return f"{self.name} step {step}/{self.total} {self.stats(values)}".strip()

    def step(self, step: int, values: dict[str, float]) -> None:
        """Advance the bar (or the line) to `step` with its losses."""
        import time

        self.last = (step, values)
        if self.bar is not None:
            if self.phased:
                self.bar.set_description_str(self.name, refresh=False)
                self.phased = False
            self.bar.update(step - self.bar.n)
            self.bar.set_postfix_str(self.stats(values), refresh=False)
            return
        now = time.monotonic()
        if in_notebook():
            if now - self.shown_at >= UPDATE_SECONDS or step == self.total:
                self.shown_at = now
                self._display(self._line())
        elif step % self.every == 0 or step == self.total:
            print(self._line(), flush=True)

    def phase(self, text: str) -> None:
        """Show the phase (warm-up, evaluating step N, final analysis) beside the run's name."""
        label = f"{self.name} ({text})" if self.name else text
        if self.bar is not None:
            self.bar.set_description_str(label)
            self.phased = True
        elif in_notebook():
            self._display(f"{label}: {self._line()}")

    def _display(self, text: str) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display(text, display_id=True)
        else:
            self.handle.update(text)

    def close(self) -> None:
        """End the bar (its last state stays shown)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def progress_for(progress: "bool | TrainingProgress | ProgressFn | None", total: int, name: str
                 ) -> tuple[TrainingProgress | ProgressFn | None, NotebookProgress | None]:
    """What `modsim.run` passes to training for its `progress` argument, and the `NotebookProgress` it must close
    (None when it made none): None shows a `NotebookProgress` inside IPython or Jupyter and nothing in a plain
    script, True always shows one, False nothing; a `TrainingProgress` or a step callable is used as given."""
    if progress is None:
        progress = in_notebook()
    if progress is True:
        shown = NotebookProgress(total, name)
        return shown, shown
    if progress is False:
        return None, None
    return progress, None
