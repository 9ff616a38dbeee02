"""`modsim watch RUN`: a run's loss and metric curves in the terminal, redrawn while it trains (from the store
alone: any process, any machine sharing the store), until it stops."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..errors import UserError
from ..store import layout
from .common import console, fmt, user_errors

SPARKS = "▁▂▃▄▅▆▇█"
"""The eight levels of a curve's characters, lowest first."""
LOG_RATIO = 100.0
"""A positive curve spanning this many times its smallest value is drawn on a log scale."""
FIRST_TRAIN_ROWS = ("total", "task")
"""Training values shown first (the rest follow in name order)."""
RETRIES = 5
"""Polls in a row that may fail to read a running run (a file being replaced) before watch gives up."""


def sparkline(values: np.ndarray, width: int) -> tuple[str, bool]:
    """`values` as a line of at most `width` block characters (the mean of each of `width` equal stretches when
    longer), scaled from their smallest to their largest finite value, on a log scale when they are positive and
    span LOG_RATIO times or more; missing and non-finite values are blanks. Returns the line and whether it is
    on a log scale."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or width < 1:
        return "", False
    values = np.where(np.isfinite(values), values, np.nan)
    if values.size > width:
        stretches = np.array_split(values, width)
        values = np.array([np.nan if np.isnan(s).all() else np.nanmean(s) for s in stretches])
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return " " * values.size, False
    log = bool(finite.min() > 0 and finite.max() >= LOG_RATIO * finite.min())
    scaled = np.log10(values) if log else values
    lo, hi = (np.log10(finite.min()), np.log10(finite.max())) if log else (finite.min(), finite.max())
    chars = []
    for v in scaled:
        if not np.isfinite(v):
            chars.append(" ")
        elif hi == lo:
            chars.append(SPARKS[len(SPARKS) // 2 - 1])
        else:
            chars.append(SPARKS[int(round((v - lo) / (hi - lo) * (len(SPARKS) - 1)))])
    return "".join(chars), log


def _ordered(names: list[str], first: tuple[str, ...] = ()) -> list[str]:
    return [n for n in first if n in names] + sorted(n for n in names if n not in first)


def _stat(values: np.ndarray, how) -> str:
    finite = values[np.isfinite(values)]
    return fmt(float(how(finite))) if finite.size else "n/a"


NUMBERS_WIDTH = 37
"""Characters the last, min and max columns and the gaps between columns take, about."""
LEAST_CURVE, MOST_CURVE = 10, 120
"""The narrowest and widest curve drawn, in characters."""
LEAST_NAME = 20
"""Characters a row's label keeps at least (a longer label wraps in a narrow terminal)."""


def curve_table(title: str, arrays: dict[str, np.ndarray], total: int, first: tuple[str, ...] = (),
                name: Callable[[str], str] = str) -> Table:
    """One row per array of `arrays` (but `step`): its label (`name` of its key), its curve over the steps, last,
    min and max, the table fitting `total` characters (the label wraps before the curve gets shorter than
    LEAST_CURVE)."""
    rows = []
    for key in _ordered([n for n in arrays if n != "step"], first):
        values = np.asarray(arrays[key], dtype=np.float64)
        if values.size and not np.isnan(values).all():
            rows.append((name(key), values))
    longest = max((len(text) for text, _ in rows), default=0) + len(" (log)")
    name_width = min(longest, max(LEAST_NAME, total - NUMBERS_WIDTH - LEAST_CURVE))
    width = max(LEAST_CURVE, min(MOST_CURVE, total - name_width - NUMBERS_WIDTH))
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, show_edge=False)
    table.add_column("", justify="left", max_width=name_width, overflow="fold")
    for column, justify in (("curve", "left"), ("last", "right"), ("min", "right"), ("max", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    for text, values in rows:
        line, log = sparkline(values, width)
        table.add_row(Text(text + (" (log)" if log else "")), Text(line), fmt(float(values[-1])),
                      _stat(values, np.min), _stat(values, np.max))
    return table


def train_label(key: str) -> str:
    """The label of a training value (`total` -> `total loss`, `mi_estimate` -> `mi MINE estimate`): the store's
    name of the array (`modsim.store.describe.long_name`)."""
    from ..store.describe import long_name

    return long_name(layout.TRAIN, key)


def metric_order(keys: list[str]) -> tuple[str, ...]:
    """The checkpoint metrics in the order run summaries list them (`labelled_keys`); the rest follow by key."""
    from ..analysis.summary import labelled_keys

    return tuple(k for k, _ in labelled_keys() if k in keys)


def render(state, width: int | None = None) -> Group:
    """The run's header line, its training curves over model steps and its metric curves over checkpoints, each
    row under its label (`modsim.labels.label`), never its stored key."""
    from ..labels import label, registered_labels

    total = console.width if width is None else width
    done = state.last_step
    share = f" ({100 * done / state.steps:.0f}%)" if state.steps else ""
    checkpoints = int(state.metrics["step"].size) if "step" in state.metrics else 0
    header = Text(f"{state.name}  {state.status}  step {done}/{state.steps}{share}  {checkpoints} checkpoint(s)")
    if state.message:
        header.append(f"  {state.message}")
    parts = [header]
    if state.train.get("step") is not None and state.train["step"].size:
        steps = state.train["step"]
        parts.append(curve_table(f"training, steps {int(steps[0])}-{int(steps[-1])}", state.train, total,
                                 FIRST_TRAIN_ROWS, train_label))
    else:
        parts.append(Text("no training step stored yet"))
    if state.metrics.get("step") is not None and state.metrics["step"].size:
        steps = ", ".join(str(int(s)) for s in state.metrics["step"][-6:])
        known = registered_labels()
        parts.append(curve_table(f"metrics at checkpoints (last: {steps})", state.metrics, total,
                                 metric_order(list(state.metrics)), lambda key: label(key, known)))
    return Group(*parts)


def progress_line(state) -> str:
    """One line for a log: the run, its status, its step and its last total and task loss."""
    values = ", ".join(f"{train_label(name)} {fmt(float(state.train[name][-1]))}" for name in FIRST_TRAIN_ROWS
                       if name in state.train and state.train[name].size)
    return f"{state.name} {state.status} step {state.last_step}/{state.steps}" + (f": {values}" if values else "")


def final_line(state) -> str:
    """What the run's final status means, with what to do about a stopped one."""
    text = f"{state.name}: {state.status}"
    if state.message:
        text += f" ({state.message})"
    if state.status in (layout.RunStatus.INTERRUPTED, layout.RunStatus.DEAD):
        text += f"; continue it with `modsim resume {state.path}`"
    return text


class _Poller:
    """Reads the run again, keeping the last good reading while a running run's file is being replaced."""

    def __init__(self, path: Path):
        from ..store.live import LiveReader

        self.reader = LiveReader(path)
        self.state = self.reader.read()
        self.failures = 0

    def poll(self):
        from ..errors import StoreCorrupt

        try:
            self.state = self.reader.read()
            self.failures = 0
        except (StoreCorrupt, OSError, ValueError):
            self.failures += 1
            if self.failures >= RETRIES:
                raise
        return self.state


def wait_for(path: Path, interval: float) -> None:
    """Return once something is at `path` (at once when it is): until a run appears there (`modsim run` creates
    it after compiling its task and network), say once that watch is waiting and look again every `interval`
    seconds. UserError when no run can appear there (`modsim.store.live.awaited`)."""
    from ..store.live import awaited

    if not awaited(path):
        return
    console.print(f"waiting for {path} to appear (Ctrl-C to stop)", highlight=False, soft_wrap=True)
    while True:
        time.sleep(interval)
        if not awaited(path):
            return


@click.command()
@click.argument("run_path", type=click.Path(file_okay=False))
@click.option("--interval", default=2.0, show_default=True, type=click.FloatRange(min=0.05),
              help="Seconds between readings of the run.")
@click.option("--once", is_flag=True, help="Print the curves once and exit, whatever the run's status.")
@user_errors
def watch(run_path: str, interval: float, once: bool) -> None:
    """Show the loss and metric curves of the run RUN_PATH in the terminal, redrawn every --interval seconds while
    it trains (the training log reaches the store every `training.log_every_seconds`); exit 0 with its final
    status once it stops (finished, diverged, failed, interrupted, or its process died). Started before the run
    exists (right after `modsim run`, in a second terminal), it waits for the run to appear in its store."""
    from ..execute import stored_run
    from ..store.reader import not_a

    path = Path(run_path)
    if once:
        if not (path.exists() or path.is_symlink()):
            raise UserError(f"{not_a(path, 'a run')} (without --once, watch waits for the run to appear)")
    else:
        wait_for(path, interval)
    stored_run(path)  # a sweep store or a leftover folder is refused with what it is
    poller = _Poller(path)
    state = poller.state
    if once:
        console.print(render(state), highlight=False)
        return
    if console.is_terminal:
        from rich.live import Live

        # no stdout redirection: the console writes to sys.stdout itself (`common.PipeSafeStream`)
        with Live(render(state), console=console, auto_refresh=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            while not state.done:
                time.sleep(interval)
                state = poller.poll()
                live.update(render(state), refresh=True)
    else:  # a log: the curves, a line at each new step, the final curves when the run has moved on meanwhile
        console.print(render(state), highlight=False)
        shown = followed = (state.last_step, state.status)
        while not state.done:
            time.sleep(interval)
            state = poller.poll()
            if (state.last_step, state.status) != shown:
                shown = (state.last_step, state.status)
                console.print(progress_line(state), highlight=False, soft_wrap=True)
        if shown != followed:
            console.print(render(state), highlight=False)
    console.print(final_line(state), highlight=False, soft_wrap=True)
